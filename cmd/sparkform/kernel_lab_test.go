package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/lab"
)

func kernelConfig(l *lab.Lab, t *testing.T, body string) string {
	return configDir(t, l, map[string]string{"main.hcl": body})
}

func bootIDs(t *testing.T, l *lab.Lab, hosts ...string) map[string]string {
	out := map[string]string{}
	for _, h := range hosts {
		out[h] = onHost(t, l, h, "cat /proc/sys/kernel/random/boot_id")
	}
	return out
}

func TestKernelRolloutUpgradeDowngradeAndRollbackOnLab(t *testing.T) {
	l := ownLab(t, 3) // kernel changes stay in a lab of their own
	hosts := []string{"spark-01", "spark-02", "spark-03"}
	dir := kernelConfig(l, t, `
kernel "nvidia" {
  line           = "6.17"
  hold           = true
  reboot_timeout = "2m"
}
`)
	before := bootIDs(t, l, hosts...)
	code, out, _ := cli(t, "plan", dir, "-detailed-exitcode")
	if code != 2 || !containsSpaced(out, "# kernel.nvidia will be updated in-place: 6.11.0-1016-nvidia → 6.17.0-1014-nvidia (reboot required)") &&
		!containsSpaced(out, "# kernel.nvidia will be created: 6.11.0-1016-nvidia → 6.17.0-1014-nvidia (reboot required)") &&
		!containsSpaced(out, "6.11.0-1016-nvidia → linux-nvidia-6.17") {
		t.Fatalf("plan: %d\n%s", code, out)
	}
	code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-v")
	if code != 0 {
		t.Fatalf("apply 6.17: %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"rebooting into 6.17.0-1014-nvidia once", "waiting for the host to come back", "back after", "now running 6.17.0-1014-nvidia"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks progress %q:\n%s", want, out)
		}
	}
	after := bootIDs(t, l, hosts...)
	for _, h := range hosts {
		if got := onHost(t, l, h, "uname -r"); got != "6.17.0-1014-nvidia" {
			t.Errorf("%s runs %s after apply", h, got)
		}
		if after[h] == before[h] {
			t.Errorf("%s: boot_id unchanged: no reboot happened", h)
		}
	}
	if code, out, _ := cli(t, "plan", dir, "-detailed-exitcode"); code != 0 {
		t.Fatalf("plan after 6.17: %d\n%s", code, out)
	}

	// Declarative rollback: one line changes, plan shows the downgrade with a reboot.
	editMain(t, dir, `"6.17"`, `"6.14"`)
	code, out, _ = cli(t, "plan", dir, "-detailed-exitcode")
	if code != 2 || !strings.Contains(out, "6.17.0-1014-nvidia → 6.14.0-1015-nvidia") || !strings.Contains(out, "(reboot required)") {
		t.Fatalf("downgrade plan: %d\n%s", code, out)
	}
	mustApply(t, dir, "apply 6.14")
	for _, h := range hosts {
		if got := onHost(t, l, h, "uname -r"); got != "6.14.0-1015-nvidia" {
			t.Errorf("%s runs %s after the downgrade", h, got)
		}
	}
	// History has both generations; rollback returns to the previous one (6.17) with a reboot.
	code, out, _ = cli(t, "history", dir, "-host", "spark-01")
	if code != 0 || !strings.Contains(out, "line=6.17") || !strings.Contains(out, "line=6.14") {
		t.Fatalf("history: %d\n%s", code, out)
	}
	code, out, stderr = cli(t, "rollback", dir, "-auto-approve", "-host", "spark-01")
	if code != 0 || !strings.HasPrefix(out, "Rollback to generation 1.\n") {
		t.Fatalf("rollback: %d\n%s\n%s", code, out, stderr)
	}
	if got := onHost(t, l, "spark-01", "uname -r"); got != "6.17.0-1014-nvidia" {
		t.Errorf("spark-01 runs %s after rollback to generation 1", got)
	}
}

func TestKernelThatFailsToBootRollsBackAndStopsTheRollout(t *testing.T) {
	l := ownLab(t, 3) // kernel changes stay in a lab of their own
	// spark-01 gets the kernel that panics; the others the good one. One host per batch and
	// max_failures = 0: after spark-01 rolls back, no further batch starts.
	dir := kernelConfig(l, t, `
rollout {
  batch_size   = 1
  max_failures = 0
}

kernel "broken" {
  package        = "linux-image-6.17.0-1099-nvidia"
  hosts          = ["spark-01"]
  reboot_timeout = "2m"
}

kernel "good" {
  line  = "6.17"
  hosts = ["spark-02", "spark-03"]
}
`)
	code, out, stderr := cli(t, "apply", dir, "-auto-approve")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out+stderr, "spark-01: kernel.broken: rolled back: back on 6.11.0-1016-nvidia after 6.17.0-1099-nvidia failed to boot") {
		t.Errorf("no rollback report:\n%s\n%s", out, stderr)
	}
	if got := onHost(t, l, "spark-01", "uname -r"); got != "6.11.0-1016-nvidia" {
		t.Errorf("spark-01 runs %s, want the previous kernel", got)
	}
	if !strings.Contains(out, "Rollout: stopped after 1 failed host (max_failures 0): 2 hosts left untouched.") || !strings.Contains(out, "Untouched: spark-[02-03]") || strings.Contains(out, "rollout: rollout") {
		t.Errorf("the rollout must stop with spark-02 and spark-03 untouched:\n%s", out)
	}
	for _, h := range []string{"spark-02", "spark-03"} {
		if got := onHost(t, l, h, "uname -r"); got != "6.11.0-1016-nvidia" {
			t.Errorf("%s was changed although the rollout stopped: %s", h, got)
		}
	}
	st := loadDirState(t, dir, "")
	inc := st.Hosts["spark-01"].Incidents
	if len(inc) != 1 || inc[0].Kind != "rolled_back" {
		t.Errorf("state incidents of spark-01: %+v", inc)
	}
	if r := st.Hosts["spark-01"].Resources["kernel.broken"]; r != nil && !isNullValue(r.Attributes.Value) {
		t.Errorf("state claims the broken kernel was applied: %s", renderValue(r.Attributes.Value))
	}

	// Without max_failures the others of the batch finish: all three in one batch.
	editMain(t, dir, "batch_size   = 1\n  max_failures = 0", "batch_size = 3")
	code, out, stderr = cli(t, "apply", dir, "-auto-approve")
	if code != 1 || !strings.Contains(out+stderr, "spark-01: kernel.broken: rolled back: back on 6.11.0-1016-nvidia") {
		t.Fatalf("second apply: %d\n%s\n%s", code, out, stderr)
	}
	for _, h := range []string{"spark-02", "spark-03"} {
		if got := onHost(t, l, h, "uname -r"); got != "6.17.0-1014-nvidia" {
			t.Errorf("%s runs %s: the other hosts of the batch must finish", h, got)
		}
	}
}

func TestHostThatNeverComesBackFailsAfterRebootTimeout(t *testing.T) {
	l := ownLab(t, 2) // kernel changes stay in a lab of their own
	// The panicking kernel keeps spark-01 down longer than this reboot_timeout.
	dir := kernelConfig(l, t, `
kernel "broken" {
  package        = "linux-image-6.17.0-1099-nvidia"
  hosts          = ["spark-01"]
  reboot_timeout = "2s"
}

kernel "good" {
  line  = "6.17"
  hosts = ["spark-02"]
}
`)
	start := time.Now()
	code, out, stderr := cli(t, "apply", dir, "-auto-approve")
	if code != 1 || !strings.Contains(out+stderr, "spark-01") || !strings.Contains(out+stderr, "host did not come back after reboot into 6.17.0-1099-nvidia within 2s") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if took := time.Since(start); took > 60*time.Second {
		t.Errorf("apply took %s with a 2s reboot_timeout", took)
	}
	if got := onHost(t, l, "spark-02", "uname -r"); got != "6.17.0-1014-nvidia" {
		t.Errorf("spark-02 runs %s: it must not be affected", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.WaitUp(ctx, "spark-01"); err != nil {
		t.Fatal(err)
	}
}

func TestHostBackFromRebootWithAnotherHostKeyFailsAtOnceNotAtTheTimeout(t *testing.T) {
	l := ownLab(t, 1) // kernel changes stay in a lab of their own
	// The next boot's sshd serves a new key; the running one (OpenSSH re-execs with the config it
	// started with) keeps the old key until the reboot.
	fp := onHost(t, l, "spark-01", `k=/etc/ssh/ssh_host_ed25519_key_reinstalled
ssh-keygen -q -t ed25519 -N '' -f "$k" &&
sed -i "s|^HostKey .*|HostKey $k|" /etc/ssh/sshd_config.d/00-sparkform-lab.conf &&
ssh-keygen -l -f "$k.pub" | cut -d' ' -f2`)
	if !strings.HasPrefix(fp, "SHA256:") {
		t.Fatalf("fingerprint of the new key: %q", fp)
	}
	dir := kernelConfig(l, t, `
kernel "nvidia" {
  line           = "6.17"
  reboot_timeout = "5m"
}
`)
	start := time.Now()
	code, out, stderr := cli(t, "apply", dir, "-auto-approve")
	took := time.Since(start)
	for _, want := range []string{"spark-01", "host key mismatch", "server presented " + fp, l.KnownHostsPath()} {
		if code != 1 || !strings.Contains(out+stderr, want) {
			t.Errorf("exit %d, output lacks %q\n%s\n%s", code, want, out, stderr)
		}
	}
	if took > 2*time.Minute {
		t.Errorf("apply took %s: the refused key must end the wait, not the 5m reboot_timeout", took)
	}
}
