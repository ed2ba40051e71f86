package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// One fleet is shared by the tests of this package (booting is cheap, but building the image
// the first time is not); each test uses hosts in a way the others do not depend on.
var (
	sharedOnce sync.Once
	shared     *Lab
	sharedErr  error
	sharedDir  string
)

// testSubnet is the shared fleet's subnet, picked from 10-19 by reserveSubnet: `go test ./...`
// run by two people at once on one machine runs this package twice.
var testSubnet int

// reserveSubnet is ReserveSubnet (kept short for this package's many callers).
func reserveSubnet(from, to int) (int, error) { return ReserveSubnet(from, to) }

func sharedOptions() Options {
	var log bytes.Buffer
	return Options{Dir: sharedDir, N: 3, Subnet: testSubnet, NoNvcc: []string{"spark-03"}, RebootDelay: time.Second, Log: &log}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := shared.Down(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "lab down:", err)
			code = 1
		}
		cancel()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// fleet returns the shared 3-host lab (spark-03 without nvcc), skipping when this machine cannot
// run a lab.
func fleet(t *testing.T) *Lab {
	t.Helper()
	SkipUnlessAvailable(t)
	sharedOnce.Do(func() {
		if testSubnet, sharedErr = reserveSubnet(10, 20); sharedErr != nil {
			return
		}
		sharedDir, sharedErr = os.MkdirTemp("", "sparkform-lab-test-")
		if sharedErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		shared, sharedErr = Up(ctx, sharedOptions())
	})
	if sharedErr != nil {
		t.Fatalf("lab up: %v", sharedErr)
	}
	return shared
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// run is SSH that fails the test on error and returns trimmed stdout.
func run(t *testing.T, l *Lab, host, user, cmd string) string {
	t.Helper()
	out, _, err := l.SSH(ctxT(t, 3*time.Minute), host, user, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// sshTry runs the OpenSSH client with a short connect timeout and returns its combined output and
// error, for the fault tests that expect failures.
func sshTry(l *Lab, host string, timeout time.Duration) (string, error) {
	h, _ := l.Host(host)
	args := append([]string{"-o", fmt.Sprintf("ConnectTimeout=%d", int(timeout.Seconds()))}, l.SSHOptions()...)
	args = append(args, "-l", "root", h.Address, "true")
	out, err := exec.Command("ssh", args...).CombinedOutput()
	return string(out), err
}

func bootID(t *testing.T, l *Lab, host string) string {
	return run(t, l, host, "root", "cat /proc/sys/kernel/random/boot_id")
}

func TestUpLogsInAsRootAndDeployWithStrictHostKeysAndSftp(t *testing.T) {
	l := fleet(t)
	hcl, err := os.ReadFile(l.HostsHCLPath())
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`host "spark-02" {
  address         = "198.18.%d.102"
  port            = 22
  user            = "root"
  identity_file   = %q
  known_hosts     = %q
  host_key_policy = "strict"
  labels          = { lab = "true" }
}
`, testSubnet, l.KeyPath(), l.KnownHostsPath())
	if !strings.Contains(string(hcl), want) {
		t.Errorf("hosts.hcl lacks\n%s\ngot:\n%s", want, hcl)
	}
	for _, h := range l.Hosts() {
		if got := run(t, l, h.Name, "root", "hostname; id -un"); got != h.Name+"\nroot" {
			t.Errorf("%s as root: got %q", h.Name, got)
		}
		if got := run(t, l, h.Name, "deploy", "id -un; sudo -n true && echo sudo-ok"); got != "deploy\nsudo-ok" {
			t.Errorf("%s as deploy: got %q", h.Name, got)
		}
	}
	// A host key that is not the one in known_hosts must be refused (strict checking is real).
	bad := filepath.Join(t.TempDir(), "known_hosts")
	kh, _ := os.ReadFile(l.KnownHostsPath())
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	swapped := strings.Fields(lines[0])[0] + " " + strings.Join(strings.Fields(lines[1])[1:], " ") + "\n"
	if err := os.WriteFile(bad, []byte(swapped), 0o644); err != nil {
		t.Fatal(err)
	}
	h1 := l.Hosts()[0]
	args := append([]string{"-o", "UserKnownHostsFile=" + bad}, l.SSHOptions()...)
	if out, err := exec.Command("ssh", append(args, "-l", "root", h1.Address, "true")...).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ssh with a wrong known host key: err=%v out=%s", err, out)
	}
	// sftp (internal-sftp) in batch mode: put then get back
	dir := t.TempDir()
	src := filepath.Join(dir, "up.txt")
	if err := os.WriteFile(src, []byte("over sftp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	batch := filepath.Join(dir, "batch")
	back := filepath.Join(dir, "back.txt")
	if err := os.WriteFile(batch, []byte(fmt.Sprintf("put %s /tmp/up.txt\nget /tmp/up.txt %s\n", src, back)), 0o644); err != nil {
		t.Fatal(err)
	}
	sftpArgs := append(append([]string{"-b", batch}, l.SSHOptions()...), "deploy@"+h1.Address)
	if out, err := exec.Command("sftp", sftpArgs...).CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v: %s", err, out)
	}
	if got, _ := os.ReadFile(back); string(got) != "over sftp\n" {
		t.Errorf("sftp round trip: got %q", got)
	}
}

func TestHostsDoNotShareSysctlSysfsOrPackages(t *testing.T) {
	l := fleet(t)
	realBefore, _ := os.ReadFile("/proc/sys/vm/swappiness")
	run(t, l, "spark-01", "root", "sysctl -w vm.swappiness=7 && echo 4096 > /sys/block/nvme0n1/queue/read_ahead_kb")
	if got := run(t, l, "spark-01", "root", "sysctl -n vm.swappiness; cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != "7\n4096" {
		t.Fatalf("spark-01 after writes: %q", got)
	}
	realAfter, _ := os.ReadFile("/proc/sys/vm/swappiness")
	if string(realBefore) != string(realAfter) || strings.TrimSpace(string(realAfter)) == "7" {
		t.Errorf("real machine's swappiness changed: %q -> %q", realBefore, realAfter)
	}
	if got := run(t, l, "spark-02", "root", "sysctl -n vm.swappiness; cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != strings.TrimSpace(string(realAfter))+"\n128" {
		t.Errorf("spark-02 sees %q", got)
	}
	// /proc/sys outside vm is read-only inside a host
	if _, _, err := l.SSH(ctxT(t, time.Minute), "spark-01", "root", "sysctl -w kernel.pid_max=40000"); err == nil {
		t.Errorf("kernel.pid_max was writable inside a host")
	}
	run(t, l, "spark-02", "root", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-nvidia-6.17 >/dev/null")
	if got := run(t, l, "spark-02", "root", "dpkg-query -W -f='${Depends}' linux-nvidia-6.17"); got != "linux-image-nvidia-6.17 (= 6.17.0-1014.14)" {
		t.Errorf("Depends of linux-nvidia-6.17: %q", got)
	}
	if got := run(t, l, "spark-02", "root", "dpkg-query -W -f='${Status}' linux-image-6.17.0-1014-nvidia"); got != "install ok installed" {
		t.Errorf("spark-02 linux-image-6.17.0-1014-nvidia: %q", got)
	}
	if got := run(t, l, "spark-02", "root", "grep -c \"gnulinux-6.17.0-1014-nvidia-advanced-\" /boot/grub/grub.cfg"); got != "1" {
		t.Errorf("update-grub did not list the new kernel on spark-02: %q", got)
	}
	if out := run(t, l, "spark-01", "root", "dpkg-query -W -f='${Status}' linux-image-6.17.0-1014-nvidia >/dev/null 2>&1 || echo not-installed; ls /boot"); !strings.HasPrefix(out, "not-installed") || strings.Contains(out, "6.17") {
		t.Errorf("spark-01 shows spark-02's kernel package: %q", out)
	}
}

// TestGrubUserlandIsDebiansRealTools: GRUB's userland in a host is Debian's packages, unmodified
// (dpkg's checksums), with grub-probe the one diverted stand-in; grub.cfg is what their
// grub-mkconfig writes for this host (update-grub rewrites it byte for byte), with Debian's
// 10_linux menu and ids on the host's filesystem UUID, and grubenv is grub-editenv's 1024-byte block.
func TestGrubUserlandIsDebiansRealTools(t *testing.T) {
	l := fleet(t)
	const host = "spark-01"
	owners := run(t, l, host, "root", "dpkg -S /usr/sbin/grub-reboot /usr/sbin/grub-set-default /usr/sbin/update-grub /usr/bin/grub-editenv /usr/sbin/grub-mkconfig /etc/grub.d/00_header /etc/grub.d/10_linux /etc/kernel/postinst.d/zz-update-grub | sort")
	want := strings.Join([]string{
		"grub-common: /etc/grub.d/00_header", "grub-common: /etc/grub.d/10_linux", "grub-common: /usr/bin/grub-editenv",
		"grub-common: /usr/sbin/grub-mkconfig", "grub2-common: /etc/kernel/postinst.d/zz-update-grub",
		"grub2-common: /usr/sbin/grub-reboot", "grub2-common: /usr/sbin/grub-set-default", "grub2-common: /usr/sbin/update-grub"}, "\n")
	if owners != want {
		t.Errorf("owners of GRUB's tools:\n%s\nwant\n%s", owners, want)
	}
	if got := run(t, l, host, "root", "dpkg-query -W -f='${Version} ${Status}\\n' grub-common grub2-common"); !regexp.MustCompile(`^(2\.\d+-\S+ install ok installed\n?){2}$`).MatchString(got) {
		t.Errorf("grub-common, grub2-common: %q", got)
	}
	if got := run(t, l, host, "root", "dpkg --verify grub-common grub2-common 2>&1; echo rc=$?"); got != "rc=0" {
		t.Errorf("Debian's GRUB files were changed in the image: %q", got)
	}
	if got := run(t, l, host, "root", "dpkg-divert --list '*grub*'; readlink /usr/sbin/grub-probe"); got != "local diversion of /usr/sbin/grub-probe to /usr/sbin/grub-probe.real\n/usr/local/lib/sparkform-lab/grub-probe" {
		t.Errorf("diversions (grub-probe must be the only stand-in): %q", got)
	}
	uuid := run(t, l, host, "root", "cat /usr/local/lib/sparkform-lab/root-uuid")
	cfg := run(t, l, host, "root", "cat /boot/grub/grub.cfg")
	for _, s := range []string{
		"# It is automatically generated by grub-mkconfig using templates\n# from /etc/grub.d and settings from /etc/default/grub",
		"### BEGIN /etc/grub.d/10_linux ###",
		"menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-" + uuid + "' {",
		"submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-" + uuid + "' {",
		"\tmenuentry 'Debian GNU/Linux, with Linux " + StockKernel + "' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-" + StockKernel + "-advanced-" + uuid + "' {",
		"\tmenuentry 'Debian GNU/Linux, with Linux " + StockKernel + " (recovery mode)' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-" + StockKernel + "-recovery-" + uuid + "' {",
		"\t\tlinux\t/boot/vmlinuz-" + StockKernel + " root=/dev/nvme0n1p2 ro single \n",
		"\n   set default=\"${saved_entry}\"\n", // GRUB_DEFAULT=saved
	} {
		if !strings.Contains(cfg, s) {
			t.Errorf("grub.cfg lacks %q:\n%s", s, cfg)
		}
	}
	// The lab writes each host's first grub.cfg from the image's (with the host's UUID);
	// Debian's update-grub in the host must write the very same file.
	if out := run(t, l, host, "root", "cp /boot/grub/grub.cfg /tmp/grub.cfg.lab && update-grub 2>/dev/null && diff /tmp/grub.cfg.lab /boot/grub/grub.cfg 2>&1; echo rc=$?"); out != "rc=0" {
		t.Errorf("update-grub in the host wrote another grub.cfg than the lab's: %q", out)
	}
	env := run(t, l, host, "root", "wc -c < /boot/grub/grubenv; head -c 25 /boot/grub/grubenv; grub-editenv list")
	if env != "1024\n# GRUB Environment Block\nsaved_entry=0" {
		t.Errorf("grubenv: %q", env)
	}
}

func TestRebootNewBootIDAndKernelFollowsGrub(t *testing.T) {
	l := fleet(t)
	const host = "spark-02"
	run(t, l, host, "root", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-image-6.14.0-1015-nvidia linux-image-7.0.0-1019-nvidia linux-nvidia-6.17-broken >/dev/null")
	uuid := run(t, l, host, "root", `grep -o "gnulinux-advanced-[^']*" /boot/grub/grub.cfg | sed 's/gnulinux-advanced-//'`)
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(uuid) {
		t.Fatalf("no root UUID in grub.cfg ids: %q", uuid)
	}
	reboot := func(how string) {
		t.Helper()
		ctx := ctxT(t, 90*time.Second)
		if how == "ssh" {
			// the in-host reboot command: the session is cut, as on a real host
			_, _, _ = l.SSH(ctx, host, "root", "reboot")
		} else if err := l.Reboot(ctx, host); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitUp(ctx, host); err != nil {
			t.Fatal(err)
		}
	}
	id0 := bootID(t, l, host)
	saved := fmt.Sprintf("gnulinux-advanced-%s>gnulinux-6.14.0-1015-nvidia-advanced-%s", uuid, uuid)
	run(t, l, host, "root", "grub-set-default "+shellQuote(saved))
	reboot("api")
	id1 := bootID(t, l, host)
	if id1 == id0 {
		t.Errorf("boot_id unchanged across reboot: %s", id0)
	}
	if got := run(t, l, host, "root", "uname -r; cat /proc/sys/kernel/osrelease; python3 -c 'import platform; print(platform.release())'"); got != "6.14.0-1015-nvidia\n6.14.0-1015-nvidia\n6.14.0-1015-nvidia" {
		t.Errorf("after grub-set-default: %q", got)
	}
	// one-shot: by title path this time
	run(t, l, host, "deploy", "sudo grub-reboot 'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 7.0.0-1019-nvidia'")
	reboot("ssh")
	if got := run(t, l, host, "root", "uname -r"); got != "7.0.0-1019-nvidia" {
		t.Errorf("after grub-reboot: uname -r = %q", got)
	}
	if got := run(t, l, host, "root", "grub-editenv list"); !strings.Contains(got, "saved_entry="+saved) || !strings.Contains(got, "next_entry=\n") && !strings.HasSuffix(got, "next_entry=") {
		t.Errorf("grubenv after a one-shot boot: %q", got)
	}
	reboot("api")
	if got := run(t, l, host, "root", "uname -r"); got != "6.14.0-1015-nvidia" {
		t.Errorf("grub-reboot applied to more than one boot: uname -r = %q", got)
	}
	// a kernel that fails to boot: unreachable for a while, then back on the saved default
	broken := fmt.Sprintf("gnulinux-advanced-%s>gnulinux-%s-advanced-%s", uuid, BrokenKernel, uuid)
	run(t, l, host, "root", "grub-reboot "+shellQuote(broken))
	before := bootID(t, l, host)
	ctx := ctxT(t, 2*time.Minute)
	if err := l.Reboot(ctx, host); err != nil {
		t.Fatal(err)
	}
	h, _ := l.Host(host)
	sawBroken := false
	for !sawBroken && ctx.Err() == nil {
		st, _ := l.Status(ctx)
		for _, s := range st {
			if s.Name == host && s.Kernel == BrokenKernel {
				sawBroken = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !sawBroken {
		t.Fatal("status never showed the broken kernel booting")
	}
	if err := sshBanner(ctx, h, time.Second); err == nil {
		t.Errorf("sshd answered while the broken kernel was booting")
	}
	if err := l.WaitUp(ctx, host); err != nil {
		t.Fatal(err)
	}
	if got := run(t, l, host, "root", "uname -r"); got != "6.14.0-1015-nvidia" {
		t.Errorf("after the broken kernel: uname -r = %q, want the saved default", got)
	}
	if after := bootID(t, l, host); after == before {
		t.Errorf("boot_id unchanged after the failed boot")
	}
	// A bare title of the submenu (the pre-2.00 form) resolves to nothing in GRUB; update-grub
	// warns and ends 10_linux with title_correction_code, which GRUB runs at boot.
	out := run(t, l, host, "root", "grub-set-default 'Debian GNU/Linux, with Linux "+StockKernel+"' && update-grub 2>&1 | grep -c \"Please don't use old title\"; grep -c '^if \\[ \"x\\$default\" = ' /boot/grub/grub.cfg")
	if out != "1\n1" {
		t.Errorf("update-grub with a bare title as saved_entry: %q", out)
	}
	reboot("api")
	if got := run(t, l, host, "root", "uname -r"); got != StockKernel {
		t.Errorf("saved_entry %q through 10_linux's title correction: uname -r = %q", "Debian GNU/Linux, with Linux "+StockKernel, got)
	}
}

func TestFaultsPartitionFreezeCrash(t *testing.T) {
	l := fleet(t)
	const host = "spark-03"
	ctx := ctxT(t, 2*time.Minute)
	if err := l.Partition(ctx, host); err != nil {
		t.Fatal(err)
	}
	if out, err := sshTry(l, host, 2*time.Second); err == nil || !strings.Contains(out, "timed out") {
		t.Errorf("partitioned: err=%v out=%q, want a connect timeout", err, out)
	}
	if out, err := sshTry(l, "spark-01", 5*time.Second); err != nil {
		t.Errorf("partitioning spark-03 cut spark-01: %v %s", err, out)
	}
	if err := l.Heal(ctx, host); err != nil {
		t.Fatal(err)
	}
	if out, err := sshTry(l, host, 5*time.Second); err != nil {
		t.Errorf("healed: %v %s", err, out)
	}

	if err := l.Freeze(ctx, host); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.Status(ctx); st[2].State != "frozen" {
		t.Errorf("status of a frozen host: %+v", st[2])
	}
	if out, err := sshTry(l, host, 2*time.Second); err == nil || !strings.Contains(out, "banner exchange") {
		t.Errorf("frozen: err=%v out=%q, want a banner exchange timeout", err, out)
	}
	if err := l.Thaw(ctx, host); err != nil {
		t.Fatal(err)
	}
	if out, err := sshTry(l, host, 5*time.Second); err != nil {
		t.Errorf("thawed: %v %s", err, out)
	}

	before := bootID(t, l, host)
	if err := l.Crash(ctx, host); err != nil {
		t.Fatal(err)
	}
	if out, err := sshTry(l, host, 2*time.Second); err == nil || !strings.Contains(out, "Connection refused") {
		t.Errorf("crashed: err=%v out=%q, want connection refused", err, out)
	}
	if err := l.WaitUp(ctx, host); err != nil {
		t.Fatal(err)
	}
	if after := bootID(t, l, host); after == before {
		t.Errorf("boot_id unchanged after a crash")
	}
}

func TestPowerOffStaysOffUntilPowerOn(t *testing.T) {
	l := fleet(t)
	const host = "spark-03"
	ctx := ctxT(t, time.Minute)
	if err := l.PowerOff(ctx, host); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // longer than the reboot delay
	if st, _ := l.Status(ctx); st[2].State != "off" {
		t.Errorf("after power off: %+v", st[2])
	}
	if err := l.PowerOn(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitUp(ctx, host); err != nil {
		t.Fatal(err)
	}
}

func TestUpTwiceIsNoOp(t *testing.T) {
	l := fleet(t)
	ctx := ctxT(t, time.Minute)
	before, err := l.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Up(ctx, sharedOptions())
	if err != nil {
		t.Fatal(err)
	}
	after, err := again.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if before[i].BootID == "" || before[i].BootID != after[i].BootID || after[i].State != "up" {
			t.Errorf("second Up changed %s: %+v -> %+v", before[i].Name, before[i], after[i])
		}
	}
	opened, err := Open(sharedDir)
	if err != nil || len(opened.Hosts()) != 3 {
		t.Errorf("Open: %v %v", opened, err)
	}
}

// labProcesses lists processes that belong to the lab in dir: its scripts, or anything whose root
// or command line lies under dir (the hosts' sshd and init run chrooted into hosts/*/merged).
func labProcesses(dir string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		root, _ := os.Readlink("/proc/" + e.Name() + "/root")
		if strings.Contains(string(cmdline), dir) || strings.HasPrefix(root, dir) {
			found = append(found, e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

func TestDownLeavesNoProcessMountOrNftTable(t *testing.T) {
	SkipUnlessAvailable(t)
	dir := t.TempDir()
	ctx := ctxT(t, 5*time.Minute)
	subnet, err := reserveSubnet(20, 30)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Up(ctx, Options{Dir: dir, N: 2, Subnet: subnet})
	if err != nil {
		t.Fatal(err)
	}
	if _, e, err := l.SSH(ctx, "spark-01", "root", "echo kept > /etc/sparkform-lab-disk-test"); err != nil {
		t.Fatal(err, e)
	}
	if err := l.Partition(ctx, "spark-02"); err != nil {
		t.Fatal(err)
	}
	if err := l.Freeze(ctx, "spark-01"); err != nil {
		t.Fatal(err)
	}
	if len(labProcesses(dir)) < 6 {
		t.Fatalf("expected supervisor, unshare, init and sshd per host, got %q", labProcesses(dir))
	}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if p := labProcesses(dir); len(p) > 0 {
		t.Errorf("processes left after Down: %q", p)
	}
	if out, _ := exec.Command("nft", "list", "tables").CombinedOutput(); strings.Contains(string(out), l.NftTable()) {
		t.Errorf("nft table %s left after Down: %s", l.NftTable(), out)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), dir) {
		t.Errorf("mounts left after Down")
	}
	st, _ := l.Status(ctx)
	for _, s := range st {
		if s.State != "down" {
			t.Errorf("after Down: %+v", s)
		}
	}
	// The lab comes back with its disks (the README says so: lab down stops, it does not wipe).
	l, err = Up(ctx, Options{Dir: dir, N: 2, Subnet: subnet})
	if err != nil {
		t.Fatal(err)
	}
	if out, e, err := l.SSH(ctx, "spark-01", "root", "cat /etc/sparkform-lab-disk-test"); err != nil || strings.TrimSpace(out) != "kept" {
		t.Errorf("a file written before Down is gone after Up: %q %v %s", out, err, e)
	}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLlamaCppStandInBuildsBothTagsAndServes(t *testing.T) {
	l := fleet(t)
	build := func(host, tag, extra string) string {
		t.Helper()
		return run(t, l, host, "deploy", fmt.Sprintf(`set -e; rm -rf ~/llama-%[1]s; git clone -q /srv/git/llama.cpp.git ~/llama-%[1]s; cd ~/llama-%[1]s
git -c advice.detachedHead=false checkout -q %[1]s
cmake -B build %[2]s >/dev/null; cmake --build build --config Release --target llama-server -j 2 >/dev/null
./build/bin/llama-server --version 2>&1; ./build/bin/llama-server --help`, tag, extra))
	}
	old := build("spark-01", "b6800", "-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=121a-real")
	if !regexp.MustCompile(`(?m)^version: 6800 \([0-9a-f]{7,}\)$`).MatchString(old) || !strings.Contains(old, "--no-mmap") || strings.Contains(old, "--load-mode") {
		t.Errorf("b6800: %s", old)
	}
	if !strings.Contains(old, "CUDA 13.0, archs 121a-real") {
		t.Errorf("b6800 with GGML_CUDA=ON does not report CUDA: %s", old)
	}
	newer := build("spark-01", "b10900", "")
	if !strings.Contains(newer, "version: 0.4.1-dev (build 10900, commit ") || strings.Contains(newer, "--no-mmap") || !strings.Contains(newer, "--load-mode") {
		t.Errorf("b10900: %s", newer)
	}
	if _, _, err := l.SSH(ctxT(t, time.Minute), "spark-01", "deploy", "cd ~/llama-b6800 && cmake -B bad -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=sm_121"); err == nil {
		t.Errorf("an invalid CMAKE_CUDA_ARCHITECTURES configured")
	}
	run(t, l, "spark-03", "deploy", "git clone -q /srv/git/llama.cpp.git ~/l && test ! -e /usr/local/cuda/bin/nvcc")
	if _, stderr, err := l.SSH(ctxT(t, time.Minute), "spark-03", "deploy", "cd ~/l && cmake -B build -DGGML_CUDA=ON"); err == nil || !strings.Contains(stderr, "CUDA Toolkit not found") {
		t.Errorf("GGML_CUDA=ON without nvcc: err=%v stderr=%s", err, stderr)
	}
	// the old server announces "HTTP server is listening" before loading, then the ready line
	// served on the host's address, so the controller can reach it
	h1, _ := l.Host("spark-01")
	out := run(t, l, "spark-01", "deploy", `cd ~/llama-b6800 && (./build/bin/llama-server -m /models/gpt-oss-120b.gguf --host `+h1.Address+` --port 18080 --no-mmap > /tmp/server.log 2>&1 &)
for i in $(seq 100); do grep -q 'server is listening on' /tmp/server.log && break; sleep 0.1; done
python3 -c 'import urllib.request; r = urllib.request.urlopen("http://`+h1.Address+`:18080/health"); print(r.status, r.read().decode())'
pkill -x llama-server; cat /tmp/server.log`)
	if !strings.Contains(out, `200 {"status":"ok"}`) {
		t.Errorf("/health: %s", out)
	}
	early := strings.Index(out, "main: HTTP server is listening")
	ready := strings.Index(out, "main: server is listening on http://"+h1.Address+":18080 - starting the main loop")
	if early < 0 || ready < 0 || early > ready || !strings.Contains(out, "mmap = false") {
		t.Errorf("server log (early at %d, ready at %d): %s", early, ready, out)
	}
}

func TestFastsafetensorsWheelInstallsInVenv(t *testing.T) {
	l := fleet(t)
	got := run(t, l, "spark-02", "deploy", `set -e; python3 -m venv ~/venv; ~/venv/bin/pip install -q --no-index --find-links /srv/wheels fastsafetensors==0.3.2
~/venv/bin/python -c 'import fastsafetensors as f; print(f.__version__)'`)
	if got != "0.3.2" {
		t.Errorf("fastsafetensors version: %q", got)
	}
}

func TestReadAheadUdevRuleAppliesAtBootLikeUdevColdplug(t *testing.T) {
	l := fleet(t)
	ctx := ctxT(t, 2*time.Minute)
	run(t, l, "spark-02", "root", `printf 'ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="nvme0n1|sdz", ATTR{queue/read_ahead_kb}="4096"\n' > /etc/udev/rules.d/60-test-ra.rules`)
	defer run(t, l, "spark-02", "root", "rm -f /etc/udev/rules.d/60-test-ra.rules")
	if err := l.Reboot(ctx, "spark-02"); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitUp(ctx, "spark-02"); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(run(t, l, "spark-02", "root", "cat /sys/block/nvme0n1/queue/read_ahead_kb /sys/block/nvme1n1/queue/read_ahead_kb | tr '\\n' ' '")); got != "4096 128" {
		t.Fatalf("read_ahead_kb after boot = %q, want the rule's 4096 on nvme0n1 only", got)
	}
}

// Each host has its own network namespace: two hosts both serve on port 8080 (on their loopback
// and their address), each answers with its own name, and the controller reaches each at its
// address.
func TestTwoHostsServeOnTheSamePortEachInItsOwnNetwork(t *testing.T) {
	l := fleet(t)
	const serve = `mkdir -p /tmp/www && hostname > /tmp/www/name && cd /tmp/www &&
(setsid python3 -m http.server 8080 --bind 0.0.0.0 >/tmp/www.log 2>&1 </dev/null &)
for i in $(seq 100); do python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8080/name").read().decode().strip())' 2>/dev/null && exit 0; sleep 0.1; done
cat /tmp/www.log; exit 1`
	for _, h := range []string{"spark-01", "spark-02"} {
		if got := run(t, l, h, "root", serve); got != h {
			t.Fatalf("%s: its own 127.0.0.1:8080 answered %q", h, got)
		}
		defer run(t, l, h, "root", "pkill -f '^python3 -m http[.]server' || true")
	}
	for _, name := range []string{"spark-01", "spark-02"} {
		h, _ := l.Host(name)
		c := http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get("http://" + net.JoinHostPort(h.Address, "8080") + "/name")
		if err != nil {
			t.Fatalf("controller to %s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := strings.TrimSpace(string(body)); got != name {
			t.Errorf("http://%s:8080/name answered %q, want %q", h.Address, got, name)
		}
	}
	// the machine's own loopback has no such server
	if c, err := net.DialTimeout("tcp", "127.0.0.1:8080", time.Second); err == nil {
		c.Close()
		t.Log("note: something on this machine listens on 127.0.0.1:8080 (not a lab host)")
	}
}

// rtt is the median time of n TCP handshakes with the host's sshd (SYN out, SYN-ACK back: one
// round trip of the lab network).
func rtt(t *testing.T, addr string, n int) time.Duration {
	t.Helper()
	var ds []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, "22"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
		c.Close()
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// lab up -latency D delays every packet between controller and hosts by D each way: a TCP
// handshake takes at least 2D; taking the latency away (Up again with 0) makes it fast again on
// the same running hosts; Down removes the queue rules and the delaying program.
func TestLatencyOptionDelaysEveryPacketBothWays(t *testing.T) {
	SkipUnlessAvailable(t)
	if _, err := lookPath("iptables"); err != nil {
		t.Skip("needs iptables")
	}
	ctx := ctxT(t, 5*time.Minute)
	subnet, err := reserveSubnet(20, 30)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const d = 40 * time.Millisecond
	l, err := Up(ctx, Options{Dir: dir, N: 1, Subnet: subnet, Latency: d})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down(context.Background())
	h := l.Hosts()[0]
	if got := rtt(t, h.Address, 5); got < 2*d {
		t.Errorf("TCP handshake with -latency %s took %s, want at least %s", d, got, 2*d)
	}
	// an SSH command costs several round trips
	t0 := time.Now()
	run(t, l, h.Name, "root", "true")
	if got := time.Since(t0); got < 4*d {
		t.Errorf("ssh true with -latency %s took %s, want at least %s", d, got, 4*d)
	}
	if l.Latency() != d {
		t.Errorf("Latency() = %s", l.Latency())
	}
	boot := bootID(t, l, h.Name)
	if l, err = Up(ctx, Options{Dir: dir, N: 1, Subnet: subnet}); err != nil {
		t.Fatal(err)
	}
	if got := rtt(t, h.Address, 5); got >= 2*d {
		t.Errorf("TCP handshake after the latency was removed took %s", got)
	}
	if bootID(t, l, h.Name) != boot {
		t.Errorf("changing the latency rebooted the host")
	}
	if l, err = Up(ctx, Options{Dir: dir, N: 1, Subnet: subnet, Latency: d}); err != nil {
		t.Fatal(err)
	}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if l.delayPID() != 0 {
		t.Errorf("delayd still runs after Down")
	}
	for _, r := range l.delayRules() {
		if iptables(ctx, "-C", r) == nil {
			t.Errorf("queue rule left after Down: %v", r)
		}
	}
	if SubnetInUse(subnet) {
		t.Errorf("bridge of subnet %d left after Down", subnet)
	}
}

// A second lab on a subnet that another lab holds is refused, and taking it down (as a test's
// clean-up does after a failed Up) leaves the first lab's network and hosts alone.
func TestRefusedLabOnATakenSubnetLeavesTheOtherLabAlone(t *testing.T) {
	SkipUnlessAvailable(t)
	ctx := ctxT(t, 3*time.Minute)
	subnet, err := reserveSubnet(20, 30)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Up(ctx, Options{Dir: t.TempDir(), N: 1, Subnet: subnet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Down(context.Background())
	dirB := t.TempDir()
	if _, err := Up(ctx, Options{Dir: dirB, N: 1, Subnet: subnet}); err == nil || !strings.Contains(err.Error(), "in use by another lab") {
		t.Fatalf("second lab on subnet %d: err = %v", subnet, err)
	}
	b, err := Open(dirB)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if got := run(t, a, "spark-01", "root", "hostname"); got != "spark-01" {
		t.Errorf("first lab after the second's down: %q", got)
	}
}
