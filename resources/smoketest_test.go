package resources

import (
	"encoding/base64"
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

	"github.com/zclconf/go-cty/cty"
)

// The run script must work under dash (Debian/Ubuntu's sh), whose kill has no "--".
func TestSmokeRunScriptStopsTheWholeProcessGroupUnderDash(t *testing.T) {
	if _, err := exec.LookPath("dash"); err != nil {
		t.Skip("dash not installed")
	}
	cases := []struct {
		name, ready, wantStatus string
	}{
		{"ready line seen", "server is listening on (http|unix)://", "ready"},
		{"never ready hits the timeout", "never printed", "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A "server" that prints the early trap line, the ready line, then lingers with a child.
			// The lingering sleeps carry a duration unique to this run, so that the pgrep below sees
			// only this test's processes, not those of another test binary running at the same time.
			linger := fmt.Sprintf("sleep %d", 100000+os.Getpid()%100000)
			argv := []string{"sh", "-c", "echo 'main: HTTP server is listening, hostname: 127.0.0.1'; sleep 0.3; echo 'main: server is listening on http://127.0.0.1:1 - starting the main loop'; " + linger + " & " + linger}
			script := smokeRunScript(smokeRunOpts{argv: argv, ready: c.ready, timeout: 1500 * time.Millisecond})
			start := time.Now()
			out, err := exec.Command("dash", "-c", script).Output()
			if err != nil {
				t.Fatalf("script failed: %v", err)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("took %s: the process group was not stopped", time.Since(start))
			}
			run, err := parseSmokeRun(out)
			if err != nil {
				t.Fatal(err)
			}
			if run.status != c.wantStatus {
				t.Fatalf("status %q, want %q\n%s", run.status, c.wantStatus, out)
			}
			if c.wantStatus == "ready" && (run.seconds < 0.25 || run.seconds > 1.5) {
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

// Each load mode's flags come from the server's own --help: llama-server's (--no-mmap before
// the --load-mode option, which has dio) and vllm serve's (safetensors load strategy,
// fastsafetensors as a load format); a mode the server has no flag for is an error.
func TestSmokeLoadFlagsFollowTheServersHelp(t *testing.T) {
	llamaOld := "usage: llama-server\n  --no-mmap   do not memory-map model\n"
	llamaNew := "usage: llama-server\n  -lm, --load-mode {auto,none,mmap,mlock,mmap+mlock,dio}\n"
	vllmFull := "LoadConfig:\n  --load-format LOAD_FORMAT  \"auto\", \"safetensors\", \"fastsafetensors\"\n  --safetensors-load-strategy SAFETENSORS_LOAD_STRATEGY\n"
	vllmOld := "  --load-format {auto,pt,safetensors,npcache,dummy}\n"
	for _, c := range []struct {
		flagsOf          func(mode, help string) ([]string, error)
		mode, help, want string // want "error": the server has no flag for the mode
	}{
		{loadFlags, "no-mmap", llamaOld, "--no-mmap"},
		{loadFlags, "no-mmap", llamaNew, "--load-mode none"},
		{loadFlags, "mmap", llamaOld, ""},
		{loadFlags, "mmap", llamaNew, "--load-mode mmap"},
		{loadFlags, "dio", llamaNew, "--load-mode dio"},
		{loadFlags, "dio", llamaOld, "error"},
		{vllmFlags, "default", vllmFull, ""},
		{vllmFlags, "eager", vllmFull, "--safetensors-load-strategy eager"},
		{vllmFlags, "fastsafetensors", vllmFull, "--load-format fastsafetensors"},
		{vllmFlags, "eager", vllmOld, "error"},
		{vllmFlags, "fastsafetensors", vllmOld, "error"},
	} {
		got, err := c.flagsOf(c.mode, c.help)
		s := strings.Join(got, " ")
		if err != nil {
			s = "error"
		}
		if s != c.want {
			t.Errorf("%s with help %.30q: %q, want %q", c.mode, c.help, s, c.want)
		}
	}
}

func TestSmokeValidateRejectsShellInTheCommand(t *testing.T) {
	body := func(cmd string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"command": cty.StringVal(cmd), "ready": cty.NullVal(cty.String), "modes": cty.NullVal(cty.List(cty.String)),
			"drop_caches": cty.NullVal(cty.Bool), "repeat": cty.NullVal(cty.Number), "timeout": cty.NullVal(cty.String),
			"max_seconds": cty.NullVal(cty.DynamicPseudoType), "max_regression": cty.NullVal(cty.String), "on_failure": cty.NullVal(cty.String),
			"health": cty.NullVal(cty.String),
		})
	}
	for _, bad := range []string{"llama-server; rm -rf /", "llama-server $(id)", "a | b", "x > /etc/passwd", "a\nb", ""} {
		if errs := (SmokeTest{}).Validate(body(bad)); len(errs) == 0 || errs[0].Attr != "command" {
			t.Errorf("%q accepted", bad)
		}
	}
	if errs := (SmokeTest{}).Validate(body("/opt/llama/current/bin/llama-server -m /models/m.gguf -ngl 999")); len(errs) != 0 {
		t.Errorf("plain command rejected: %v", errs)
	}
}

func runSmokeUnderDash(t *testing.T, o smokeRunOpts, env ...string) smokeRun {
	t.Helper()
	if _, err := exec.LookPath("dash"); err != nil {
		t.Skip("dash not installed")
	}
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
	if _, err := exec.LookPath("dash"); err != nil {
		t.Skip("dash not installed")
	}
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
				if _, err := exec.LookPath("curl"); err != nil {
					t.Skip("curl not installed")
				}
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

func TestSmokeServerComesFromTheProgramOrTheServerAttribute(t *testing.T) {
	body := func(cmd, server string, modes ...string) cty.Value {
		m := cty.NullVal(cty.List(cty.String))
		if len(modes) > 0 {
			m = stringListVal(modes)
		}
		sv := cty.NullVal(cty.String)
		if server != "" {
			sv = cty.StringVal(server)
		}
		return cty.ObjectVal(map[string]cty.Value{"command": cty.StringVal(cmd), "modes": m, "server": sv,
			"ready": cty.NullVal(cty.String), "drop_caches": cty.NullVal(cty.Bool), "repeat": cty.NullVal(cty.Number),
			"timeout": cty.NullVal(cty.String), "max_seconds": cty.NullVal(cty.DynamicPseudoType),
			"max_regression": cty.NullVal(cty.String), "on_failure": cty.NullVal(cty.String), "health": cty.NullVal(cty.String)})
	}
	s, errs := parseSmoke(body("/opt/vllm/bin/vllm serve /models/q", "", "default", "eager", "fastsafetensors"))
	if len(errs) != 0 || s.server.name != "vllm" || s.ready != vllmReadyPattern || !s.needsFastsafetensors() {
		t.Errorf("vllm by its program name: %v %+v", errs, s)
	}
	if s, errs := parseSmoke(body("/opt/llama/bin/llama-server -m /m.gguf", "")); len(errs) != 0 || s.server.name != "llama.cpp" || s.ready != defaultReadyPattern {
		t.Errorf("llama-server: %v %+v", errs, s)
	}
	for _, c := range []struct {
		name, cmd, server string
		modes             []string
		attr, msg         string
	}{
		{"llama.cpp has no eager mode", "/opt/llama/bin/llama-server -m /m.gguf", "", []string{"eager"}, "modes", "llama.cpp modes are default, mmap, no-mmap or dio"},
		{"vLLM has no no-mmap mode", "/opt/vllm/bin/vllm serve /m", "", []string{"no-mmap"}, "modes", "vllm modes are default, eager or fastsafetensors"},
		{"vllm without serve", "/opt/vllm/bin/vllm /m", "", nil, "command", "runs `vllm serve MODEL ...`"},
		{"a load flag the modes set", "/opt/vllm/bin/vllm serve /m --load-format safetensors", "", nil, "command", "sets --load-format"},
		{"unknown server", "/opt/x/bin/tgi --model m", "tgi", nil, "server", `not "tgi"`},
	} {
		_, errs := parseSmoke(body(c.cmd, c.server, c.modes...))
		if len(errs) == 0 || errs[0].Attr != c.attr || !strings.Contains(errs[0].Msg, c.msg) {
			t.Errorf("%s: %v, want %s: %q", c.name, errs, c.attr, c.msg)
		}
	}
}

// The probe's sections are split on a random mark; help text cannot forge them, and versions
// are read in each server's own format.
func TestSmokeProbeOutputGivesHelpVersionAndFastsafetensors(t *testing.T) {
	mark := "sparkform-" + randomToken()
	out := "usage: vllm serve\n  --load-format LOAD_FORMAT fastsafetensors\nsparkform-fake version\n" +
		"\n" + mark + " version\nINFO 12-01 [__init__.py:216] Automatically detected platform cuda.\n0.11.0\n" +
		"\n" + mark + " fst\nfst ok " + base64.StdEncoding.EncodeToString([]byte("0.3.2\n")) + "\n"
	f := parseSmokeProbe(smokeServers["vllm"], out, mark)
	if !strings.Contains(f.help, "--load-format") || f.build != "0.11.0" || f.fst.state != "ok" || f.fst.detail != "0.3.2" {
		t.Errorf("%+v", f)
	}
	for in, want := range map[string]string{
		"version: 6800 (19a5a3ed)\nbuilt with cc for x86_64":  "6800 (19a5a3ed)",
		"version: 0.4.1-dev (build 10991, commit 19a5a3ed)\n": "0.4.1-dev (build 10991, commit 19a5a3ed)",
		"version: 6800 \x1b[31m(evil)\n":                      "6800 [31m(evil)",
		"no version here":                                     "",
	} {
		if got := llamaVersion(in); got != want {
			t.Errorf("llamaVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// The forum's complaint: 0.03 s against 0.03 s was called "28% slower" and rolled a kernel back.
// Below min_delta a difference is noise, whatever its percentage.
func TestSmokeRegressionNeedsMoreThanTheNoiseFloor(t *testing.T) {
	base := Baseline{Seconds: 0.03, N: 5, Kernel: "6.17.0-1014-nvidia"}
	cases := []struct {
		name     string
		seconds  float64
		minDelta time.Duration
		want     bool
	}{
		{"0.03 s vs 0.03 s is no regression", 0.03, 0, false},
		{"28% slower by 8 ms is noise under the default floor", 0.0385, defaultMinDelta, false},
		{"28% slower by 8 ms counts only without a floor", 0.0385, 0, true},
		{"ten times slower by 0.27 s is still under a 2 s floor", 0.3, 2 * time.Second, false},
		{"over both the percentage and the floor", 2.5, 2 * time.Second, true},
	}
	for _, c := range cases {
		s := smokeSpec{maxRegression: 0.2, minDelta: c.minDelta}
		if got := s.regressed(c.seconds, base); got != c.want {
			t.Errorf("%s: regressed = %v", c.name, got)
		}
	}
	big := Baseline{Seconds: 22, N: 3}
	if (smokeSpec{maxRegression: 0.2, minDelta: defaultMinDelta}).regressed(25, big) {
		t.Error("25 s against 22 s is 14%: under max_regression 20%")
	}
	if !(smokeSpec{maxRegression: 0.2, minDelta: defaultMinDelta}).regressed(27, big) {
		t.Error("27 s against 22 s is 23% and 5 s: a regression")
	}
	if (smokeSpec{minDelta: 0}).regressed(100, big) {
		t.Error("without max_regression nothing is a regression")
	}
}

// The plan's fastsafetensors check runs the venv's python only if nobody but root (or the login
// user) could have put it there (sf_untrusted); it reports what it found in one line.
func TestFstCheckRunsTheVenvsPythonOnlyWhenOnlyRootCanReplaceIt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check wants root-owned files")
	}
	if _, err := exec.LookPath("dash"); err != nil {
		t.Skip("dash not installed")
	}
	venv := filepath.Join(t.TempDir(), "venv")
	os.MkdirAll(filepath.Join(venv, "bin"), 0o755)
	os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644)
	python := filepath.Join(venv, "bin", "python")
	os.WriteFile(filepath.Join(venv, "bin", "vllm"), []byte("#!/bin/sh\n"), 0o755)
	check := func(program string) fstStatus {
		t.Helper()
		out, err := exec.Command("dash", "-c", trustLib+fstCheckSh+"fst_check "+program).Output()
		if err != nil {
			t.Fatalf("fst_check %s: %v", program, err)
		}
		return parseFstCheck(string(out))
	}
	os.WriteFile(python, []byte("#!/bin/sh\necho 0.3.2\n"), 0o755)
	if st := check(filepath.Join(venv, "bin", "vllm")); st.state != "ok" || st.detail != "0.3.2" {
		t.Errorf("root-owned venv that imports it: %+v", st)
	}
	os.WriteFile(python, []byte("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'fastsafetensors'\" >&2\nexit 1\n"), 0o755)
	if st := check(filepath.Join(venv, "bin", "vllm")); st.state != "error" || !strings.Contains(st.detail, "No module named 'fastsafetensors'") {
		t.Errorf("venv without it: %+v", st)
	}
	os.Chmod(filepath.Join(venv, "bin"), 0o775)
	if st := check(filepath.Join(venv, "bin", "vllm")); st.state != "untrusted" || st.detail != python {
		t.Errorf("group-writable bin: %+v", st)
	}
	os.Chmod(filepath.Join(venv, "bin"), 0o755)
	os.Chown(python, 1000, 1000)
	if st := check(filepath.Join(venv, "bin", "vllm")); st.state != "untrusted" || st.detail != python {
		t.Errorf("python owned by uid 1000: %+v", st)
	}
	if st := check("/bin/sh"); st.state != "novenv" {
		t.Errorf("a program outside any venv: %+v", st)
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

// The fastsafetensors check prints one of four results; anything else from the host is a failed
// check saying what it printed (bounded, printable), not a state kept raw in the observed value
// or taken as "not checked".
func TestFstCheckTakesAnUnknownResultAsAFailedCheck(t *testing.T) {
	st := parseFstCheck("fst \x1b]0;owned\x07" + strings.Repeat("x", 500) + " detail\n")
	if st.state != "error" || !strings.Contains(st.detail, "unknown result") || len(st.detail) > 100 || !printableASCII(st.detail) {
		t.Errorf("%+v", st)
	}
	if st := parseFstCheck("fst novenv\n"); st.state != "novenv" {
		t.Errorf("novenv: %+v", st)
	}
}
