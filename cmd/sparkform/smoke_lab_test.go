package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/state"
)

// buildLlamaByHand builds the lab's llama.cpp stand-in at tag into /opt/smoke-llama on hosts,
// as an owner would by hand; the llama_cpp resource has its own tests.
func buildLlamaByHand(t *testing.T, tag string, hosts ...string) {
	l := needLab(t)
	for _, h := range hosts {
		onHost(t, l, h, "set -e; if [ ! -x /opt/smoke-llama/build/bin/llama-server ]; then rm -rf /opt/smoke-llama; git clone -q --branch "+tag+" /srv/git/llama.cpp.git /opt/smoke-llama; cmake -S /opt/smoke-llama -B /opt/smoke-llama/build >/dev/null; cmake --build /opt/smoke-llama/build --target llama-server >/dev/null; fi")
	}
}

// smokeConfig uses --port 0: lab hosts share the machine's loopback, where a fixed port would
// collide between hosts (on real Sparks each host has its own).
func smokeConfig(extra string) string {
	return `
sysctl "loading" {
  values = { "vm.swappiness" = 10 }
}

smoke_test "gpt-oss" {
  command     = "/opt/smoke-llama/build/bin/llama-server -m /models/gpt-oss-120b.gguf --port 0"
  modes       = ["mmap", "no-mmap"]
  repeat      = 3
  timeout     = "20s"
` + extra + `
}
`
}

func TestApplyRunsSmokeTestsInBothModesAndRecordsThem(t *testing.T) {
	l := needLab(t)
	hosts := []string{"spark-01", "spark-02"}
	resetHosts(t, hosts...)
	buildLlamaByHand(t, "b6800", hosts...)
	dir := configDir(t, l, map[string]string{"main.hcl": smokeConfig("")})
	code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-host", "spark-01", "-host", "spark-02")
	if code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "smoke_test.gpt-oss: no-mmap:") || !strings.Contains(out, "median of 3, passed") {
		t.Errorf("apply output does not show the test results:\n%s", out)
	}
	st, err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		modes := map[string]*state.TestRun{}
		for _, r := range st.Hosts[h].Tests {
			modes[r.Mode] = r
		}
		for _, m := range []string{"mmap", "no-mmap"} {
			r := modes[m]
			if r == nil || !r.Passed || len(r.Runs) != 3 || r.Seconds <= 0 || r.Kernel == "" || r.Generation == 0 || r.Context["sysctl.loading"] != "vm.swappiness=10" {
				t.Errorf("%s %s: result %+v", h, m, r)
			}
		}
		if got := onHost(t, l, h, "pgrep -x llama-server || true"); got != "" {
			t.Errorf("%s: server processes left behind: %s", h, got)
		}
	}
	// On demand: sparkform test records another round without changing anything.
	code, out, stderr = cli(t, "test", dir, "-host", "spark-01")
	if code != 0 || !strings.Contains(out, "2 results on 1 hosts") {
		t.Fatalf("test: %d\n%s\n%s", code, out, stderr)
	}
}

func TestSmokeTestFailuresNameHostModeFigureAndLeaveNoProcess(t *testing.T) {
	l := needLab(t)
	resetHosts(t, "spark-03")
	buildLlamaByHand(t, "b6800", "spark-03")
	cases := []struct {
		name  string
		extra string
		want  []string
	}{
		{"threshold that cannot be met", `max_seconds = { "no-mmap" = 0.001 }`, []string{"spark-03, mode no-mmap: load took", "over max_seconds 0.001", "server is listening on"}},
		{"server never ready is killed at the timeout", `ready = "this line is never printed"`, []string{"spark-03, mode mmap: the server did not become ready within 20s", "last output:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := configDir(t, l, map[string]string{"main.hcl": smokeConfig(c.extra)})
			code, out, stderr := cli(t, "test", dir, "-host", "spark-03")
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error lacks %q:\n%s", w, stderr)
				}
			}
			if got := onHost(t, l, "spark-03", "pgrep -x llama-server || true"); got != "" {
				t.Errorf("server processes left behind: %s", got)
			}
		})
	}
	t.Run("command that does not exist", func(t *testing.T) {
		dir := configDir(t, l, map[string]string{"main.hcl": strings.Replace(smokeConfig(""), "/opt/smoke-llama/build/bin/llama-server", "/opt/nowhere/llama-server", 1)})
		code, _, stderr := cli(t, "test", dir, "-host", "spark-03")
		if code != 1 || !strings.Contains(stderr, "spark-03") || !strings.Contains(stderr, "command not found on spark-03: /opt/nowhere/llama-server") {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
	})
}
