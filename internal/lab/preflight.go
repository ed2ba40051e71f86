package lab

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// requiredCommands are the host programs the lab runs, with the Debian package that provides each.
var requiredCommands = []struct{ name, pkg string }{
	{"unshare", "util-linux"},
	{"setsid", "util-linux"},
	{"nsenter", "util-linux"},
	{"ip", "iproute2"},
	{"mount", "mount"},
	{"chroot", "coreutils"},
	{"mmdebstrap", "mmdebstrap"},
	{"sshd", "openssh-server"},
	{"ssh", "openssh-client"},
	{"nft", "nftables"},
	{"dpkg-deb", "dpkg"},
	{"dpkg-scanpackages", "dpkg-dev"},
	{"gcc", "gcc"},
	{"git", "git"},
}

// Preflight reports whether this machine can run a lab: Linux, root, overlayfs, working
// namespaces and the host programs the lab uses. The error lists everything that is missing.
func Preflight() error {
	var missing []string
	if runtime.GOOS != "linux" {
		return fmt.Errorf("lab needs Linux (this is %s)", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		missing = append(missing, fmt.Sprintf("root (running as uid %d)", os.Geteuid()))
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(fs), "\toverlay\n") {
		missing = append(missing, "overlayfs (no 'overlay' in /proc/filesystems; try: modprobe overlay)")
	}
	var cmds []string
	for _, c := range requiredCommands {
		if _, err := lookPath(c.name); err != nil {
			cmds = append(cmds, fmt.Sprintf("%s (apt-get install %s)", c.name, c.pkg))
		}
	}
	if len(cmds) > 0 {
		missing = append(missing, "commands: "+strings.Join(cmds, ", "))
	}
	if os.Geteuid() == 0 {
		if u, err := lookPath("unshare"); err == nil {
			out, err := exec.Command(u, "--mount", "--uts", "--pid", "--fork", "--propagation", "private", "/bin/sh", "-c", ":").CombinedOutput()
			if err != nil {
				missing = append(missing, fmt.Sprintf("working namespaces (unshare --mount --uts --pid failed: %v %s)", err, strings.TrimSpace(string(out))))
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab cannot run here; missing: %s", strings.Join(missing, "; "))
	}
	return nil
}

// lookPath finds a program in PATH or the sbin directories, which a non-login root shell may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := d + "/" + name
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}
