package resources

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/lab"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// The kernel lab test runs its own one-host lab (on a subnet in 40-49, see resLabSubnets): it
// reboots its host, which other resources' tests sharing a lab would not expect.

type kernelLab struct {
	t    *testing.T
	l    *lab.Lab
	host string
	h    *provider.SSHHost
}

func newKernelLab(t *testing.T) *kernelLab {
	t.Helper()
	start := time.Now()
	l := lab.UpForTest(t, kernelLabSubnets, kernelLabSubnets+10, 1)
	t.Logf("lab up in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := &kernelLab{t: t, l: l, host: "spark-01"}
	hi, err := l.Host(k.host)
	if err != nil {
		t.Fatal(err)
	}
	k.h, err = provider.Dial(ctx, provider.Config{Name: k.host, Address: hi.Address, Port: hi.Port, User: "root",
		IdentityFile: l.KeyPath(), KnownHosts: l.KnownHostsPath(), SSHConfig: "none", ProxyJump: "none"})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { k.h.Close() })
	return k
}

// sh runs a script on the host and returns stdout and the exit code.
func (k *kernelLab) sh(script string) (string, int) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := k.h.Run(ctx, script)
	if err != nil {
		k.t.Fatalf("%q: %v", script, err)
	}
	return strings.TrimSpace(string(res.Stdout)), res.ExitCode
}

func (k *kernelLab) must(script string) string {
	k.t.Helper()
	out, rc := k.sh(script)
	if rc != 0 {
		k.t.Fatalf("%q exited %d: %s", script, rc, out)
	}
	return out
}

// plan probes as the engine does (subshell, stdin /dev/null, LC_ALL=C), then Read and Diff.
func (k *kernelLab) plan(in Instance) (cty.Value, Diff) {
	k.t.Helper()
	start := time.Now()
	out, rc := k.sh("export LC_ALL=C\n(\n" + kernel{}.Probe(in) + "\n) </dev/null\n")
	if rc != 0 {
		k.t.Fatalf("probe exited %d: %s", rc, out)
	}
	obs, err := kernel{}.Read(in, []byte(out))
	if err != nil {
		k.t.Fatalf("read: %v", err)
	}
	obs = roundTrip(k.t, obs)
	d, err := kernel{}.Diff(in, obs)
	if err != nil {
		k.t.Fatalf("diff: %v", err)
	}
	k.t.Logf("plan %s (%s): %s %q reboot=%v fields=%+v", in.Addr(), time.Since(start).Round(time.Millisecond), d.Action, d.Summary, d.RequiresReboot, d.Fields)
	return obs, d
}

func (k *kernelLab) apply(in Instance, obs cty.Value, d Diff) Prior {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	var lines int
	pr, err := kernel{}.Apply(ctx, k.h, in, obs, d, func(string) { lines++ })
	if err != nil {
		k.t.Fatalf("apply: %v", err)
	}
	k.t.Logf("apply %s: %s, %d progress lines", in.Addr(), time.Since(start).Round(time.Millisecond), lines)
	return Prior{Attributes: roundTrip(k.t, pr.Attributes), Original: roundTrip(k.t, pr.Original)}
}

func (k *kernelLab) bootID() string {
	k.t.Helper()
	return k.must("cat /proc/sys/kernel/random/boot_id")
}

// reboot reboots the host as `reboot` would, waits for SSH, reconnects, and returns the new
// kernel, failing unless the boot_id changed.
func (k *kernelLab) reboot() string {
	k.t.Helper()
	before := k.bootID()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	if err := k.l.Reboot(ctx, k.host); err != nil {
		k.t.Fatalf("reboot: %v", err)
	}
	if err := k.l.WaitUp(ctx, k.host); err != nil {
		k.t.Fatalf("wait up: %v", err)
	}
	if err := k.h.Reconnect(ctx); err != nil {
		k.t.Fatalf("reconnect: %v", err)
	}
	after := k.bootID()
	if after == before || len(after) != 36 {
		k.t.Fatalf("boot_id %q after the reboot (before %q): not a new boot", after, before)
	}
	kv := k.must("uname -r")
	k.t.Logf("rebooted in %s: running %s", time.Since(start).Round(time.Millisecond), kv)
	return kv
}

func (k *kernelLab) grubEnv() map[string]string {
	k.t.Helper()
	return parseGrubEnv(k.must("grub-editenv /boot/grub/grubenv list"))
}

func (k *kernelLab) prepare(in Instance, pr Prior) BootPlan {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bp, err := kernel{}.PrepareBoot(ctx, k.h, in, pr)
	if err != nil {
		k.t.Fatalf("PrepareBoot: %v", err)
	}
	env := k.grubEnv()
	if env["next_entry"] != bp.Entry {
		k.t.Fatalf("next_entry %q, want the new entry %q", env["next_entry"], bp.Entry)
	}
	if !strings.Contains(env["saved_entry"], "gnulinux-"+bp.PreviousKernel+"-advanced-") {
		k.t.Fatalf("saved_entry %q must stay on the previous kernel %s by id", env["saved_entry"], bp.PreviousKernel)
	}
	return bp
}

func (k *kernelLab) confirm(in Instance, pr Prior, bp BootPlan) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := (kernel{}).ConfirmBoot(ctx, k.h, in, pr, bp); err != nil {
		k.t.Fatalf("ConfirmBoot: %v", err)
	}
	if env := k.grubEnv(); env["saved_entry"] != bp.Entry {
		k.t.Fatalf("saved_entry %q after ConfirmBoot, want %q", env["saved_entry"], bp.Entry)
	}
}

func installedImages(k *kernelLab) string {
	return k.must(`dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'linux-image-[0-9]*' | awk '$1 == "ii" {print $2}'`)
}

// TestKernelLabUpgradeDowngradeFallbackHoldPinDestroy drives one lab host through the kernel
// resource's life: 6.11 → 6.17 (try-once boot, confirm, stays after another reboot), hold and
// pin block the HWE line, 6.17 → 6.14 downgrade, a kernel that fails to boot falls back to the
// saved default by itself, and removing the block releases holds and pin without touching kernels.
func TestKernelLabUpgradeDowngradeFallbackHoldPinDestroy(t *testing.T) {
	k := newKernelLab(t)
	total := time.Now()
	if kv := k.must("uname -r"); kv != lab.StockKernel {
		t.Fatalf("fresh host runs %s, want the stock %s", kv, lab.StockKernel)
	}

	// A host whose GRUB does not use the saved default (Ubuntu's stock GRUB_DEFAULT=0, and the
	// lab's saved_entry=0 means "entry 0", i.e. the newest kernel): PrepareBoot must switch to
	// saved mode with a drop-in and pin the saved default to the running kernel's id.
	k.must("sed -i 's/^GRUB_DEFAULT=.*/GRUB_DEFAULT=0/' /etc/default/grub && update-grub 2>/dev/null")

	// 1. Upgrade 6.11 → 6.17 with hold.
	in := Instance{Type: "kernel", Name: "nvidia", Desired: kernelBody("6.17", "", true, "3m")}
	obs, d := k.plan(in)
	if d.Action != Create || !d.RequiresReboot || !strings.HasPrefix(d.Summary, lab.StockKernel+" → ") || !strings.Contains(d.Summary, "6.17") {
		t.Fatalf("fresh host plan: %+v, want a create from %s to 6.17 with reboot", d, lab.StockKernel)
	}
	if f := d.Fields[len(d.Fields)-1]; f.Path != "grub_default" || f.Before != "0" || !strings.HasPrefix(f.After, "saved") {
		t.Fatalf("plan must show GRUB_DEFAULT 0 → saved, last field is %+v", f)
	}
	pr := k.apply(in, obs, d)
	if got := decodeKernelOriginal(pr.Original).release; got != "6.17.0-1014-nvidia" {
		t.Fatalf("applied release %q, want 6.17.0-1014-nvidia", got)
	}
	if kv := k.must("uname -r"); kv != lab.StockKernel {
		t.Fatalf("apply must not change the running kernel (now %s)", kv)
	}
	bp := k.prepare(in, pr)
	if dropIn := k.must("cat " + kernelGrubDropIn("nvidia")); !strings.Contains(dropIn, "GRUB_DEFAULT=saved") {
		t.Fatalf("PrepareBoot did not write the GRUB_DEFAULT=saved drop-in: %q", dropIn)
	}
	if bp.ExpectKernel != "6.17.0-1014-nvidia" || bp.PreviousKernel != lab.StockKernel || bp.Timeout != 3*time.Minute ||
		!strings.Contains(bp.Entry, ">gnulinux-6.17.0-1014-nvidia-advanced-") {
		t.Fatalf("boot plan %+v", bp)
	}
	if kv := k.reboot(); kv != "6.17.0-1014-nvidia" {
		t.Fatalf("after the try-once reboot the host runs %s, want 6.17.0-1014-nvidia", kv)
	}
	k.confirm(in, pr, bp)
	if kv := k.reboot(); kv != "6.17.0-1014-nvidia" {
		t.Fatalf("after a second reboot the host runs %s: the saved default did not stick", kv)
	}
	in.Prior = pr
	if _, d := k.plan(in); d.Action != NoOp {
		t.Fatalf("converged host plans %+v, want no-op", d)
	}

	// 2. Hold and pin.
	holds := k.must("apt-mark showhold")
	for _, p := range []string{"linux-image-6.17.0-1014-nvidia", "linux-nvidia-6.17"} {
		if !strings.Contains(holds, p) {
			t.Fatalf("apt-mark showhold lacks %s:\n%s", p, holds)
		}
	}
	out, rc := k.sh("DEBIAN_FRONTEND=noninteractive apt-get -y install linux-nvidia-hwe-24.04 2>&1")
	if rc == 0 {
		t.Fatalf("the pin must make apt refuse linux-nvidia-hwe-24.04:\n%s", out)
	}
	if imgs := installedImages(k); strings.Contains(imgs, "7.0.0") {
		t.Fatalf("a 7.0 kernel got installed despite the pin:\n%s", imgs)
	}

	// 3. Downgrade 6.17 → 6.14: a change with reboot; the previous kernel stays installed.
	in.Desired = kernelBody("6.14", "", true, "3m")
	obs, d = k.plan(in)
	if d.Action != Update || !d.RequiresReboot || d.Summary != "6.17.0-1014-nvidia → 6.14.0-1015-nvidia" {
		t.Fatalf("downgrade plan %+v", d)
	}
	pr = k.apply(in, obs, d)
	bp = k.prepare(in, pr)
	if kv := k.reboot(); kv != "6.14.0-1015-nvidia" {
		t.Fatalf("after the downgrade reboot the host runs %s, want 6.14.0-1015-nvidia", kv)
	}
	k.confirm(in, pr, bp)
	if imgs := installedImages(k); !strings.Contains(imgs, "linux-image-6.17.0-1014-nvidia") || !strings.Contains(imgs, lab.StockKernel) {
		t.Fatalf("previous kernels must stay installed:\n%s", imgs)
	}
	holds = k.must("apt-mark showhold")
	if !strings.Contains(holds, "linux-image-6.14.0-1015-nvidia") || strings.Contains(holds, "linux-nvidia-6.17") {
		t.Fatalf("holds after the downgrade:\n%s", holds)
	}
	in.Prior = pr
	if _, d := k.plan(in); d.Action != NoOp {
		t.Fatalf("after the downgrade plan %+v, want no-op", d)
	}

	// 4. A kernel that fails to boot: the try-once boot panics, the host comes back by itself
	// on the saved default (6.14), which stays the default.
	in.Desired = kernelBody("", "linux-image-"+lab.BrokenKernel, false, "3m")
	obs, d = k.plan(in)
	if !d.RequiresReboot || d.Summary != "6.14.0-1015-nvidia → "+lab.BrokenKernel {
		t.Fatalf("broken kernel plan %+v", d)
	}
	broken := k.apply(in, obs, d)
	bp = k.prepare(in, broken)
	if kv := k.reboot(); kv != "6.14.0-1015-nvidia" {
		t.Fatalf("after the failing kernel the host runs %s, want the saved default 6.14.0-1015-nvidia", kv)
	}
	env := k.grubEnv()
	if !strings.Contains(env["saved_entry"], "gnulinux-6.14.0-1015-nvidia-advanced-") || env["next_entry"] != "" {
		t.Fatalf("GRUB environment after the fallback: %v", env)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := (kernel{}).ConfirmBoot(ctx, k.h, in, broken, bp); err == nil {
		t.Fatal("ConfirmBoot must refuse a kernel the host does not run")
	}
	// The engine keeps the previous state on a rollback: the next plan wants the reboot again.
	in.Prior = Prior{Attributes: pr.Attributes, Original: pr.Original}
	if _, d := k.plan(in); !d.RequiresReboot {
		t.Fatalf("after a rollback the plan must still want %s: %+v", lab.BrokenKernel, d)
	}

	// 5. Destroy: holds and pin go, kernels and the running one stay, no reboot.
	in.Desired = cty.NullVal(cty.DynamicPseudoType)
	in.Prior = broken
	boot := k.bootID()
	obs, d = k.plan(in)
	if d.Action != Delete || d.RequiresReboot {
		t.Fatalf("destroy plan %+v", d)
	}
	if pr := k.apply(in, obs, d); pr.Exists() {
		t.Fatalf("destroy left state %#v", pr.Attributes)
	}
	if out, _ := k.sh("ls /etc/apt/preferences.d/ /etc/default/grub.d/ 2>/dev/null; apt-mark showhold"); strings.Contains(out, "sparkform") || strings.Contains(out, "linux-") {
		t.Fatalf("destroy left pin, drop-in or holds:\n%s", out)
	}
	if imgs := installedImages(k); !strings.Contains(imgs, "6.14.0-1015") || !strings.Contains(imgs, "6.17.0-1014") || !strings.Contains(imgs, lab.BrokenKernel) {
		t.Fatalf("destroy must not remove kernels:\n%s", imgs)
	}
	if k.bootID() != boot || k.must("uname -r") != "6.14.0-1015-nvidia" {
		t.Fatal("destroy must not reboot")
	}
	in.Prior = Prior{}
	if _, d := k.plan(in); d.Action != NoOp {
		t.Fatalf("after destroy plan %+v, want no-op", d)
	}
	t.Logf("whole kernel lab sequence: %s", time.Since(total).Round(time.Millisecond))
}
