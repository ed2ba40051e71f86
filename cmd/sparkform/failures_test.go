package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
)

// failedFleet is the result of an apply on the hosts of p that all failed, host i with msg(i, host, address).
func failedFleet(t *testing.T, p *engine.Plan, msg func(i int, h *engine.HostPlan) string) (*engine.Result, *runLogs) {
	logs := newRunLogs(t.TempDir(), "apply")
	res := &engine.Result{}
	for i, h := range p.Hosts {
		m := msg(i, h)
		logs.write(h.Name, engine.Event{Host: h.Name, Addr: "kernel.nvidia", Kind: "output", Message: "E: Unable to locate package linux-nvidia-6.17"})
		res.Hosts = append(res.Hosts, &engine.HostResult{Name: h.Name, Status: engine.StatusFailed, Error: m})
	}
	logs.close()
	return res, logs
}

func unreachable(h *engine.HostPlan) string {
	return fmt.Sprintf("%s (%s:22): connecting: dial tcp %s:22: connect: no route to host", h.Name, h.Address, h.Address)
}

const aptFailed = "kernel.nvidia: failed (exit 100): E: Unable to locate package linux-nvidia-6.17"

func TestOneHundredHostsFailingTheSameWayAreOneErrorBlock(t *testing.T) {
	for name, msg := range map[string]func(int, *engine.HostPlan) string{
		"the same apt error":                   func(int, *engine.HostPlan) string { return aptFailed },
		"unreachable, each naming its address": func(_ int, h *engine.HostPlan) string { return unreachable(h) },
	} {
		p := fleetPlan(100)
		res, logs := failedFleet(t, p, msg)
		var b bytes.Buffer
		renderResult(&b, p, res, style{}, logs)
		out := b.String()
		if n := strings.Count(out, "\n"); strings.Count(out, "Error: ") != 1 || strings.Count(out, "last lines of ") != 1 || n > 20 ||
			!strings.Contains(out, "Error: spark-[001-100] (100 hosts): "+msg(0, p.Hosts[0])+"\n") ||
			!strings.Contains(out, "last lines of "+logs.path("spark-001")+" (the others' logs are beside it):") {
			t.Errorf("%s: want one error block for 100 hosts, with one log tail, in at most 20 lines; got %d:\n%s", name, n, out)
		}
		// The table's row names no host where it stands for 100.
		if !strings.Contains(out, "spark-[001-100]  100    failed") || strings.Contains(out, "failed  spark-001") {
			t.Errorf("%s: table:\n%s", name, out)
		}
	}
}

func TestTwoKindsOfFailureAreTwoBlocks(t *testing.T) {
	p := fleetPlan(100)
	res, logs := failedFleet(t, p, func(i int, h *engine.HostPlan) string {
		if i >= 60 {
			return unreachable(h)
		}
		return aptFailed
	})
	var b bytes.Buffer
	renderResult(&b, p, res, style{}, logs)
	out := b.String()
	wantAll(t, "output", out,
		"\nError: spark-[001-060] (60 hosts): "+aptFailed+"\n  last lines of ",
		"\nError: spark-[061-100] (40 hosts): spark-061 (10.0.0.61:22): connecting: dial tcp 10.0.0.61:22: connect: no route to host\n"+
			"  (as spark-061 reported it; the others' messages name their own host)\n  last lines of ",
		"spark-[061-100]  40     failed  <host> (<address>): connecting: dial tcp <address>: connect: no route to host",
	)
	if n := strings.Count(out, "Error: "); n != 2 {
		t.Errorf("%d error blocks, want 2:\n%s", n, out)
	}
}

func TestAMessageNamingItsHostElsewhereDoesNotMergeDifferentErrors(t *testing.T) {
	f := func(host, addr, msg string) failure { return failure{host, addr, msg} }
	for _, c := range []struct {
		why   string
		a, b  failure
		alike bool
	}{
		{"the name inside a longer name", f("spark-1", "10.0.0.1", "spark-1: package spark-10-tools not found"),
			f("spark-2", "10.0.0.2", "spark-2: package spark-20-tools not found"), false},
		{"the address inside a longer address", f("spark-1", "10.0.0.1", "spark-1: no route to 10.0.0.12"),
			f("spark-2", "10.0.0.2", "spark-2: no route to 10.0.0.22"), false},
		{"another host named", f("spark-01", "10.0.0.1", "spark-01: waiting for spark-02"),
			f("spark-02", "10.0.0.2", "spark-02: waiting for spark-03"), false},
		{"a word that looks like a placeholder", f("spark-3", "10.0.0.3", "spark-3: HOST is down"),
			f("spark-4", "10.0.0.4", "spark-4: spark-4 is down"), false},
		{"a NUL where a masked name would be", f("spark-5", "10.0.0.5", "\x00n: is down"), f("spark-6", "10.0.0.6", "spark-6: is down"), false},
		{"parentheses that are no endpoint", f("spark-7", "10.0.0.7", "spark-7 (disk0): full"), f("spark-8", "10.0.0.8", "spark-8 (disk1): full"), false},

		{"the endpoint ssh_config resolved", f("spark-02", "spark-02.lan", "spark-02 (198.18.131.102:22): connecting: dial tcp 198.18.131.102:22: connect: connection refused"),
			f("spark-03", "spark-03.lan", "spark-03 (198.18.131.103:22): connecting: dial tcp 198.18.131.103:22: connect: connection refused"), true},
		{"the label after the step", f("spark-02", "198.18.131.102", "sysctl.loading: spark-02 (198.18.131.102:22): dropped the connection (rebooting, crashed, sshd restarted, or the network reset it)"),
			f("spark-03", "198.18.131.103", "sysctl.loading: spark-03 (198.18.131.103:22): dropped the connection (rebooting, crashed, sshd restarted, or the network reset it)"), true},
		{"a name ending a sentence", f("spark-1", "", "lost spark-1."), f("spark-2", "", "lost spark-2."), true},
		{"an IPv6 endpoint", f("a", "fd00::1", "a ([fd00::1]:22): refused by fd00::1"), f("b", "fd00::2", "b ([fd00::2]:22): refused by fd00::2"), true},
	} {
		if alike := failureKey(c.a) == failureKey(c.b); alike != c.alike {
			t.Errorf("%s: %q and %q alike: %v, want %v", c.why, c.a.msg, c.b.msg, alike, c.alike)
		}
		var b bytes.Buffer
		failureView{}.write(&b, []failure{c.a, c.b})
		if n, want := strings.Count(b.String(), "Error: "), map[bool]int{true: 1, false: 2}[c.alike]; n != want {
			t.Errorf("%s: %d blocks, want %d:\n%s", c.why, n, want, b.String())
		}
	}
}

func TestPlanOfOneHundredUnreachableHostsIsOneBlockAndOneError(t *testing.T) {
	p := fleetPlan(100)
	for _, h := range p.Hosts {
		h.Changes, h.Error = nil, unreachable(h)
	}
	var out, errs bytes.Buffer
	renderPlan(&out, p, style{})
	failureView{}.write(&errs, planFailures(p))
	if strings.Count(out.String(), "could not be planned") != 2 || strings.Count(out.String(), "\n") > 6 {
		t.Errorf("plan:\n%s", out.String())
	}
	want := "Error: spark-[001-100] (100 hosts): " + unreachable(p.Hosts[0]) + "\n  (as spark-001 reported it; the others' messages name their own host)\n"
	if errs.String() != want {
		t.Errorf("errors:\n%s\nwant:\n%s", errs.String(), want)
	}
	t.Logf("a plan of 100 unreachable hosts: %d lines on stdout, %d on stderr", strings.Count(out.String(), "\n"), strings.Count(errs.String(), "\n"))
	// Beside hosts that could be planned, the summary row of 40 unreachable ones names none of them.
	p = fleetPlan(100)
	for _, h := range p.Hosts[:40] {
		h.Changes, h.Error = nil, unreachable(h)
	}
	out.Reset()
	renderPlan(&out, p, style{})
	if !strings.Contains(out.String(), "  spark-[001-040]     40    -       -        -  error: <host> (<address>): connecting: dial tcp <address>: connect: no route to host\n") {
		t.Errorf("summary:\n%s", out.String())
	}
}

func TestHostsFailingAStepTheSameWayShareALineAfterTheFirst(t *testing.T) {
	p := fleetPlan(100)
	logs := newRunLogs(t.TempDir(), "apply")
	b := new(bytes.Buffer)
	v := newApplyView(b, style{}, false, logs, p)
	res := &engine.Result{}
	for _, h := range p.Hosts {
		v.event(engine.Event{Host: h.Name, Addr: "kernel.nvidia", Kind: "apply_start", Message: "update"})
	}
	for i, h := range p.Hosts {
		msg := aptFailed
		if i == 41 { // one host fails otherwise
			msg = "kernel.nvidia: failed (exit 1): dpkg: error: dpkg frontend lock is locked by another process"
		}
		v.event(engine.Event{Host: h.Name, Addr: "kernel.nvidia", Kind: "apply_error", Message: msg, Elapsed: time.Duration(i+1) * 100 * time.Millisecond})
		v.event(engine.Event{Host: h.Name, Kind: "host_failed", Message: msg})
		res.Hosts = append(res.Hosts, &engine.HostResult{Name: h.Name, Status: engine.StatusFailed, Error: msg})
	}
	v.close()
	live := b.String()
	renderResult(b, p, res, style{}, logs)
	n := strings.Count(b.String(), "\n")
	t.Logf("an apply of 100 hosts failing one step (98 alike): %d lines", n)
	if n > 30 {
		t.Errorf("%d lines:\n%s", n, b.String())
	}
	want := "spark-001: kernel.nvidia: failed after 0.1s (exit 100): E: Unable to locate package linux-nvidia-6.17\n" +
		"spark-042: kernel.nvidia: failed after 4.2s (exit 1): dpkg: error: dpkg frontend lock is locked by another process\n" +
		"spark-[002-041,043-100]: kernel.nvidia: failed after 10s, as spark-001 did (98 hosts)\n"
	if live != want {
		t.Errorf("got:\n%s\nwant:\n%s", live, want)
	}
}

// The line of several hosts names none of them: spark-061's address on a line for 39 hosts read
// as every host's.
func TestDriftOfHostsThatCouldNotBeReadAlikeIsOneLine(t *testing.T) {
	rep := engine.DriftReport{}
	for i := 1; i <= 100; i++ {
		h := engine.DriftHost{Name: fmt.Sprintf("spark-%03d", i)}
		if i > 60 {
			h.Error = fmt.Sprintf("spark-%03d (10.0.0.%d:22): connecting: connection refused", i, i)
		}
		if i == 100 {
			h.Error = "spark-100 (10.0.0.100:22): connecting: i/o timeout"
		}
		rep.Hosts = append(rep.Hosts, h)
	}
	var b bytes.Buffer
	renderDrift(&b, rep)
	want := `spark-[001-060]: in sync
spark-[061-099] (39 hosts): could not be read: <host> (<address>): connecting: connection refused
spark-100: could not be read: spark-100 (10.0.0.100:22): connecting: i/o timeout

0 of 100 hosts drifted, 40 could not be read.
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A table row of failed hosts stays within tableWidth: beside a host list such as the lab's
// spark-[001,003,005,007,009], a long error made plan's and apply's rows ~190 characters. The
// cut row ends with "…"; the whole error is in its block.
func TestTableRowsOfFailedHostsStayWithinTheWidth(t *testing.T) {
	long := func(i int, h *engine.HostPlan) string {
		if i%2 == 1 || i > 8 {
			return ""
		}
		return unreachable(h) + "; check the address and that sshd runs on it, then run the command again"
	}
	p := fleetPlan(100)
	for i, h := range p.Hosts {
		if msg := long(i, h); msg != "" {
			h.Changes, h.Error = nil, msg
		}
	}
	var b bytes.Buffer
	renderPlan(&b, p, style{})
	plan := b.String()
	p = fleetPlan(100)
	res, logs := failedFleet(t, p, long)
	for _, h := range res.Hosts {
		if h.Error == "" {
			h.Status, h.Generation = engine.StatusApplied, 1
		}
	}
	b.Reset()
	renderResult(&b, p, res, style{}, logs)
	for name, out := range map[string]string{"plan": plan, "apply": b.String()} {
		rows := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "  spark-[001,003,005,007,009]  ") {
				rows++
				if n := len([]rune(l)); n > tableWidth || !strings.HasSuffix(l, "…") {
					t.Errorf("%s: a row of %d characters, want at most %d, cut: %s", name, n, tableWidth, l)
				}
			}
		}
		if rows != 1 {
			t.Errorf("%s: %d rows of the failed hosts, want 1:\n%s", name, rows, out)
		}
	}
}
