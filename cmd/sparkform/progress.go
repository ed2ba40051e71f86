package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
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
	// planned are the changes not yet finished, batch the hosts of the rollout batch running,
	// active the hosts at work (started, not ended): a finished step waits for batch-mates at
	// work that have the same change still to do (not for hosts -parallelism has not started).
	planned map[stepKey]bool
	batch   []string
	active  map[string]bool
	// testers are the hosts of the plan that run smoke tests (nil: every host, as in `test`).
	testers map[string]bool
	paused  time.Time // when a rollout pause began
	closing bool      // the run is over: every line goes out
	// failed is the error of a host's failed step, already on its line: the host's failure
	// with the same message is not said again. failKinds are the kinds of failure said so far
	// (step and failureKey), each with the host whose line said it; addresses are the plan's.
	failed       map[string]string
	keepFailures bool // a flush of everything leaves lines of hosts that failed alike waiting
	failKinds    map[string]string
	addresses    map[string]string
	// live: on a terminal, steps still running are shown on one status line rewritten in
	// place (cleared before every other line) instead of heartbeat lines that scroll.
	live       bool
	shown      bool // the status line is on the screen
	lastStatus time.Time
	stop       chan struct{}
	stopped    chan struct{}
}

type stepKey struct{ host, addr string }

type heldStep struct {
	addr, verb string
	elapsed    time.Duration
}

// printf prints a line of the view, clearing the status line first.
func (v *applyView) printf(format string, args ...any) {
	if v.shown {
		io.WriteString(v.w, "\r\x1b[K")
		v.shown = false
	}
	fmt.Fprintf(v.w, format, args...)
}

type step struct {
	verb        string // creating, rebooting, testing...
	start, beat time.Time
	percent     int    // last percentage a tool printed; -1 none
	status      string // the last "sparkform: ..." marker, e.g. "configuring"
}

func newApplyView(w io.Writer, st style, verbose bool, logs *runLogs, p *engine.Plan) *applyView {
	v := &applyView{w: w, st: st, verbose: verbose, logs: logs, steps: map[stepKey]*step{},
		live:    isTerminal(w) && os.Getenv("TERM") != "dumb",
		reboots: map[stepKey]bool{}, held: map[string][]heldStep{}, planned: map[stepKey]bool{}, active: map[string]bool{},
		failed: map[string]string{}, failKinds: map[string]string{}, addresses: map[string]string{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if p != nil {
		v.testers = map[string]bool{}
		for _, h := range p.Hosts {
			v.addresses[h.Name] = h.Address
			for _, c := range h.Changes {
				if r, ok := resources.Lookup(c.Type); ok {
					_, isTester := r.(resources.Tester)
					v.testers[h.Name] = v.testers[h.Name] || isTester
				}
				if c.RequiresReboot && c.Action != resources.NoOp {
					v.reboots[stepKey{h.Name, c.Addr}] = true
				}
				if c.Action != resources.NoOp {
					v.planned[stepKey{h.Name, c.Addr}] = true
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
	v.closing = true
	v.flush(true)
	if v.shown {
		io.WriteString(v.w, "\r\x1b[K")
		v.shown = false
	}
	v.mu.Unlock()
	v.logs.close()
}
