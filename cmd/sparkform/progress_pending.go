package main

// Finished steps: held a moment so hosts finishing the same step, and a host's changes ending
// together, share one line; printed in order per host.

import (
	"slices"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
)

// pendingLine is a finished step waiting a moment so the same step finishing on other hosts
// joins it: 50 hosts of a batch creating sysctl.loading print one line, naming all 50 hosts.
// Finished steps of the same hosts ending together (a host's sysctl and read-ahead changes run in
// one exec) share a line too. A host's test results, all its tests, are one line; hosts whose
// tests all passed in the same modes share it, with the spread of their load times.
type pendingLine struct {
	key     string
	hosts   []string
	addr    string
	text    func(st style) string
	verb    string // a finished step ("created"): lines of the same hosts and verb are merged
	elapsed time.Duration
	since   time.Time
	// A host's test results wait until the host moves on (ends, or starts a change); passed
	// ones (joinable) then wait for other hosts' as a finished step does (since: when it moved on).
	hostTests, released, joinable bool
	failure                       bool   // hosts that failed alike (failLine)
	label                         string // "before the changes: " for results from before an apply's changes
	tests                         []testPart
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

// release lets the host's pending test lines go: the host moved on. Its passed results join
// a line of other hosts' of the same shape, unless a line of its own comes between them (a
// line never overtakes an earlier one of its hosts), or wait for others to join them; not those
// of a host that failed after them (its results come before its failure, at once).
func (v *applyView) release(host string, failed bool) {
	for i, p := range v.pending {
		if !p.hostTests || p.released || p.hosts[0] != host {
			continue
		}
		p.released, p.since, p.joinable = true, time.Now(), !failed && p.passed()
		if !p.joinable {
			continue
		}
		for j := i - 1; j >= 0; j-- {
			q := v.pending[j]
			if q.joinable && q.shape() == p.shape() {
				q.join(p)
				v.pending = slices.Delete(v.pending, i, i+1)
				return
			}
			if slices.Contains(q.hosts, host) {
				break
			}
		}
		return
	}
}

// stillJoinable reports whether a line of passed results still waits for other hosts' to join it, even
// when every other line goes out: its hosts have ended (nothing of theirs can come after it).
func (v *applyView) stillJoinable(p *pendingLine) bool {
	if !p.joinable || v.closing || time.Since(p.since) >= v.testsWorthWaiting(p) {
		return false
	}
	for _, h := range p.hosts {
		if v.active[h] {
			return false
		}
	}
	return true
}

// testsWorthWaiting is how long a line of passed results may wait for other hosts': joinWindow
// while another host (of the batch) that has tests is still at work, else 0.
func (v *applyView) testsWorthWaiting(p *pendingLine) time.Duration {
	for h := range v.active {
		if !slices.Contains(p.hosts, h) && (v.batch == nil || slices.Contains(v.batch, h)) && (v.testers == nil || v.testers[h]) {
			return joinWindow
		}
	}
	return 0
}

// flush prints pending lines that waited long enough, or that no other host can join any more
// (all of them when all is set). Finished steps ready together on the same hosts share a line.
// A line never overtakes an earlier one of one of its hosts.
func (v *applyView) flush(all bool) {
	keep, ready := v.pending[:0], []*pendingLine{}
	waiting := map[string]bool{}
	for _, p := range v.pending {
		wait, stay := time.Since(p.since) < v.worthWaiting(p), false
		if p.failure {
			wait = time.Since(p.since) < v.failuresWorthWaiting(p)
			stay = wait && v.keepFailures
		}
		if p.hostTests {
			wait = !p.released || p.joinable && time.Since(p.since) < v.testsWorthWaiting(p)
		}
		for _, h := range p.hosts {
			wait = wait || waiting[h]
		}
		if !all && wait || stay || v.stillJoinable(p) {
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
			if p.verb != "" && q != nil && q.verb == p.verb && allHosts(q.hosts) == allHosts(p.hosts) {
				addrs = append(addrs, termsafe.Line(q.addr))
				p.elapsed = max(p.elapsed, q.elapsed)
				ready[i+1+j] = nil
			}
		}
		if p.addr == "" { // a host's failure, not a step's
			v.printf("%s: %s\n", termsafe.Line(hosts), p.text(v.st))
			continue
		}
		v.printf("%s: %s: %s\n", termsafe.Line(hosts), strings.Join(addrs, ", "), p.text(v.st))
	}
}
