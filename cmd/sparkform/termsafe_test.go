package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/report"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

// evil is what a compromised host prints: clear the screen, move home, retitle the terminal,
// carriage-return over the line and an 8-bit CSI, then a newline that would start a fake plan line.
const evil = "x\x1b[2J\x1b[H\x1b]0;owned\x07\rFAKE\u009b31m\n  + kernel \"evil\" {"

func assertNoRawControl(t *testing.T, what, out string) {
	t.Helper()
	if strings.ContainsAny(out, "\x1b\x07\r\u009b") {
		t.Errorf("%s printed a raw control character from a host:\n%q", what, out)
	}
	if !strings.Contains(out, `\x1b[2J`) {
		t.Errorf("%s does not show the host's escape sequence escaped:\n%q", what, out)
	}
}

func TestHostStringsNeverReachTheTerminalRaw(t *testing.T) {
	ch := &engine.Change{Addr: "sysctl.t", Type: "sysctl", Name: "t", Diff: resources.Diff{
		Action:  resources.Update,
		Summary: evil,
		Fields:  []resources.FieldChange{{Path: `values["` + evil + `"]`, Before: evil, After: "1", Drift: true}},
	}}
	p := &engine.Plan{Warnings: []string{evil}, Hosts: []*engine.HostPlan{
		{Name: "spark-01", Address: "10.0.0.1", Kernel: evil, Changes: []*engine.Change{ch}},
		{Name: "spark-02", Address: "10.0.0.2", Error: "probe failed: " + evil},
	}}
	var b bytes.Buffer
	renderPlan(&b, p, style{})
	assertNoRawControl(t, "plan", b.String())
	if strings.Contains(b.String(), "\n  + kernel \"evil\" {") {
		t.Errorf("a host value started a line of the plan:\n%s", b.String())
	}

	b.Reset()
	view := newApplyView(&b, style{}, true, nil, nil)
	for _, kind := range []string{"apply_start", "apply_done", "apply_error", "progress", "reboot_start", "reboot_done", "host_failed", "test_start", "test_done", "host_done", "rollout_stopped", "rollout_batch"} {
		view.event(engine.Event{Host: "spark-01", Addr: "llama_cpp.x", Kind: kind, Message: evil, Hosts: []string{evil}})
	}
	view.close()
	assertNoRawControl(t, "apply progress", b.String())

	b.Reset()
	renderResult(&b, p, &engine.Result{Stopped: evil, Hosts: []*engine.HostResult{{Name: "spark-01", Status: engine.StatusFailed, Error: evil}}}, style{}, nil)
	assertNoRawControl(t, "apply result", b.String())

	b.Reset()
	errorf(&b, "%s: %v", "spark-01", evil)
	assertNoRawControl(t, "error message", b.String())

	b.Reset()
	if err := report.WriteTable(&b, []*report.Row{{Host: "spark-01", Kernel: evil, Mode: "mmap", Failed: 1, Message: evil}}); err != nil {
		t.Fatal(err)
	}
	assertNoRawControl(t, "report table", b.String())
}

// A host whose sysctl value holds escape sequences (the lab's /proc/sys/vm is a tmpfs, so anything
// can be written into it, as a compromised kernel or procfs could) must not rewrite the plan shown
// before the prompt.
func TestEscapeSequencesInAHostSysctlValueAreShownEscapedInThePlan(t *testing.T) {
	l := needLab(t)
	onHost(t, l, "spark-01", `printf 'a\033[2J\033]0;owned\007b' > /proc/sys/vm/swappiness`)
	t.Cleanup(func() { onHost(t, l, "spark-01", "echo 60 > /proc/sys/vm/swappiness") })
	dir := configDir(t, l, map[string]string{"main.hcl": `sysctl "dn" {
  values = { "vm.swappiness" = 10 }
}
`})
	code, out, stderr := cli(t, "plan", dir, "-host", "spark-01")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, stderr)
	}
	if strings.ContainsAny(out+stderr, "\x1b\x07") {
		t.Fatalf("plan printed the host's escape sequences raw:\n%q", out)
	}
	if !strings.Contains(out, `a\x1b[2J\x1b]0;owned\x07b -> 10`) {
		t.Fatalf("plan does not show the host value escaped:\n%s", out)
	}
}

func TestLooseStateDirectoryWarnsOnStderr(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	var b bytes.Buffer
	warnStateDir(state.NewStore(filepath.Join(dir, "sparkform.state.json")), &b)
	if !strings.Contains(b.String(), "Warning: the state directory "+dir+" is writable by everyone") {
		t.Fatalf("no warning: %q", b.String())
	}
	os.Chmod(dir, 0o755)
	b.Reset()
	warnStateDir(state.NewStore(filepath.Join(dir, "sparkform.state.json")), &b)
	if b.Len() != 0 {
		t.Fatalf("warning for a private directory: %q", b.String())
	}
}

// A host printing more than its max_output (here a 2 MiB file in /etc/sysctl.d against a 1 MiB
// bound) fails alone, with a message naming the probe and the bound; the other hosts are planned.
func TestHostPrintingPastMaxOutputFailsAloneNamingTheProbe(t *testing.T) {
	l := needLab(t)
	onHost(t, l, "spark-01", "head -c 1500000 /dev/zero | tr '\\0' '#' > /etc/sysctl.d/10-huge.conf")
	t.Cleanup(func() { onHost(t, l, "spark-01", "rm -f /etc/sysctl.d/10-huge.conf") })
	dir := configDir(t, l, map[string]string{"main.hcl": `sysctl "loading" {
  values = { "vm.swappiness" = 60 }
}
`})
	hosts, _ := os.ReadFile(filepath.Join(dir, "hosts.hcl"))
	bounded := strings.Replace(string(hosts), "host \"spark-01\" {\n", "host \"spark-01\" {\n  max_output = \"1MiB\"\n", 1)
	if bounded == string(hosts) {
		t.Fatalf("no spark-01 block in hosts.hcl:\n%s", hosts)
	}
	os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte(bounded), 0o644)
	code, out, stderr := cli(t, "plan", dir, "-host", "spark-01,spark-02")
	if code != 1 {
		t.Fatalf("plan: exit %d, want 1 (one host failed)\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out+stderr, "the probe of sysctl.loading printed too much") || !strings.Contains(out+stderr, "stdout is larger than 1MiB") {
		t.Errorf("the failure does not name the probe and the bound:\n%s\n%s", out, stderr)
	}
	if !regexp.MustCompile(`(?m)^\s+spark-02\s.*\schanges$`).MatchString(out) {
		t.Errorf("spark-02 was not planned:\n%s", out)
	}
}
