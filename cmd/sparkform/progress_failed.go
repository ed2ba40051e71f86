package main

// Failed steps and hosts in the apply view: the first failure of a kind is said at once, in
// full; hosts failing the same way after it share one line naming it.

import (
	"fmt"
	"slices"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
)

// failLine shows host's failure, of step addr (or of the host, addr ""); text is what its line
// says after the host's name. The first host failing so is shown at once; later hosts whose
// failure is the same (failureKey: but for their own name and address) join a line of their own,
// "spark-[02-40]: sysctl.loading: failed after 2.1s, as spark-01 did (39 hosts)", which waits
// for other hosts at work as a finished step does.
func (v *applyView) failLine(host, addr, msg string, elapsed time.Duration, text string) {
	kind := addr + "\x00" + failureKey(failure{host, v.addresses[host], msg})
	first, seen := v.failKinds[kind]
	if !seen {
		v.failKinds[kind] = host
		// The host's lines go out before its failure; other hosts' failures may wait on.
		v.keepFailures = true
		v.flush(true)
		v.keepFailures = false
		v.printf("%s: %s\n", termsafe.Line(host), text)
		return
	}
	var p *pendingLine
	p = v.add("failed\x00"+kind, host, addr, elapsed, func(st style) string {
		after := ""
		if p.elapsed > 0 {
			after = " after " + fmtDuration(p.elapsed)
		}
		return fmt.Sprintf("%s%s, as %s did (%s)", st.red("failed"), after, termsafe.Line(first), plural(len(p.hosts), "host"))
	})
	p.failure = true
}

// failuresWorthWaiting is how long a line of hosts that failed alike may wait for more:
// joinWindow while another host (of the batch) is at work, else 0.
func (v *applyView) failuresWorthWaiting(p *pendingLine) time.Duration {
	for h := range v.active {
		if !slices.Contains(p.hosts, h) && (v.batch == nil || slices.Contains(v.batch, h)) {
			return joinWindow
		}
	}
	return 0
}
