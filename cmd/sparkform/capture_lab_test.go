package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// hostFingerprint is what must not change when a host is captured: every file under /etc,
// /boot, /opt and the dpkg database, the boot, the sysctl values and read-ahead capture reads.
const hostFingerprint = `{ find /etc /boot /opt /var/lib/dpkg /var/lib/apt/extended_states -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum;
  find /etc /boot /opt -xdev -print 2>/dev/null | sort;
  cat /proc/sys/kernel/random/boot_id; uname -r;
  sysctl -n vm.swappiness vm.dirty_ratio vm.dirty_background_ratio vm.dirty_bytes vm.max_map_count vm.min_free_kbytes vm.overcommit_memory;
  cat /sys/block/nvme*/queue/read_ahead_kb; apt-mark showhold; } | sha256sum`

// handTuning is what the owner of a Spark does by hand over ssh (before a reboot).
const handTuning = `set -e; export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q linux-nvidia-6.17 >/dev/null 2>&1
grub-set-default 'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.17.0-1014-nvidia'
printf 'vm.swappiness = 10\nvm.dirty_ratio = 10\nvm.max_map_count = 1048576\n' > /etc/sysctl.d/99-tuned.conf
printf 'ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="nvme0n1", ATTR{queue/read_ahead_kb}="8192"\n' > /etc/udev/rules.d/99-readahead.rules
python3 -m venv /opt/venv
/opt/venv/bin/pip install -q --no-index --find-links /srv/wheels fastsafetensors==0.1.10
`

// TestCaptureReproducesHandTunedHostOnLab is issue 7's "Done when": a host tuned by hand over
// ssh → capture → the file applied to two fresh hosts → plan over all three shows no changes.
func TestCaptureReproducesHandTunedHostOnLab(t *testing.T) {
	l := ownLab(t, 3) // of its own: the test reboots hosts into another kernel
	start := time.Now()
	tuned := "spark-01"

	// 1. Tune spark-01 by hand: kernel line + GRUB default + reboot, sysctls live and in a file
	// of their own, read-ahead live and by udev rule, a venv from the wheelhouse.
	onHostWithin(t, l, tuned, handTuning, 5*time.Minute) // apt, a kernel package, a venv: minutes under load
	before := onHost(t, l, tuned, "cat /proc/sys/kernel/random/boot_id")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l.SSH(ctx, tuned, "root", "reboot") // the connection may drop: the reboot is checked below
	for {
		if err := l.WaitUp(ctx, tuned); err != nil {
			t.Fatal(err)
		}
		if out, _, err := l.SSH(ctx, tuned, "root", "cat /proc/sys/kernel/random/boot_id"); err == nil && strings.TrimSpace(out) != before {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	onHost(t, l, tuned, "sysctl -q -w vm.swappiness=10 vm.dirty_ratio=10 vm.max_map_count=1048576; echo 8192 > /sys/block/nvme0n1/queue/read_ahead_kb")
	if got := onHost(t, l, tuned, "uname -r"); got != "6.17.0-1014-nvidia" {
		t.Fatalf("hand-tuned host runs %s after its reboot", got)
	}
	t.Logf("hand tuning done after %s", time.Since(start).Round(time.Second))

	// 2. Capture it through its host block: nothing on the host changes.
	cfgDir := configDir(t, l, nil)
	fp := onHost(t, l, tuned, hostFingerprint)
	capFile := filepath.Join(t.TempDir(), "captured.hcl")
	code, out, stderr := cli(t, "capture", tuned, "-dir", cfgDir, "-venv", "/opt/venv", "-o", capFile)
	if code != 0 {
		t.Fatalf("capture: %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "\n  - smoke_test: not captured: ") || strings.Contains(out, "not captured: smoke_test") {
		t.Errorf("capture's notes say 'not captured' once each:\n%s", out)
	}
	if after := onHost(t, l, tuned, hostFingerprint); after != fp {
		t.Fatal("capture changed the host (files under /etc, /boot, /opt, dpkg, boot_id, sysctl or read-ahead)")
	}
	captured := readFile(t, capFile)
	t.Logf("captured:\n%s", captured)
	for _, want := range []string{"from spark-01", `kernel "nvidia"`, `line = "6.17"`, `sysctl "loading"`, `"vm.swappiness"`, `"vm.max_map_count" = 1048576`,
		`readahead "nvme0n1"`, "kb = 8192", `python_venv "venv"`, `path = "/opt/venv"`, `"fastsafetensors==0.1.10"`, "smoke_test: not captured", "find_links"} {
		if !containsSpaced(captured, want) {
			t.Errorf("captured file lacks %q", want)
		}
	}
	if strings.Contains(captured, "\nhost \"") || strings.Contains(captured, `readahead "nvme1n1"`) {
		t.Errorf("captured file has a host block or the untuned disk")
	}

	// The same host reached directly (user@address) gives the same blocks; a wrong host key is refused.
	h1, _ := l.Host(tuned)
	code, direct, stderr := cli(t, "capture", "root@"+h1.Address, "-identity-file", l.KeyPath(), "-known-hosts", l.KnownHostsPath(), "-venv", "/opt/venv")
	if code != 0 || !strings.Contains(direct, `python_venv "venv"`) || !strings.Contains(direct, `line = "6.17"`) {
		t.Fatalf("direct capture: %d\n%s\n%s", code, direct, stderr)
	}
	h2, _ := l.Host("spark-02")
	var wrong []string
	for _, line := range strings.Split(readFile(t, l.KnownHostsPath()), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == h2.Address {
			wrong = append(wrong, h1.Address+" "+f[1]+" "+f[2]) // spark-02's key under spark-01's address
		}
	}
	if len(wrong) == 0 {
		t.Fatalf("no known_hosts line for %s in %s", h2.Address, l.KnownHostsPath())
	}
	badKH := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, badKH, []byte(strings.Join(wrong, "\n")+"\n"))
	code, out, stderr = cli(t, "capture", "root@"+h1.Address, "-identity-file", l.KeyPath(), "-known-hosts", badKH)
	if code != 1 || !strings.Contains(stderr, "host key mismatch") || out != "" {
		t.Fatalf("capture with a wrong known host key: exit %d\n%s\n%s", code, out, stderr)
	}

	// 3. The file (plus the lab's wheelhouse for the venv) beside the lab's host blocks: valid,
	// applied to the two fresh hosts, then plan over all three shows no changes.
	f, diags := hclwrite.ParseConfig([]byte(captured), "captured.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, b := range f.Body().Blocks() {
		if b.Type() == "python_venv" {
			b.Body().SetAttributeValue("find_links", cty.ListVal([]cty.Value{cty.StringVal("/srv/wheels")}))
		}
	}
	dir := configDir(t, l, map[string]string{"captured.hcl": string(f.Bytes())})
	if code, out, stderr := cli(t, "validate", dir); code != 0 {
		t.Fatalf("validate: %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = cli(t, "apply", dir, "-auto-approve", "-host", "spark-02", "-host", "spark-03")
	if code != 0 {
		t.Fatalf("apply to the fresh hosts: %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("applied to spark-02, spark-03 after %s", time.Since(start).Round(time.Second))
	for _, h := range []string{"spark-02", "spark-03"} {
		got := onHost(t, l, h, "uname -r; sysctl -n vm.swappiness vm.dirty_ratio vm.max_map_count; cat /sys/block/nvme0n1/queue/read_ahead_kb; /opt/venv/bin/python -c 'import fastsafetensors as f; print(f.__version__)'")
		if want := "6.17.0-1014-nvidia\n10\n10\n1048576\n8192\n0.1.10"; got != want {
			t.Errorf("%s after apply:\n%s\nwant\n%s", h, got, want)
		}
	}
	code, out, stderr = cli(t, "plan", dir, "-detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan over all three hosts: exit %d, want 0 and no changes\n%s\n%s", code, out, stderr)
	}
	t.Logf("done in %s", time.Since(start).Round(time.Second))
}

// A sysctl set live only (no boot configuration file keeps it) is captured, as read-ahead set
// live only is, and the comment says so instead of calling it the kernel's default.
func TestCaptureOfASysctlSetLiveOnlySaysSoOnLab(t *testing.T) {
	l := needLab(t)
	onHost(t, l, "spark-02", "sysctl -q -w vm.dirty_background_ratio=7")
	t.Cleanup(func() { onHost(t, l, "spark-02", "sysctl -q -w vm.dirty_background_ratio=10") })
	capFile := filepath.Join(t.TempDir(), "captured.hcl")
	code, out, stderr := cli(t, "capture", "spark-02", "-dir", configDir(t, l, nil), "-sysctl", "vm.dirty_background_ratio", "-o", capFile)
	if code != 0 {
		t.Fatalf("capture: %d\n%s\n%s", code, out, stderr)
	}
	// Comments wrap where the line is full: compare words, without the comment marks.
	got := strings.Join(strings.Fields(strings.ReplaceAll(readFile(t, capFile), "\n#", "\n")), " ")
	for _, want := range []string{`"vm.dirty_background_ratio" = 7`, "vm.dirty_background_ratio = 7: set live only (no boot configuration file keeps it; the kernel's default is 10)"} {
		if !strings.Contains(got, want) {
			t.Errorf("capture lacks %q:\n%s", want, readFile(t, capFile))
		}
	}
	if strings.Contains(got, "7 is the kernel's default") || !strings.Contains(out, " from spark-02 (") {
		t.Errorf("capture:\n%s\n%s", out, readFile(t, capFile))
	}
}
