package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nftTable is the lab's own nft table (inet family): a set of blocked addresses and an input
// hook dropping their packets. Per lab, so that labs of concurrent test packages do not meet.
func (l *Lab) nftTable() string { return "sparkform_lab_" + l.labID() }

func nft(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, "nft", args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Partition drops every packet between the controller and the host (both directions: the output
// hook to its address, the input hook from it): new connections time out, open sessions hang
// until they give up or Heal is called.
func (l *Lab) Partition(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	t := l.nftTable()
	if nft(ctx, "", "list", "table", "inet", t) != nil {
		rules := fmt.Sprintf(`table inet %s {
  set blocked { type ipv4_addr; }
  chain input { type filter hook input priority -10; policy accept; ip saddr @blocked drop; }
  chain output { type filter hook output priority -10; policy accept; ip daddr @blocked drop; }
}
`, t)
		if err := nft(ctx, rules, "-f", "-"); err != nil {
			return err
		}
	}
	if err := nft(ctx, "", "add", "element", "inet", t, "blocked", "{ "+h.Address+" }"); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.Dir, "partitioned"), nil, 0o644)
}

// Heal undoes Partition.
func (l *Lab) Heal(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	os.Remove(filepath.Join(h.Dir, "partitioned"))
	t := l.nftTable()
	if nft(ctx, "", "list", "table", "inet", t) != nil {
		return nil // nothing was partitioned
	}
	err = nft(ctx, "", "delete", "element", "inet", t, "blocked", "{ "+h.Address+" }")
	if err != nil && !strings.Contains(err.Error(), "No such file") {
		return err
	}
	return nil
}

func (l *Lab) deleteNftTable(ctx context.Context) error {
	t := l.nftTable()
	if nft(ctx, "", "list", "table", "inet", t) != nil {
		return nil
	}
	return nft(ctx, "", "delete", "table", "inet", t)
}

// NftTable is the name of the lab's nft table (family inet); it exists only while a host is or
// was partitioned, and Down deletes it.
func (l *Lab) NftTable() string { return l.nftTable() }

// namespacePIDs lists the host-side pids of every process in the host's pid namespace.
func (l *Lab) namespacePIDs(h HostInfo) ([]int, error) {
	p1 := l.pid1(h)
	if p1 == 0 {
		return nil, fmt.Errorf("lab: %s is not running", h.Name)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p1))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && link == ns {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Freeze stops every process of the host (SIGSTOP): connections are accepted by the kernel but
// the SSH banner never comes; open sessions hang. Thaw resumes them.
func (l *Lab) Freeze(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "frozen"), nil, 0o644); err != nil {
		return err
	}
	stopped := map[int]bool{}
	// processes may fork while we go: repeat until a pass finds nothing new
	for pass := 0; pass < 20; pass++ {
		pids, err := l.namespacePIDs(h)
		if err != nil {
			return err
		}
		fresh := 0
		for _, p := range pids {
			if !stopped[p] {
				_ = syscall.Kill(p, syscall.SIGSTOP)
				stopped[p] = true
				fresh++
			}
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("lab: %s kept forking while being frozen", h.Name)
}

// Thaw resumes a frozen host (SIGCONT to every process of its pid namespace).
func (l *Lab) Thaw(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	pids, err := l.namespacePIDs(h)
	if err != nil {
		return err
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGCONT)
	}
	return os.Remove(filepath.Join(h.Dir, "frozen"))
}

// Crash cuts the host's power: PID 1 is killed (SIGKILL) and every process with it; connections
// are refused until the host boots again after the reboot delay. Returns once the host is dead.
func (l *Lab) Crash(ctx context.Context, host string) error {
	return l.signalPID1(ctx, host, syscall.SIGKILL)
}

// Reboot reboots the host cleanly (as `reboot` inside it would): returns once it is down; it boots
// again after the reboot delay (see WaitUp).
func (l *Lab) Reboot(ctx context.Context, host string) error {
	return l.signalPID1(ctx, host, syscall.SIGTERM)
}

// PowerOff shuts the host down and leaves it off until PowerOn (or Up).
func (l *Lab) PowerOff(ctx context.Context, host string) error {
	if err := l.signalPID1(ctx, host, syscall.SIGUSR2); err != nil {
		return err
	}
	h, _ := l.Host(host)
	for l.supervisorPID(h) != 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// PowerOn boots a host that is off (or down). It does not wait for it: see WaitUp.
func (l *Lab) PowerOn(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if l.supervisorPID(h) != 0 {
		return nil
	}
	return l.start(ctx, h)
}

// signalPID1 signals the host's PID 1 and waits until that process is gone.
func (l *Lab) signalPID1(ctx context.Context, host string, sig syscall.Signal) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	p := l.pid1(h)
	if p == 0 {
		return fmt.Errorf("lab: %s is not running", h.Name)
	}
	if err := syscall.Kill(p, sig); err != nil {
		return fmt.Errorf("lab: signal %s: %w", h.Name, err)
	}
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p)); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: %s did not go down: %w", h.Name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// LastPID is the last pid handed out in the host's pid namespace: its
// /proc/sys/kernel/ns_last_pid, which the kernel answers for the reader's pid namespace, so it
// is read by a process started there (nsenter --pid), which takes one pid itself. The processes
// (and threads) a host started between two readings a and b are b - a - 1.
func (l *Lab) LastPID(ctx context.Context, host string) (int, error) {
	h, err := l.Host(host)
	if err != nil {
		return 0, err
	}
	p := l.pid1(h)
	if p == 0 {
		return 0, fmt.Errorf("lab: %s is not running", h.Name)
	}
	out, err := exec.CommandContext(ctx, nsenterProgram, "--target", strconv.Itoa(p), "--pid", "--", "/bin/cat", "/proc/sys/kernel/ns_last_pid").Output()
	if err != nil {
		return 0, fmt.Errorf("lab: ns_last_pid of %s: %w", h.Name, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}
