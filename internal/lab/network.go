package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The lab's network: one Linux bridge per lab on the controller ("sflbrS", address 198.18.S.1/24,
// RFC 2544's benchmarking range, so no real network is shadowed) and, per host, a named network
// namespace (/run/netns/sfl-S-I) holding its own loopback and an eth0 at 198.18.S.(100+I)/24,
// the far end of a veth pair whose near end ("sfvS-I") is a port of the bridge. The namespace
// outlives the host's boots (a reboot keeps its NIC and MAC, so the controller's ARP entry stays
// right) and is deleted by Down. Hosts on one lab reach each other through the bridge.

// subnetPrefix is the /16 the lab's subnets live in: a host is 198.18.<Subnet>.<100+i>.
const subnetPrefix = "198.18."

func (l *Lab) bridge() string          { return fmt.Sprintf("sflbr%d", l.cfg.Subnet) }
func (l *Lab) gateway() string         { return fmt.Sprintf("%s%d.1", subnetPrefix, l.cfg.Subnet) }
func (l *Lab) subnetCIDR() string      { return fmt.Sprintf("%s%d.0/24", subnetPrefix, l.cfg.Subnet) }
func (l *Lab) netnsName(i int) string  { return fmt.Sprintf("sfl-%d-%d", l.cfg.Subnet, i) }
func (l *Lab) vethName(i int) string   { return fmt.Sprintf("sfv%d-%d", l.cfg.Subnet, i) }
func hostAddress(subnet, i int) string { return fmt.Sprintf("%s%d.%d", subnetPrefix, subnet, 100+i) }
func (l *Lab) bridgeAlias() string     { return "sparkform-lab " + l.dir }
func (l *Lab) netnsPath(i int) string  { return "/run/netns/" + l.netnsName(i) }
func hostMAC(subnet, i int) string {
	return fmt.Sprintf("02:5f:6c:%02x:%02x:%02x", subnet, i>>8, i&0xff)
}
func (l *Lab) hostIndex(h HostInfo) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(h.Name, "spark-"))
	return n
}

// SubnetInUse reports whether a lab on this machine holds the subnet (its bridge exists).
func SubnetInUse(subnet int) bool {
	_, err := os.Stat(fmt.Sprintf("/sys/class/net/sflbr%d", subnet))
	return err == nil
}

// NetNS is the path of the host's network namespace (for `nsenter --net=PATH`).
func (l *Lab) NetNS(host string) (string, error) {
	h, err := l.Host(host)
	if err != nil {
		return "", err
	}
	return l.netnsPath(l.hostIndex(h)), nil
}

// ipBatch runs `ip [-n NS] -batch -` with the given commands. With force, a failing command does
// not stop the ones after it (used to remove what may not exist).
func ipBatch(ctx context.Context, netns string, force bool, cmds []string) error {
	if len(cmds) == 0 {
		return nil
	}
	var args []string
	if netns != "" {
		args = append(args, "-n", netns)
	}
	if force {
		args = append(args, "-force")
	}
	args = append(args, "-batch", "-")
	ip, err := lookPath("ip")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, ip, args...)
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil && !force {
		return fmt.Errorf("lab: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureBridge creates the lab's bridge, or checks that the one there is this lab's (a bridge of
// the same name belongs to another lab dir on the same subnet).
func (l *Lab) ensureBridge(ctx context.Context) error {
	br := l.bridge()
	if alias, err := os.ReadFile("/sys/class/net/" + br + "/ifalias"); err == nil {
		owner := strings.TrimSpace(string(alias))
		if owner == l.bridgeAlias() {
			return nil
		}
		// a lab whose directory is gone (a test killed before lab down) left it behind
		dir, ok := strings.CutPrefix(owner, "sparkform-lab ")
		if !ok || exists(filepath.Join(dir, "lab.json")) {
			return fmt.Errorf("lab: subnet %d is in use by another lab (bridge %s: %q)", l.cfg.Subnet, br, owner)
		}
		if err := ipBatch(ctx, "", false, []string{"link del " + br}); err != nil {
			return err
		}
	}
	if err := l.subnetFree(); err != nil {
		return err
	}
	return ipBatch(ctx, "", false, []string{
		"link add " + br + " type bridge",
		fmt.Sprintf("link set %s alias %q", br, l.bridgeAlias()),
		"addr add " + l.gateway() + "/24 dev " + br,
		"link set " + br + " up",
	})
}

// subnetFree refuses a subnet whose gateway address already exists on this machine.
func (l *Lab) subnetFree() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == l.gateway() {
				return fmt.Errorf("lab: %s already exists on %s: subnet %d is in use", l.gateway(), ifc.Name, l.cfg.Subnet)
			}
		}
	}
	return nil
}

// plugHosts gives each host a fresh network namespace wired to the bridge; hosts whose
// supervisor runs are not passed here (their namespace is in use).
func (l *Lab) plugHosts(ctx context.Context, hosts []HostInfo) error {
	if len(hosts) == 0 {
		return nil
	}
	var clean, root []string
	for _, h := range hosts {
		i := l.hostIndex(h)
		clean = append(clean, "link del "+l.vethName(i), "netns del "+l.netnsName(i))
		root = append(root, "netns add "+l.netnsName(i),
			fmt.Sprintf("link add %s type veth peer name eth0 address %s netns %s", l.vethName(i), hostMAC(l.cfg.Subnet, i), l.netnsName(i)),
			fmt.Sprintf("link set %s master %s up", l.vethName(i), l.bridge()))
	}
	// leftovers of a lab that was not taken down (or a machine that crashed) go first
	if err := ipBatch(ctx, "", true, clean); err != nil {
		return err
	}
	if err := ipBatch(ctx, "", false, root); err != nil {
		return err
	}
	for _, h := range hosts {
		i := l.hostIndex(h)
		if err := ipBatch(ctx, l.netnsName(i), false, []string{
			"link set lo up",
			"addr add " + h.Address + "/24 dev eth0",
			"link set eth0 up",
			"route add default via " + l.gateway(),
		}); err != nil {
			return err
		}
	}
	return nil
}

// unplug deletes the hosts' namespaces (their veth pairs go with them) and the bridge, when the
// subnet's bridge is this lab's or absent: the names are per subnet, and a lab whose Up was
// refused (another lab holds the subnet) must not take the other lab's network down.
func (l *Lab) unplug(ctx context.Context) error {
	ours, free := l.subnetOwner()
	if !ours && !free {
		return nil
	}
	var cmds []string
	for _, h := range l.cfg.Hosts {
		i := l.hostIndex(h)
		cmds = append(cmds, "link del "+l.vethName(i), "netns del "+l.netnsName(i))
	}
	if ours {
		cmds = append(cmds, "link del "+l.bridge())
	}
	return ipBatch(ctx, "", true, cmds)
}

// subnetOwner tells whether the subnet's bridge is this lab's, or absent (free).
func (l *Lab) subnetOwner() (ours, free bool) {
	alias, err := os.ReadFile("/sys/class/net/" + l.bridge() + "/ifalias")
	if err != nil {
		return false, true
	}
	return strings.TrimSpace(string(alias)) == l.bridgeAlias(), false
}

// readdress moves a host created by an older lab (listening on loopback) to its address on the
// lab network. Only for hosts that are not running: their disk is not mounted.
func (l *Lab) readdress(h *HostInfo) error {
	want := hostAddress(l.cfg.Subnet, l.hostIndex(*h))
	if h.Address == want {
		return nil
	}
	h.Address = want
	up := filepath.Join(h.Dir, "upper")
	if err := os.WriteFile(filepath.Join(up, "etc/ssh/sshd_config.d/10-listen.conf"), []byte(listenConf(*h)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(up, "etc/hosts"), []byte(etcHosts(*h)), 0o644)
}

func listenConf(h HostInfo) string { return fmt.Sprintf("ListenAddress %s:%d\n", h.Address, h.Port) }
func etcHosts(h HostInfo) string {
	return fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", h.Address, h.Name)
}

// The WAN delay (Options.Latency): see assets/host/delayd.c. Two iptables rules (mangle table:
// OUTPUT to the lab's subnet, INPUT from it) queue the packets between controller and hosts to
// the lab's own NFQUEUE number; delayd holds each for the delay. Packets between hosts (bridged)
// are not delayed.

const delayProgram = "delayd"

func (l *Lab) queueNum() int { return 21000 + l.cfg.Subnet }

func (l *Lab) delayRules() [][]string {
	q := strconv.Itoa(l.queueNum())
	return [][]string{
		{"-t", "mangle", "OUTPUT", "-d", l.subnetCIDR(), "-j", "NFQUEUE", "--queue-num", q, "--queue-bypass"},
		{"-t", "mangle", "INPUT", "-s", l.subnetCIDR(), "-j", "NFQUEUE", "--queue-num", q, "--queue-bypass"},
	}
}

func iptables(ctx context.Context, op string, rule []string) error {
	bin, err := lookPath("iptables")
	if err != nil {
		return fmt.Errorf("lab: -latency needs iptables (apt-get install iptables): %w", err)
	}
	args := append([]string{"-w", rule[0], rule[1], op}, rule[2:]...)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// delayPID is the pid of the lab's running delayd, or 0.
func (l *Lab) delayPID() int {
	pid := readPID(filepath.Join(l.dir, delayProgram+".pid"))
	if pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), delayProgram+"\x00"+strconv.Itoa(l.queueNum())+"\x00") {
		return 0
	}
	return pid
}

// setLatency makes the lab's WAN delay d (0: none): (re)starts delayd with it and installs the
// queue rules, or removes both.
func (l *Lab) setLatency(ctx context.Context, d time.Duration) error {
	running := l.delayPID()
	if running != 0 && (d == 0 || readPID(filepath.Join(l.dir, delayProgram+".us")) != int(d.Microseconds())) {
		l.stopDelay()
		running = 0
	}
	if d == 0 {
		return l.removeDelayRules(ctx)
	}
	if running == 0 {
		bin := filepath.Join(l.dir, "bin")
		if err := compileC(bin, delayProgram); err != nil {
			return err
		}
		logf, err := os.OpenFile(filepath.Join(l.dir, delayProgram+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.Command(filepath.Join(bin, delayProgram), strconv.Itoa(l.queueNum()), strconv.FormatInt(d.Microseconds(), 10))
		cmd.Dir = "/"
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		err = cmd.Start()
		logf.Close()
		if err != nil {
			return fmt.Errorf("lab: start %s: %w", delayProgram, err)
		}
		pid := cmd.Process.Pid
		go cmd.Wait() // reaped if it dies while we run; it outlives us otherwise
		if err := os.WriteFile(filepath.Join(l.dir, delayProgram+".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(l.dir, delayProgram+".us"), []byte(strconv.FormatInt(d.Microseconds(), 10)+"\n"), 0o644); err != nil {
			return err
		}
		// bound to its queue once it has logged its settings; a failure exits at once
		for i := 0; ; i++ {
			data, _ := os.ReadFile(filepath.Join(l.dir, delayProgram+".log"))
			if l.delayPID() == 0 || syscall.Kill(pid, 0) != nil {
				return fmt.Errorf("lab: %s did not start: %s", delayProgram, tail(data, 400))
			}
			if strings.Contains(string(data), fmt.Sprintf("delayd: queue %d,", l.queueNum())) {
				break
			}
			if i > 200 {
				return fmt.Errorf("lab: %s did not bind its queue in time", delayProgram)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, r := range l.delayRules() {
		if iptables(ctx, "-C", r) == nil {
			continue
		}
		if err := iptables(ctx, "-A", r); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	return nil
}

func (l *Lab) stopDelay() {
	if p := l.delayPID(); p > 0 {
		_ = syscall.Kill(p, syscall.SIGTERM)
		for i := 0; i < 200 && l.delayPID() != 0; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if p := l.delayPID(); p > 0 {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	os.Remove(filepath.Join(l.dir, delayProgram+".pid"))
	os.Remove(filepath.Join(l.dir, delayProgram+".us"))
}

func (l *Lab) removeDelayRules(ctx context.Context) error {
	if _, err := lookPath("iptables"); err != nil {
		return nil // never installed, so no rules
	}
	if ours, free := l.subnetOwner(); !ours && !free {
		return nil // the rules are another lab's (same subnet, same queue)
	}
	for _, r := range l.delayRules() {
		for iptables(ctx, "-C", r) == nil {
			if err := iptables(ctx, "-D", r); err != nil {
				return fmt.Errorf("lab: %w", err)
			}
		}
	}
	return nil
}

// Latency is the one-way delay the lab adds between the controller and its hosts (0: none).
func (l *Lab) Latency() time.Duration { return time.Duration(l.cfg.LatencyUS) * time.Microsecond }
