package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// -target, -host (globs and comma lists), -exclude-host and -label on real hosts: each apply
// changes exactly the selected resources on exactly the selected hosts, says (as Terraform does)
// that a targeted apply may be incomplete, and plan then shows just what was left out.
func TestTargetAndHostSelectionApplyOnlyWhatTheySelectOnRealHosts(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, labHosts...)
	hostsFile := filepath.Join(dir, "hosts.hcl")
	hosts, err := os.ReadFile(hostsFile)
	if err != nil {
		t.Fatal(err)
	}
	// spark-01 and spark-02 in rack a, spark-03 in rack b.
	labelled := strings.Replace(string(hosts), `{ lab = "true" }`, `{ lab = "true", rack = "a" }`, 2)
	writeFile(t, hostsFile, []byte(strings.Replace(labelled, `{ lab = "true" }`, `{ lab = "true", rack = "b" }`, 1)))

	code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-target", "sysctl.loading", "-label", "rack=a")
	if code != 0 {
		t.Fatalf("apply -target sysctl.loading -label rack=a: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"Warning: Resource targeting is in effect", "Warning: Applied changes may be incomplete.", "sparkform plan "} {
		if !strings.Contains(out, want) {
			t.Errorf("targeted apply does not say %q:\n%s", want, out)
		}
	}
	code, out, stderr = cli(t, "apply", dir, "-auto-approve", "-target", "readahead.nvme", "-host", "spark-01,spark-0[3]")
	if code != 0 {
		t.Fatalf("apply -target readahead.nvme -host 'spark-01,spark-0[3]': exit %d\n%s\n%s", code, out, stderr)
	}
	if got := onHost(t, l, "spark-02", "cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != "128" {
		t.Errorf("spark-02 was not selected, yet its read-ahead is %s", got)
	}
	code, out, stderr = cli(t, "apply", dir, "-auto-approve", "-host", "spark-0*", "-exclude-host", "spark-0[13]", "-target", "readahead.nvme")
	if code != 0 {
		t.Fatalf("apply -host 'spark-0*' -exclude-host 'spark-0[13]': exit %d\n%s\n%s", code, out, stderr)
	}
	// On the hosts themselves: sysctl on rack a only, read-ahead everywhere.
	for h, want := range map[string]string{"spark-01": "10 8192", "spark-02": "10 8192", "spark-03": "60 8192"} {
		if got := onHost(t, l, h, "echo $(sysctl -n vm.swappiness) $(cat /sys/block/nvme0n1/queue/read_ahead_kb)"); got != want {
			t.Errorf("%s: swappiness and read-ahead %q, want %q", h, got, want)
		}
	}
	// What was left out is exactly what plan still has to do.
	code, out, _ = cli(t, "plan", dir, "-json", "-detailed-exitcode")
	var left []string
	for _, m := range ofType(checkJSONUI(t, out), "planned_change") {
		host, _ := m["host"].(map[string]any)
		change, _ := m["change"].(map[string]any)
		res, _ := change["resource"].(map[string]any)
		if change["action"] != "no-op" {
			left = append(left, host["name"].(string)+" "+res["addr"].(string))
		}
	}
	sort.Strings(left)
	if code != 2 || strings.Join(left, ", ") != "spark-03 sysctl.loading" {
		t.Errorf("plan after the selected applies: exit %d, changes %v, want only spark-03 sysctl.loading\n%s", code, left, out)
	}
}
