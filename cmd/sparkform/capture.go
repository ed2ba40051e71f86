package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/atomicfile"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/suggest"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
)

// capture [HOST | user@address[:port]] [-dir DIR] [-o FILE] [-sysctl KEY]... [-venv PATH]...
// [-llama-dir DIR]...: read a host set up by hand (read-only, one round trip) and write HCL that
// reproduces its settings on other hosts.
func runCapture(in *invocation, o *captureFlags) int {
	target, rf, stdout, stderr := in.arg, &in.runFlags, in.stdout, in.stderr
	ctx, _, stop := interruptible(stderr, true)
	defer stop()

	var h provider.Host
	var label string
	if strings.Contains(target, "@") {
		cfg, err := parseDirectTarget(target)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		if o.policy != provider.PolicyStrict && o.policy != provider.PolicyAcceptNew {
			return errorf(stderr, "-host-key-policy %q: use %s or %s", o.policy, provider.PolicyStrict, provider.PolicyAcceptNew)
		}
		cfg.IdentityFile, cfg.KnownHosts, cfg.HostKeyPolicy = o.identity, o.knownHosts, o.policy
		cfg.Timeouts = provider.DefaultTimeouts
		cfg.Timeouts.Connect = rf.connectTimeout
		label = target
		if h, err = provider.Dial(ctx, cfg); err != nil {
			return errorf(stderr, "%v", err)
		}
	} else {
		if o.identity != "" || o.knownHosts != "" || o.policy != provider.PolicyStrict {
			return errorf(stderr, "-identity-file, -known-hosts and -host-key-policy are for user@address; a host block sets its own")
		}
		cfg, ok := loadConfig(o.dir, rf, stderr)
		if !ok {
			return 1
		}
		hc, err := pickHost(cfg, target)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		// Host keys are checked as for plan: known_hosts per the host block, and the key state pinned.
		store, err := openState(ctx, o.dir, rf.state)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		st, err := store.Load()
		store.Close()
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		pinned := ""
		if hs := st.Hosts[hc.Name]; hs != nil {
			pinned = hs.HostKey
		}
		label = fmt.Sprintf("%s (%s)", hc.Name, hc.Address)
		if h, err = dialer(rf.connectTimeout)(ctx, hc, pinned); err != nil {
			return errorf(stderr, "%v", err)
		}
	}
	defer h.Close()

	opts := resources.CaptureOptions{SysctlKeys: o.sysctls, Venvs: o.venvs, LlamaDirs: o.llamaDirs}
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	blocks, notes, err := engine.Capture(cctx, h, opts)
	if err != nil {
		return errorf(stderr, "%s: %v", label, err)
	}
	src, err := engine.RenderCapture(label, time.Now().UTC(), blocks, notes)
	if err != nil {
		return errorf(stderr, "%s: %v", label, err)
	}
	if o.outPath == "" {
		stdout.Write(src)
		return 0
	}
	if err := atomicfile.Write(o.outPath, src, 0o644); err != nil {
		return errorf(stderr, "writing %s: %v", o.outPath, err)
	}
	fmt.Fprintf(stdout, "Captured %s from %s into %s. Review it, put it beside the other hosts' host blocks, then plan and apply.\n", plural(len(blocks), "block"), label, o.outPath)
	// Each note says what was not captured and why ("smoke_test: not captured: …").
	for _, n := range notes {
		fmt.Fprintf(stdout, "  - %s\n", termsafe.Line(n))
	}
	return 0
}

// captureFlags are capture's own flags.
type captureFlags struct {
	dir, outPath                 string
	timeout                      time.Duration
	sysctls, venvs, llamaDirs    multiFlag
	identity, knownHosts, policy string
}

func (o *captureFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&o.dir, "dir", ".", "configuration directory holding the host block named HOST (as sparkform -chdir=DIR capture)")
	fs.StringVar(&o.outPath, "o", "", "write the HCL to FILE (atomically) instead of standard output")
	durationVar(fs, &o.timeout, "timeout", 2*time.Minute, "how long reading the host may take")
	fs.Var(&o.sysctls, "sysctl", "also capture this sysctl key (repeatable)")
	fs.Var(&o.venvs, "venv", "capture the Python venv at PATH (repeatable)")
	fs.Var(&o.llamaDirs, "llama-dir", "capture the llama.cpp build in DIR (repeatable)")
	fs.StringVar(&o.identity, "identity-file", "", "user@address: private key (default: ssh-agent, ~/.ssh/config)")
	fs.StringVar(&o.knownHosts, "known-hosts", "", "user@address: known_hosts file (default ~/.ssh/known_hosts)")
	fs.StringVar(&o.policy, "host-key-policy", provider.PolicyStrict, "user@address: strict, or accept-new (pin an unknown key on first use)")
}

// parseDirectTarget reads user@address[:port] (an IPv6 address in brackets when a port is given).
func parseDirectTarget(t string) (provider.Config, error) {
	user, hostport, _ := strings.Cut(t, "@")
	c := provider.Config{Name: t, User: user, Address: hostport}
	if user == "" || hostport == "" {
		return c, fmt.Errorf("%q: give user@address[:port]", t)
	}
	if strings.HasPrefix(hostport, "[") || strings.Count(hostport, ":") == 1 {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return c, fmt.Errorf("%q: %v", t, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return c, fmt.Errorf("%q: port %q is not a number from 1 to 65535", t, port)
		}
		c.Address, c.Port = host, p
	}
	if strings.ContainsAny(c.Address, " \t\n/@") || c.Address == "" {
		return c, fmt.Errorf("%q: %q is not a host name or address", t, c.Address)
	}
	return c, nil
}

// pickHost finds the host block to capture; with no name, the configuration's only host.
func pickHost(cfg *config.Config, name string) (*config.Host, error) {
	var names []string
	for _, h := range cfg.Hosts {
		if h.Name == name {
			return h, nil
		}
		names = append(names, h.Name)
	}
	switch {
	case name == "" && len(cfg.Hosts) == 1:
		return cfg.Hosts[0], nil
	case name == "":
		return nil, fmt.Errorf("capture needs a host: a host block name of %s (%s) or user@address", cfg.Dir, allHosts(names))
	}
	return nil, fmt.Errorf("no host %q in the configuration in %s (hosts: %s); or give user@address.%s", name, cfg.Dir, allHosts(names), suggest.Hint(name, names))
}
