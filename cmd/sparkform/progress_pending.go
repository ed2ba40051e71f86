package main

// Finished steps: held a moment so hosts finishing the same step, and a host's changes ending
// together, share one line; printed in order per host.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
)

// pendingLine is a finished step waiting a moment so the same step finishing on other hosts
// joins it: 50 hosts of a batch creating sysctl.loading print one line, naming all 50 hosts.
// Finished steps of the same hosts ending together (a host's sysctl and read-ahead changes run in
// one exec) share a line too, and a host's test results, all its tests, are one line.
type pendingLine struct {
	key     string
	hosts   []string
	addr    string
	text    func(st style) string
	verb    string // a finished step ("created"): lines of the same hosts and verb are merged
	elapsed time.Duration
	since   time.Time
	// A host's test results wait until the host moves on (ends, or starts a change).
	hostTests, released bool
	tests               []testPart
}

// testPart is one test's results in a host's test line: one part per mode.
type testPart struct {
	addr    string
	parts   []string
	failed  bool
	elapsed time.Duration
}

// addTest adds one mode's result of test addr to a host's test line.
func (p *pendingLine) addTest(addr, part string, passed bool, elapsed time.Duration) {
	if n := len(p.tests); n == 0 || p.tests[n-1].addr != addr {
		p.tests = append(p.tests, testPart{addr: addr})
	}
	tp := &p.tests[len(p.tests)-1]
	tp.parts = append(tp.parts, part)
	tp.failed = tp.failed || !passed
	tp.elapsed = max(tp.elapsed, elapsed)
}

// testText is a host's test line after its first test's address: each test's medians by mode,
// the verdict (FAILED if any mode of any test failed) and the time all of them took.
func (p *pendingLine) testText(st style, label string) string {
	var b strings.Builder
	failed, total := false, time.Duration(0)
	for i, tp := range p.tests {
		if i > 0 {
			b.WriteString("; " + termsafe.Line(tp.addr) + ": ")
		}
		b.WriteString(strings.Join(tp.parts, ", "))
		failed = failed || tp.failed
		total += tp.elapsed
	}
	verdict := st.green("passed")
	if failed {
		verdict = st.red("FAILED")
	}
	return fmt.Sprintf("%s%s (medians): %s (%s)", label, b.String(), verdict, fmtDuration(total))
}

// A finished step waits up to joinWindow for the same step on other hosts still in it (the
// status line or heartbeats show them meanwhile), and up to coalesceWindow for another change of
// its hosts that may end with it.
var (
	joinWindow     = 5 * time.Second
	coalesceWindow = 700 * time.Millisecond
)

// add queues a finished step, joining a pending one with the same key.
func (v *applyView) add(key, host, addr string, elapsed time.Duration, text func(style) string) *pendingLine {
	for _, p := range v.pending {
		if p.key == key {
			if !slices.Contains(p.hosts, host) {
				p.hosts = append(p.hosts, host)
			}
			p.elapsed = max(p.elapsed, elapsed)
			return p
		}
	}
	p := &pendingLine{key: key, hosts: []string{host}, addr: addr, text: text, elapsed: elapsed, since: time.Now()}
	v.pending = append(v.pending, p)
	return p
}

// worthWaiting is how long a finished line may wait for company: joinWindow while another host
// (of the batch, at work) is still in the same step or has it still to do, coalesceWindow while
// one of its hosts is in another change that may end with it, else 0.
func (v *applyView) worthWaiting(p *pendingLine) time.Duration {
	for k := range v.planned {
		if k.addr == p.addr && v.active[k.host] && !slices.Contains(p.hosts, k.host) && (v.batch == nil || slices.Contains(v.batch, k.host)) {
			return joinWindow
		}
	}
	var w time.Duration
	for k, s := range v.steps {
		if k.addr == p.addr && !slices.Contains(p.hosts, k.host) {
			return joinWindow
		}
		if p.verb != "" && k.addr != p.addr && slices.Contains(p.hosts, k.host) && s.verb != "testing" && s.verb != "rebooting" {
			w = coalesceWindow
		}
	}
	return w
}

// release lets the host's pending test lines go: the host moved on.
func (v *applyView) release(host string) {
	for _, p := range v.pending {
		if p.hostTests && p.hosts[0] == host {
			p.released = true
		}
	}
}

// flush prints pending lines that waited long enough, or that no other host can join any more
// (all of them when all is set). Finished steps ready together on the same hosts share a line.
// A line never overtakes an earlier one of one of its hosts.
func (v *applyView) flush(all bool) {
	keep, ready := v.pending[:0], []*pendingLine{}
	waiting := map[string]bool{}
	for _, p := range v.pending {
		wait := time.Since(p.since) < v.worthWaiting(p)
		if p.hostTests {
			wait = !p.released
		}
		for _, h := range p.hosts {
			wait = wait || waiting[h]
		}
		if !all && wait {
			for _, h := range p.hosts {
				waiting[h] = true
			}
			keep = append(keep, p)
			continue
		}
		ready = append(ready, p)
	}
	v.pending = keep
	for i, p := range ready {
		if p == nil {
			continue
		}
		hosts, addrs := compactHosts(p.hosts), []string{termsafe.Line(p.addr)}
		for j, q := range ready[i+1:] {
			if p.verb != "" && q != nil && q.verb == p.verb && compactHosts(q.hosts) == hosts {
				addrs = append(addrs, termsafe.Line(q.addr))
				p.elapsed = max(p.elapsed, q.elapsed)
				ready[i+1+j] = nil
			}
		}
		v.printf("%s: %s: %s\n", termsafe.Line(hosts), strings.Join(addrs, ", "), p.text(v.st))
	}
}
