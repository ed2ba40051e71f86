package main

import (
	"strings"
	"testing"
)

// A sysctl step that fails before changing anything (the host's /etc/sysctl.d is read-only)
// leaves the host's state as it was: applied_at does not move and the next plan does not call
// the host changed since its last generation.
func TestAStepThatFailedBeforeChangingAnythingLeavesTheHostNotPendingOnLab(t *testing.T) {
	const host = "spark-01"
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, host)
	if code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-host", host); code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", code, out, stderr)
	}
	appliedAt := func() string {
		r := loadDirState(t, dir, "").Lookup(host, "sysctl.loading")
		if r == nil {
			t.Fatal("sysctl.loading is not in state")
		}
		return r.AppliedAt.String()
	}
	before := appliedAt()
	onHost(t, l, host, "mount --bind -o ro /etc/sysctl.d /etc/sysctl.d")
	t.Cleanup(func() { onHost(t, l, host, "umount /etc/sysctl.d") })

	code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-host", host, "-var", "swappiness=12")
	if code != 1 || !strings.Contains(stderr+out, "sysctl.loading: failed before changing anything") || !strings.Contains(stderr+out, "writing /etc/sysctl.d/90-sparkform-loading.conf failed") {
		t.Fatalf("apply onto a read-only /etc/sysctl.d: exit %d\n%s\n%s", code, out, stderr)
	}
	if got := onHost(t, l, host, "sysctl -n vm.swappiness"); got != "10" {
		t.Errorf("swappiness %s after the failed step, want 10 (unchanged)", got)
	}
	if after := appliedAt(); after != before {
		t.Errorf("applied_at moved from %s to %s though the step changed nothing", before, after)
	}
	_, out, stderr = cli(t, "plan", dir, "-host", host, "-var", "swappiness=12", "-json")
	if strings.Contains(out, `"host_pending"`) {
		t.Errorf("plan calls the host changed since its last generation:\n%s\n%s", out, stderr)
	}
}
