package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// expandHosts undoes compactHosts for the checks below: spark-[01-02,05] -> spark-01 spark-02 spark-05.
func expandHosts(t *testing.T, list string) []string {
	t.Helper()
	var out []string
	for _, part := range regexp.MustCompile(`[^,\[]+(\[[^\]]*\])?`).FindAllString(list, -1) {
		prefix, ranges, ok := strings.Cut(part, "[")
		if !ok {
			out = append(out, part)
			continue
		}
		for _, r := range strings.Split(strings.TrimSuffix(ranges, "]"), ",") {
			a, b, _ := strings.Cut(r, "-")
			if b == "" {
				b = a
			}
			var lo, hi int
			if _, err := fmtSscan(a, &lo); err != nil {
				t.Fatalf("bad host list %q", list)
			}
			fmtSscan(b, &hi)
			for n := lo; n <= hi; n++ {
				out = append(out, prefix+zeroPad(n, len(a)))
			}
		}
	}
	return out
}

// The output of plan and apply at fleet scale, on real hosts: identical hosts shown once,
// one line per host per step with its time, tool output only in the per-host logs (and in the
// error's tail), -v streaming it.
func TestPlanAndApplyOutputIsGroupedConciseAndLogged(t *testing.T) {
	l := needLab(t)
	resetHosts(t, labHosts...)
	onHost(t, l, "spark-03", "sysctl -q -w vm.dirty_ratio=15")
	t.Cleanup(func() { onHost(t, l, "spark-03", "rm -rf /opt/sparkform-broken /opt/sparkform-broken.sparkform-gens") })
	dir := configDir(t, l, map[string]string{"main.hcl": tuning + `
python_venv "broken" {
  hosts      = ["spark-03"]
  path       = "/opt/sparkform-broken"
  packages   = ["nosuchpackage==1.0"]
  find_links = ["/srv/wheels"]
}
`})

	code, out, stderr := cli(t, "plan", dir)
	if code != 0 {
		t.Fatalf("plan: %d\n%s\n%s", code, out, stderr)
	}
	wantAll(t, "plan", out, "spark-[01-02] (2 hosts, kernel ", "spark-03 (", "HOSTS          COUNT", "spark-[01-02]      2    2       0        0  changes")
	if n := strings.Count(out, `+ sysctl "loading"`); n != 2 {
		t.Errorf("two groups, so two sysctl blocks; got %d:\n%s", n, out)
	}

	code, out, stderr = cli(t, "apply", dir, "-auto-approve")
	if code != 1 {
		t.Fatalf("apply with a broken venv on spark-03: exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	_, progress, _ := strings.Cut(out, "Plan: ")
	// Every step of every host is on exactly one line, with its time (steps of the same hosts
	// ending together share it: "spark-[01-02]: sysctl.loading, readahead.nvme: created").
	stepLine := regexp.MustCompile(`(?m)^(\S+): ((?:sysctl\.loading|readahead\.nvme)(?:, (?:sysctl\.loading|readahead\.nvme))*): created \((\d+\.\d{1,2}s|\d+s)\)$`)
	seen := map[string]int{}
	for _, m := range stepLine.FindAllStringSubmatch(progress, -1) {
		for _, h := range expandHosts(t, m[1]) {
			for _, a := range strings.Split(m[2], ", ") {
				seen[h+" "+a]++
			}
		}
	}
	for _, h := range labHosts {
		for _, step := range []string{"sysctl.loading", "readahead.nvme"} {
			if seen[h+" "+step] != 1 {
				t.Errorf("%s %s: %d lines, want 1:\n%s", h, step, seen[h+" "+step], out)
			}
		}
	}
	if !regexp.MustCompile(`(?m)^spark-03: python_venv\.broken: failed after [0-9.ms]+: `).MatchString(progress) {
		t.Errorf("no failure line for the broken venv:\n%s", out)
	}
	m := regexp.MustCompile(`(?m)^Logs: (.+)/ \(one file per host\)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no log directory named:\n%s", out)
	}
	logDir := m[1]
	if !strings.HasPrefix(logDir, filepath.Join(dir, ".sparkform", "logs", "apply-")) {
		t.Errorf("logs in %s, want under the configuration's .sparkform/logs", logDir)
	}
	for _, h := range labHosts {
		b, err := os.ReadFile(filepath.Join(logDir, h+".log"))
		if err != nil || !strings.Contains(string(b), "sysctl.loading: == apply_start create") {
			t.Errorf("%s log: %v\n%s", h, err, b)
		}
	}
	log03, _ := os.ReadFile(filepath.Join(logDir, "spark-03.log"))
	pipLine := regexp.MustCompile(`(?m)(No matching distribution|Could not find a version)[^\n]*`).FindString(string(log03))
	if pipLine == "" {
		t.Fatalf("spark-03's log lacks pip's error:\n%s", log03)
	}
	// Raw tool output is not streamed without -v, but the failed host's tail shows it.
	before, after, _ := strings.Cut(progress, "Error: spark-03")
	if strings.Contains(before, "Looking in links") {
		t.Errorf("pip output streamed without -v:\n%s", out)
	}
	if !strings.Contains(after, "last lines of "+filepath.Join(logDir, "spark-03.log")) || !strings.Contains(after, "│") {
		t.Errorf("the failed host's log tail is not shown:\n%s", out)
	}
	if !strings.Contains(out, "Apply finished with errors on 1 host. Resources: 6 added, 0 changed, 0 destroyed, on 3 hosts.") {
		t.Errorf("totals:\n%s", out)
	}

	// -json: one schema-valid stream, numbers as numbers.
	onHost(t, l, "spark-02", "sysctl -q -w vm.swappiness=60")
	code, out, _ = cli(t, "apply", dir, "-auto-approve", "-json", "-host", "spark-02")
	msgs := checkJSONUI(t, out)
	if done := ofType(msgs, "apply_complete"); code != 0 || len(done) != 1 {
		t.Errorf("apply -json: exit %d, %d apply_complete\n%s", code, len(done), out)
	} else if _, ok := done[0]["elapsed_seconds"].(float64); !ok {
		t.Errorf("elapsed_seconds is not a number: %v", done[0])
	}
	if r := ofType(msgs, "host_result"); len(r) != 1 || r[0]["status"] != "applied" {
		t.Errorf("host_result: %v", r)
	}

	// -v streams the tool output as before.
	onHost(t, l, "spark-01", "sysctl -q -w vm.swappiness=60")
	code, out, _ = cli(t, "apply", dir, "-auto-approve", "-v", "-host", "spark-01")
	if code != 0 || !strings.Contains(out, "spark-01: sysctl.loading: updating...") {
		t.Errorf("apply -v: exit %d\n%s", code, out)
	}
}

func fmtSscan(s string, n *int) (int, error) { return fmt.Sscan(s, n) }

func zeroPad(n, width int) string { return fmt.Sprintf("%0*d", width, n) }

// The quickstart's apply (examples/quickstart.sh: examples/spark-known-good with lab.sfvars on
// three fresh lab hosts: kernel with reboots, sysctl, read-ahead, venv, llama.cpp build, both
// smoke tests), on a terminal as the quickstart's user sees it, fits in 60 lines: the plan,
// every host's every step and test result, the log directory and the totals; the full tool
// output is in the per-host logs.
func TestQuickstartApplyFitsInSixtyLinesWithFullLogsOnDisk(t *testing.T) {
	l := ownLab(t, 3)
	files, varFile := knownGood(t)
	dir := configDir(t, l, files)
	t.Setenv("TERM", "xterm")
	m, tty := openPTYPair(t)
	cmd := cliProcess("apply", "-auto-approve", dir, "-var-file", varFile)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = tty, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds the terminal now: reading ends when it exits
	raw, _ := io.ReadAll(m)
	err := cmd.Wait()
	screen := terminalLines(string(raw))
	out := strings.Join(screen, "\n")
	t.Logf("quickstart apply: %d lines on the terminal\n%s", len(screen), out)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, stderr.String())
	}
	if len(screen) > 60 {
		t.Errorf("the quickstart apply printed %d lines, want at most 60", len(screen))
	}
	// Nothing a user needs is left out: every step of every host, each host's results of both
	// tests, the logs, the totals.
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^(\S+): ((?:[a-z_]+\.[a-z0-9-]+(?:, )?)+): (created|mmap)`).FindAllStringSubmatch(out, -1) {
		for _, h := range expandHosts(t, m[1]) {
			for _, a := range strings.Split(m[2], ", ") {
				seen[h+" "+a] = true
			}
		}
	}
	// Hosts whose tests all passed share a line: each mode's load time, or for several hosts
	// the range and median of their medians.
	tested := map[string]bool{}
	t1 := `( [0-9.]+s|( [0-9.]+s–[0-9.]+s \(median [0-9.]+s\)))`
	for _, m := range regexp.MustCompile(`(?m)^(\S+): smoke_test\.gpt-oss: mmap`+t1+`, no-mmap`+t1+`; smoke_test\.qwen3-next: default`+t1+`, eager`+t1+`, fastsafetensors`+t1+` \((medians|hosts' medians)\): passed`).FindAllStringSubmatch(out, -1) {
		for _, h := range expandHosts(t, m[1]) {
			tested[h] = true
		}
	}
	for _, h := range []string{"spark-01", "spark-02", "spark-03"} {
		for _, a := range []string{"kernel.nvidia", "sysctl.loading", "readahead.nvme", "python_venv.vllm", "llama_cpp.cuda", "smoke_test.gpt-oss"} {
			if !seen[h+" "+a] {
				t.Errorf("no line says %s %s", h, a)
			}
		}
		if !tested[h] {
			t.Errorf("%s: no line with both tests' results", h)
		}
	}
	if !strings.Contains(out, "Apply complete! Resources: 15 added, 0 changed, 0 destroyed, on 3 hosts, generation 1.") {
		t.Error("no totals")
	}
	logs := regexp.MustCompile(`(?m)^Logs: (.+)/ \(one file per host\)$`).FindStringSubmatch(out)
	if logs == nil {
		t.Fatal("no log directory named")
	}
	for _, h := range []string{"spark-01", "spark-02", "spark-03"} {
		b, err := os.ReadFile(filepath.Join(logs[1], h+".log"))
		log := string(b)
		for _, want := range []string{"Successfully installed", "[100%]", "apt-get"} {
			if !strings.Contains(log, want) {
				t.Errorf("%s's log (%v) lacks the tool output %q", h, err, want)
			}
		}
	}
}

// terminalLines is what a terminal shows of raw output, line by line: carriage returns rewrite
// the line (the status line), escapes are dropped.
func terminalLines(raw string) []string {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	esc := regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
	lines := strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
	for i, l := range lines {
		if j := strings.LastIndex(l, "\r"); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = esc.ReplaceAllString(l, "")
	}
	return lines
}
