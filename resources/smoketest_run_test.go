package resources

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The run script must work under dash (Debian/Ubuntu's sh), whose kill has no "--".
func TestSmokeRunScriptStopsTheWholeProcessGroupUnderDash(t *testing.T) {
	needProgram(t, "dash")
	// Wall-clock bounds only where they cannot be reached by a slow machine: a loaded 2-core
	// machine took over 1.5 s to print the ready line 0.3 s after the start, and this machine's
	// PID 1 reaps the killed group's orphans up to seconds late (the script waits for that,
	// up to 5 s). What the bound catches, lingering children holding the output open, hangs
	// for a day (their sleep).
	cases := []struct {
		name, ready, wantStatus string
		timeout                 time.Duration
	}{
		{"ready line seen", "server is listening on (http|unix)://", "ready", 30 * time.Second},
		{"never ready hits the timeout", "never printed", "timeout", 1500 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A "server" that prints the early trap line, the ready line, then lingers with a child.
			// The lingering sleeps carry a duration unique to this run, so that the pgrep below sees
			// only this test's processes, not those of another test binary running at the same time.
			linger := fmt.Sprintf("sleep %d", 100000+os.Getpid()%100000)
			argv := []string{"sh", "-c", "echo 'main: HTTP server is listening, hostname: 127.0.0.1'; sleep 0.3; echo 'main: server is listening on http://127.0.0.1:1 - starting the main loop'; " + linger + " & " + linger}
			script := smokeRunScript(smokeRunOpts{argv: argv, ready: c.ready, timeout: c.timeout})
			start := time.Now()
			out, err := exec.Command("dash", "-c", script).Output()
			if err != nil {
				t.Fatalf("script failed: %v", err)
			}
			if took := time.Since(start); took > c.timeout+time.Minute {
				t.Fatalf("took %s: the process group was not stopped", took)
			}
			run, err := parseSmokeRun(out)
			if err != nil {
				t.Fatal(err)
			}
			if run.status != c.wantStatus {
				t.Fatalf("status %q, want %q\n%s", run.status, c.wantStatus, out)
			}
			if c.wantStatus == "ready" && run.seconds < 0.25 {
				t.Errorf("ready after %.2f s; the early 'HTTP server is listening' line must not count", run.seconds)
			}
			if !strings.Contains(run.tail, "HTTP server is listening") {
				t.Errorf("tail lacks the output: %q", run.tail)
			}
			if o, _ := exec.Command("pgrep", "-f", linger).Output(); len(o) > 0 {
				exec.Command("pkill", "-f", linger).Run()
				t.Fatalf("processes of the server's group survived: %s", o)
			}
		})
	}
}

func runSmokeUnderDash(t *testing.T, o smokeRunOpts, env ...string) smokeRun {
	t.Helper()
	needProgram(t, "dash")
	cmd := exec.Command("dash", "-c", smokeRunScript(o))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script failed: %v\n%s", err, out)
	}
	run, err := parseSmokeRun(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return run
}

// A server that holds the default port must not make the test fail: the script appends
// --port N with a port no socket uses.
func TestSmokeRunPicksAFreePortAndPassesIt(t *testing.T) {
	argv := []string{"sh", "-c", `echo "args: $*"; echo 'server is listening on http://127.0.0.1'; sleep 300`, "server", "-m", "/models/m.gguf"}
	run := runSmokeUnderDash(t, smokeRunOpts{argv: argv, ready: defaultReadyPattern, timeout: 5 * time.Second, port: "pick"})
	if run.status != "ready" || run.via != "output" {
		t.Fatalf("status %q via %q\n%s", run.status, run.via, run.tail)
	}
	n, err := strconv.Atoi(run.port)
	if err != nil || n < 20000 || n > 31999 {
		t.Fatalf("picked port %q, want 20000-31999", run.port)
	}
	if want := fmt.Sprintf("args: -m /models/m.gguf --port %d", n); !strings.Contains(run.tail, want) {
		t.Errorf("server was not given the port: %q, want %q", run.tail, want)
	}
}

// port_used must see a listening socket, or the picked port could be one a server holds.
func TestSmokePortUsedSeesAListeningSocket(t *testing.T) {
	needProgram(t, "dash")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	fn := smokeRunSh[strings.Index(smokeRunSh, "port_used() {"):]
	fn = fn[:strings.Index(fn, "\n}\n")+3]
	for _, c := range []struct {
		port int
		want string
	}{{port, "used"}, {1, "free"}} {
		out, err := exec.Command("dash", "-c", fn+fmt.Sprintf("if port_used %d; then echo used; else echo free; fi", c.port)).Output()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("port %d: %q %v, want %s", c.port, out, err, c.want)
		}
	}
}

// Readiness by GET /health: a server whose output never matches is ready once the URL answers
// 200, polled with curl where the host has it and with bash's /dev/tcp where it does not.
func TestSmokeRunIsReadyWhenHealthAnswers200(t *testing.T) {
	ready := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ready:
		default:
			http.Error(w, `{"error":"Loading model"}`, http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	go func() { time.Sleep(700 * time.Millisecond); close(ready) }()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	// A PATH without curl: the same tools, minus curl.
	nocurl := t.TempDir()
	for _, tool := range []string{"bash", "grep", "date", "sleep", "setsid", "mktemp", "tail", "base64", "rm", "sync", "sh", "cat"} {
		if p, err := exec.LookPath(tool); err == nil {
			os.Symlink(p, filepath.Join(nocurl, tool))
		}
	}
	cases := []struct {
		name string
		env  []string
	}{{"with curl", nil}, {"without curl", []string{"PATH=" + nocurl}}}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if i == 0 {
				needProgram(t, "curl")
			}
			run := runSmokeUnderDash(t, smokeRunOpts{argv: []string{"sleep", "300"}, ready: "never printed", timeout: 8 * time.Second,
				port: port, health: "/health", healthHost: "127.0.0.1"}, c.env...)
			if run.status != "ready" || run.via != "health" || run.port != port {
				t.Fatalf("status %q via %q port %q, want ready via health on %s", run.status, run.via, run.port, port)
			}
			if run.seconds > 6 {
				t.Errorf("ready after %.2f s", run.seconds)
			}
		})
	}
}

func TestSmokeHealthHostFollowsTheCommandsHost(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"llama-server", "-m", "m"}, "127.0.0.1"},
		{[]string{"vllm", "serve", "m", "--host", "0.0.0.0"}, "127.0.0.1"},
		{[]string{"vllm", "serve", "m", "--host=10.0.0.5"}, "10.0.0.5"},
		{[]string{"llama-server", "--host", "::"}, "::1"},
	} {
		if got := healthHost(c.argv); got != c.want {
			t.Errorf("%v: %q, want %q", c.argv, got, c.want)
		}
	}
}

func TestSmokeRunRefusesANegativeOrAbsurdLoadTime(t *testing.T) {
	for _, ms := range []string{"-1", "-0", "1099511627777", "1e3"} {
		out := []byte("status timeout\nms " + ms + "\ntail c3RhcnRlZA==\n")
		if r, err := parseSmokeRun(out); err == nil {
			t.Errorf("ms %s: parsed as %v s, want an error", ms, r.seconds)
		}
	}
	if r, err := parseSmokeRun([]byte("status ready\nms 21873\nvia output\ntail c3RhcnRlZA==\n")); err != nil || r.seconds != 21.873 {
		t.Fatalf("ms 21873: %v, %v", r.seconds, err)
	}
}

// The run report is host output: a report missing its load time, repeating a line or holding a
// line the script cannot print is refused whole. Three "status ready" lines once passed the
// count of three lines and read as a 0 s load.
func TestSmokeRunRefusesAReportMissingARepeatedOrForeignLine(t *testing.T) {
	for _, out := range []string{
		"status ready\nstatus ready\nstatus ready\n",
		"status ready\nvia output\ntail \n",
		"status ready\nms 5\nms 7\nvia output\ntail \n",
		"status ready\nms 5\nvia output\nvia health\ntail \n",
		"status \x1b[2Jready\nms 5\nvia output\ntail \n",
		"status exited-x\nms 5\ntail \n",
		"status ready\nms 5\nvia mail\ntail \n",
		"status ready\nms 5\ntail \n",
		"status timeout\nms 5\nvia output\ntail \n",
		"status ready\nms 5\nvia output\nport 99999\ntail \n",
		"status ready\nms 5\nvia output\ntail %%%\n",
	} {
		if r, err := parseSmokeRun([]byte(out)); err == nil {
			t.Errorf("%q: accepted as %+v", out, r)
		}
	}
	for _, out := range []string{
		"status ready\nms 21873\nvia health\nport 8080\ntail c3RhcnRlZA==\n",
		"status exited-1\nms 12\nvia \nport \ntail \n",
		"status timeout\nms 600000\nvia \nport 20001\ntail c3RhcnRlZA==\n",
	} {
		if _, err := parseSmokeRun([]byte(out)); err != nil {
			t.Errorf("%q: %v", out, err)
		}
	}
}
