package resources

import (
	"os/exec"
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
			argv := []string{"sh", "-c", "echo 'main: HTTP server is listening, hostname: 127.0.0.1'; sleep 0.3; echo 'main: server is listening on http://127.0.0.1:1 - starting the main loop'; sleep 300 & sleep 300"}
			script := smokeRunScript(argv, c.ready, false, 1500*time.Millisecond)
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
			if o, _ := exec.Command("pgrep", "-f", "sleep 300").Output(); len(o) > 0 {
				exec.Command("pkill", "-f", "sleep 300").Run()
				t.Fatalf("processes of the server's group survived: %s", o)
			}
		})
	}
}

func TestSmokeLoadFlagsFollowTheBuildsHelp(t *testing.T) {
	old := "usage: llama-server\n  --no-mmap   do not memory-map model\n"
	newer := "usage: llama-server\n  -lm, --load-mode {auto,none,mmap,mlock,mmap+mlock,dio}\n"
	cases := []struct{ mode, help, want string }{
		{"no-mmap", old, "--no-mmap"},
		{"no-mmap", newer, "--load-mode none"},
		{"mmap", old, ""},
		{"mmap", newer, "--load-mode mmap"},
		{"dio", newer, "--load-mode dio"},
		{"dio", old, "error"},
	}
	for _, c := range cases {
		got, err := loadFlags(c.mode, c.help)
		s := strings.Join(got, " ")
		if err != nil {
			s = "error"
		}
		if s != c.want {
			t.Errorf("%s with %q: %q, want %q", c.mode, c.help[:20], s, c.want)
		}
	}
}

func TestSmokeValidateRejectsShellInTheCommand(t *testing.T) {
	body := func(cmd string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"command": cty.StringVal(cmd), "ready": cty.NullVal(cty.String), "modes": cty.NullVal(cty.List(cty.String)),
			"drop_caches": cty.NullVal(cty.Bool), "repeat": cty.NullVal(cty.Number), "timeout": cty.NullVal(cty.String),
			"max_seconds": cty.NullVal(cty.DynamicPseudoType), "max_regression": cty.NullVal(cty.String), "on_failure": cty.NullVal(cty.String),
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
