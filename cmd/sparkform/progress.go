package main

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
)

// heartbeatEvery is how often a step still running is reported (the bound is 10 s).
var heartbeatEvery = 10 * time.Second

// applyView shows an apply (or a test run) as it goes: one line per host per finished step with
// its elapsed time, a heartbeat for steps still running (cmake's percentage, reboot waits
// counting up), and every line of tool output in a log file per host. With -v the tool output
// is streamed as well. The engine calls event from many goroutines; lines never interleave.
type applyView struct {
	mu      sync.Mutex
	w       io.Writer
	st      style
	verbose bool
	logs    *runLogs
	steps   map[stepKey]*step
	pending []*pendingLine
	// reboots are the changes whose step ends with the host's verified reboot: their line waits
	// for it (held), so "created" is never printed for a kernel the host may not boot.
	reboots map[stepKey]bool
	held    map[string][]heldStep
	paused  time.Time // when a rollout pause began
	stop    chan struct{}
	stopped chan struct{}
}

type stepKey struct{ host, addr string }

type heldStep struct {
	addr, verb string
	elapsed    time.Duration
}

// pendingLine is a finished step waiting a moment so the same step finishing on other hosts
// joins it: 50 hosts of a batch creating sysctl.loading print one line, naming all 50 hosts.
type pendingLine struct {
	key      string
	hosts    []string
	addr     string
	text     func(st style) string
	parts    []string // test results, one per mode
	failed   bool
	waitHost string // a test line: waits while this host's test step runs
	elapsed  time.Duration
	since    time.Time
}

// coalesceWindow is how long a finished step waits for the same step on other hosts.
var coalesceWindow = 700 * time.Millisecond

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

// worthWaiting reports whether a finished line may still gain company: another host is still
// in the same step. A test line waits for the rest of its host's modes instead.
func (v *applyView) worthWaiting(p *pendingLine) bool {
	if p.waitHost != "" {
		return v.steps[stepKey{p.waitHost, p.addr}] != nil
	}
	for k := range v.steps {
		if k.addr == p.addr && !slices.Contains(p.hosts, k.host) {
			return true
		}
	}
	return false
}

// flush prints pending lines that waited long enough, or that no other host can join any more
// (all of them when all is set).
func (v *applyView) flush(all bool) {
	keep := v.pending[:0]
	for _, p := range v.pending {
		if !all && time.Since(p.since) < coalesceWindow && v.worthWaiting(p) {
			keep = append(keep, p)
			continue
		}
		fmt.Fprintf(v.w, "%s: %s: %s\n", termsafe.Line(compactHosts(p.hosts)), termsafe.Line(p.addr), p.text(v.st))
	}
	v.pending = keep
}

type step struct {
	verb        string // creating, rebooting, testing...
	start, beat time.Time
	percent     int    // last percentage a tool printed; -1 none
	status      string // the last "sparkform: ..." marker, e.g. "configuring"
}

func newApplyView(w io.Writer, st style, verbose bool, logs *runLogs, p *engine.Plan) *applyView {
	v := &applyView{w: w, st: st, verbose: verbose, logs: logs, steps: map[stepKey]*step{},
		reboots: map[stepKey]bool{}, held: map[string][]heldStep{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if p != nil {
		for _, h := range p.Hosts {
			for _, c := range h.Changes {
				if c.RequiresReboot && c.Action != resources.NoOp {
					v.reboots[stepKey{h.Name, c.Addr}] = true
				}
			}
		}
	}
	go v.heartbeats()
	return v
}

// close stops the heartbeats.
func (v *applyView) close() {
	close(v.stop)
	<-v.stopped
	v.mu.Lock()
	v.flush(true)
	v.mu.Unlock()
	v.logs.close()
}
