package main

import (
	"fmt"
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
	for _, want := range []string{"spark-[01-02] (2 hosts, kernel ", "spark-03 (", "HOSTS          COUNT", "spark-[01-02]      2    2       0        0  changes"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, `+ sysctl "loading"`); n != 2 {
		t.Errorf("two groups, so two sysctl blocks; got %d:\n%s", n, out)
	}

	code, out, stderr = cli(t, "apply", dir, "-auto-approve")
	if code != 1 {
		t.Fatalf("apply with a broken venv on spark-03: exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	_, progress, _ := strings.Cut(out, "Plan: ")
	// Every step of every host is on exactly one line, with its time.
	stepLine := regexp.MustCompile(`(?m)^(\S+): (sysctl\.loading|readahead\.nvme): created \((\d+\.\ds|\d+s)\)$`)
	seen := map[string]int{}
	for _, m := range stepLine.FindAllStringSubmatch(progress, -1) {
		for _, h := range expandHosts(t, m[1]) {
			seen[h+" "+m[2]]++
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
