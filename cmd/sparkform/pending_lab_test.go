package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/internal/report"
)

// Ctrl-C after a host's change and before its smoke tests: the first interrupt lets the step in
// flight finish and starts nothing else, so the tests are pending. The next apply, with nothing
// left to change, runs them and records exactly one generation, and report files their results
// under that new generation, not the one before the interrupted apply.
func TestInterruptedApplyLeavesTestsPendingAndTheNextFilesThemUnderANewGeneration(t *testing.T) {
	l := needLab(t)
	resetHosts(t, "spark-01")
	buildLlamaByHand(t, "b6800", "spark-01")
	venv := "/opt/sparkform-pending"
	t.Cleanup(func() { onHost(t, l, "spark-01", "rm -rf "+venv+" "+venv+".sparkform-gens") })
	onHost(t, l, "spark-01", "rm -rf "+venv+" "+venv+".sparkform-gens")
	config := func(kb, more string) string {
		return `
readahead "nvme" {
  device = "nvme0n1"
  kb     = ` + kb + `
}
` + more + `
smoke_test "gpt-oss" {
  command  = "/opt/smoke-llama/build/bin/llama-server -m /models/gpt-oss-120b.gguf"
  modes    = ["mmap", "no-mmap"]
  repeat   = 3
  timeout  = "20s"
  baseline = false
}
`
	}
	// Generation 1: read-ahead 4096, tested.
	dir := configDir(t, l, map[string]string{"main.hcl": config("4096", "")})
	if code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-host", "spark-01"); code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", code, out, stderr)
	}
	// Then read-ahead 8192 and a venv; Ctrl-C while the venv is being built, after the read-ahead
	// change: the venv finishes, the tests do not run.
	writeFile(t, filepath.Join(dir, "main.hcl"), []byte(config("8192", `
python_venv "slow" {
  path       = "`+venv+`"
  packages   = ["fastsafetensors==0.3.2"]
  find_links = ["/srv/wheels"]
}
`)))
	var stdout, stderr lockedBuffer
	p := cliProcess("apply", dir, "-auto-approve", "-v", "-host", "spark-01")
	p.Stdout, p.Stderr = &stdout, &stderr
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	stdout.waitFor(t, "spark-01: python_venv.slow: creating...")
	p.Process.Signal(os.Interrupt)
	if ee, ok := p.Wait().(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("interrupted apply: want exit 1\n%s", stderr.String())
	}
	if got := onHost(t, l, "spark-01", "cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != "8192" {
		t.Fatalf("read-ahead %s after the interrupted apply: the test wants it changed before the interrupt", got)
	}
	// The totals count what happened before the interrupt (they once said "0 added, 0 changed").
	if !strings.Contains(stdout.String(), "Resources: 1 added, 1 changed, 0 destroyed, on 1 host.") {
		t.Errorf("the interrupted apply's totals do not count the read-ahead change and the venv:\n%s", stdout.String())
	}
	code, out, _ := cli(t, "plan", dir, "-detailed-exitcode", "-host", "spark-01")
	if code != 2 || !strings.Contains(out, "tests and generation pending on 1 host") {
		t.Fatalf("plan after the interrupt: exit %d, want 2 and the pending tests named\n%s", code, out)
	}
	code, out, errOut := cli(t, "apply", dir, "-auto-approve", "-host", "spark-01")
	if code != 0 || !strings.Contains(out, "spark-01: smoke_test.gpt-oss: mmap ") || !strings.Contains(out, "generation 2") {
		t.Fatalf("the next apply must run the pending tests and record generation 2: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = cli(t, "history", dir, "-json", "-host", "spark-01")
	if gens := ofType(checkJSONUI(t, out), "generation"); code != 0 || len(gens) != 2 {
		t.Errorf("two successful applies, two generations; got %d:\n%s", len(gens), out)
	}
	// report: generation 1's results ran at read-ahead 4096, generation 2's at 8192; each mode
	// has one row per generation with its three runs.
	code, out, errOut = cli(t, "report", dir, "-by", "host", "-format", "json", "-host", "spark-01")
	var rows []*report.Row
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		t.Fatalf("report: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[r.Mode+" gen "+itoa(r.Generation)+" ra "+r.ReadAhead] += r.Runs
	}
	want := map[string]int{"mmap gen 1 ra 4096": 3, "no-mmap gen 1 ra 4096": 3, "mmap gen 2 ra 8192": 3, "no-mmap gen 2 ra 8192": 3}
	if len(got) != len(want) {
		t.Errorf("report rows %v, want %v\n%s", got, want, out)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("report: %q has %d runs, want %d (all rows: %v)", k, got[k], n, got)
		}
	}
}
