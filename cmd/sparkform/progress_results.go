package main

// A host's smoke-test results as the apply view prints them: one line per host, or per hosts
// whose tests all passed in the same modes, with the spread of their load times.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
)

// testPart is one test's results in a test line: one mode after another, each with the
// host's median, or for hosts sharing the line each host's median.
type testPart struct {
	addr    string
	modes   []string
	seconds [][]float64
	failed  bool
	elapsed time.Duration
}

// addTest adds one mode's result (the median of its runs) of test addr to a host's test line.
func (p *pendingLine) addTest(addr, mode string, seconds float64, passed bool, elapsed time.Duration) {
	if n := len(p.tests); n == 0 || p.tests[n-1].addr != addr {
		p.tests = append(p.tests, testPart{addr: addr})
	}
	tp := &p.tests[len(p.tests)-1]
	tp.modes = append(tp.modes, mode)
	tp.seconds = append(tp.seconds, []float64{seconds})
	tp.failed = tp.failed || !passed
	tp.elapsed = max(tp.elapsed, elapsed)
}

// passed reports whether every result of the line passed.
func (p *pendingLine) passed() bool {
	for _, tp := range p.tests {
		if tp.failed {
			return false
		}
	}
	return true
}

// shape is what hosts must share to share a test line: when, the tests and their modes, all passed.
func (p *pendingLine) shape() string {
	s := p.label
	for _, tp := range p.tests {
		s += "\x00" + tp.addr + "\x00" + strings.Join(tp.modes, "\x00")
	}
	return s
}

// join adds the results of q, a line of the same shape, to p's.
func (p *pendingLine) join(q *pendingLine) {
	p.hosts = append(p.hosts, q.hosts...)
	for i := range p.tests {
		for j := range p.tests[i].seconds {
			p.tests[i].seconds[j] = append(p.tests[i].seconds[j], q.tests[i].seconds[j]...)
		}
		p.tests[i].elapsed = max(p.tests[i].elapsed, q.tests[i].elapsed)
	}
}

// testText is a test line after its first test's address: each test's medians by mode (for
// several hosts the range and the median of the hosts' medians), the verdict (FAILED
// if any mode of any test failed) and the time the tests took (the slowest host's).
func (p *pendingLine) testText(st style) string {
	var b strings.Builder
	total := time.Duration(0)
	for i, tp := range p.tests {
		if i > 0 {
			b.WriteString("; " + termsafe.Line(tp.addr) + ": ")
		}
		for j, mode := range tp.modes {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(termsafe.Line(mode) + " " + spread(tp.seconds[j]))
		}
		total += tp.elapsed
	}
	verdict, of := st.green("passed"), "medians"
	if !p.passed() {
		verdict = st.red("FAILED")
	}
	if len(p.hosts) > 1 {
		of = "hosts' medians"
	}
	return fmt.Sprintf("%s%s (%s): %s (%s)", p.label, b.String(), of, verdict, fmtDuration(total))
}

// spread writes load times in seconds as durations: one, or (when they differ) the range and
// the median, 20s–30s (median 25s).
func spread(secs []float64) string {
	d := english.Seconds
	sorted := slices.Sorted(slices.Values(secs))
	lo, hi := d(sorted[0]), d(sorted[len(sorted)-1])
	if lo == hi {
		return lo
	}
	m, _ := resources.Median(sorted)
	return lo + "–" + hi + " (median " + d(m) + ")"
}
