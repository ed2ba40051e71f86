package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
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

var percentRE = regexp.MustCompile(`\[\s*(\d{1,3})%\]`)

func (v *applyView) event(ev engine.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	defer v.flush(false)
	now := time.Now()
	if ev.Host != "" {
		v.logs.write(ev.Host, ev)
	}
	host, addr := termsafe.Line(ev.Host), termsafe.Line(ev.Addr)
	key := stepKey{ev.Host, ev.Addr}
	switch ev.Kind {
	case "apply_start":
		v.steps[key] = &step{verb: progressVerb(ev.Message), start: now, beat: now, percent: -1}
		if v.verbose {
			fmt.Fprintf(v.w, "%s: %s: %s...\n", host, addr, progressVerb(ev.Message))
		}
	case "reboot_start":
		v.steps[stepKey{ev.Host, ev.Addr}] = &step{verb: "rebooting", status: "waiting for the host", start: now, beat: now, percent: -1}
		if v.verbose {
			fmt.Fprintf(v.w, "%s: reboot: %s\n", host, termsafe.Line(ev.Message))
		}
	case "test_start":
		v.steps[key] = &step{verb: "testing", start: now, beat: now, percent: -1}
		if v.verbose {
			fmt.Fprintf(v.w, "%s: %s: testing (%s)...\n", host, addr, termsafe.Line(ev.Message))
		}
	case "progress":
		if s := v.steps[key]; s != nil {
			if m := percentRE.FindStringSubmatch(ev.Message); m != nil {
				fmt.Sscan(m[1], &s.percent)
			}
			if rest, ok := strings.CutPrefix(ev.Message, "sparkform: "); ok {
				s.status = rest
			}
		}
		if v.verbose {
			fmt.Fprintf(v.w, "%s: %s: %s\n", host, addr, termsafe.Line(ev.Message))
		}
	case "apply_done":
		delete(v.steps, key)
		verb := pastVerb(strings.Fields(ev.Message + " ")[0])
		if v.reboots[key] {
			v.held[ev.Host] = append(v.held[ev.Host], heldStep{ev.Addr, verb, ev.Elapsed})
			return
		}
		var p *pendingLine
		p = v.add("done\x00"+ev.Addr+"\x00"+verb, ev.Host, ev.Addr, ev.Elapsed, func(st style) string {
			return fmt.Sprintf("%s (%s)", st.green(verb), fmtDuration(p.elapsed))
		})
	case "apply_error":
		delete(v.steps, key)
		v.flush(true)
		fmt.Fprintf(v.w, "%s: %s: %s after %s: %s\n", host, addr, v.st.red("failed"), fmtDuration(ev.Elapsed), firstLine(ev.Message))
	case "reboot_done":
		delete(v.steps, key)
		msg := termsafe.Line(ev.Message)
		held := v.held[ev.Host]
		delete(v.held, ev.Host)
		addr, verb, elapsed := ev.Addr, "", ev.Elapsed
		for i, hs := range held {
			if i < len(held)-1 {
				fmt.Fprintf(v.w, "%s: %s: %s (%s)\n", host, termsafe.Line(hs.addr), v.st.green(hs.verb), fmtDuration(hs.elapsed))
				continue
			}
			addr, verb, elapsed = hs.addr, hs.verb+", rebooted: ", elapsed+hs.elapsed
		}
		var p *pendingLine
		p = v.add("reboot\x00"+addr+"\x00"+verb+ev.Message, ev.Host, addr, elapsed, func(st style) string {
			return fmt.Sprintf("%s%s (%s)", st.green(verb), msg, fmtDuration(p.elapsed))
		})
	case "test_done":
		t := ev.Test
		if t == nil {
			t = &state.TestRun{Mode: "?", Passed: true}
		}
		// Results from before an apply's changes (the host's baseline) get a line of their own.
		kind, label := "test", ""
		if t.Before {
			kind, label = "test-before", "before the changes: "
		}
		var p *pendingLine
		p = v.add(kind+"\x00"+ev.Host+"\x00"+ev.Addr, ev.Host, ev.Addr, ev.Elapsed, func(st style) string {
			verdict := st.green("passed")
			if p.failed {
				verdict = st.red("FAILED")
			}
			return fmt.Sprintf("%s%s (medians): %s (%s)", label, strings.Join(p.parts, ", "), verdict, fmtDuration(p.elapsed))
		})
		p.waitHost = ev.Host
		p.parts = append(p.parts, fmt.Sprintf("%s %.2f s", termsafe.Line(t.Mode), t.Seconds))
		p.failed = p.failed || !t.Passed
	case "test_skipped":
		// A measurement before the changes that cannot run yet (its program comes with this
		// apply): its steps end; the reason is in the log (and streamed with -v).
		for k, s := range v.steps {
			if k.host == ev.Host && s.verb == "testing" {
				delete(v.steps, k)
			}
		}
		if v.verbose {
			fmt.Fprintf(v.w, "%s: %s\n", host, termsafe.Line(ev.Message))
		}
	case "host_done":
		v.endHost(ev.Host)
		if v.verbose {
			fmt.Fprintf(v.w, "%s: done: %s\n", host, termsafe.Line(ev.Message))
		}
	case "host_failed":
		v.endHost(ev.Host)
		v.flush(true)
		for _, hs := range v.held[ev.Host] {
			fmt.Fprintf(v.w, "%s: %s: %s (%s), then the reboot failed\n", host, termsafe.Line(hs.addr), hs.verb, fmtDuration(hs.elapsed))
		}
		delete(v.held, ev.Host)
		fmt.Fprintf(v.w, "%s: %s: %s\n", host, v.st.red("failed"), firstLine(ev.Message))
	case "rollout_batch":
		v.flush(true)
		msg := termsafe.Line(ev.Message)
		if len(ev.Hosts) > 0 {
			n, _, _ := strings.Cut(ev.Message, ":")
			msg = fmt.Sprintf("%s: %s", termsafe.Line(n), termsafe.Line(compactHosts(ev.Hosts)))
		}
		if !v.paused.IsZero() {
			msg += fmt.Sprintf(" (after a %s pause)", fmtDuration(now.Sub(v.paused)))
			v.paused = time.Time{}
			delete(v.steps, stepKey{"rollout", "pause"})
		}
		fmt.Fprintf(v.w, "%s %s\n", v.st.bold("rollout:"), msg)
	case "rollout_pause":
		// Said on the next batch's line; a long pause gets heartbeats like any step.
		v.flush(true)
		v.paused = now
		v.steps[stepKey{"rollout", "pause"}] = &step{verb: "pausing before the next batch", start: now, beat: now, percent: -1}
		if v.verbose {
			fmt.Fprintf(v.w, "%s %s\n", v.st.bold("rollout:"), termsafe.Line(ev.Message))
		}
	case "rollout_stopped":
		v.flush(true)
		fmt.Fprintf(v.w, "%s %s\n", v.st.bold("rollout:"), termsafe.Line(ev.Message))
	}
}

func (v *applyView) endHost(host string) {
	for k := range v.steps {
		if k.host == host {
			delete(v.steps, k)
		}
	}
}

// heartbeats reports steps that have run heartbeatEvery without a line. Steps of many hosts
// doing the same thing share one line, so 100 hosts building llama.cpp print one line, not 100.
func (v *applyView) heartbeats() {
	defer close(v.stopped)
	tick := time.NewTicker(min(250*time.Millisecond, heartbeatEvery))
	defer tick.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-tick.C:
			v.beat(time.Now())
		}
	}
}

func (v *applyView) beat(now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.flush(false)
	type group struct {
		hosts   []string
		oldest  time.Time
		percent int
		status  string
	}
	groups := map[string]*group{}
	for k, s := range v.steps {
		if now.Sub(s.beat) < heartbeatEvery {
			continue
		}
		s.beat = now
		what := s.verb
		if s.status != "" {
			what = s.status
		}
		gk := k.addr + "\x00" + s.verb
		g := groups[gk]
		if g == nil {
			g = &group{oldest: s.start, percent: s.percent, status: what}
			groups[gk] = g
		} else if g.status != what {
			g.status = s.verb // hosts at different stages: say only what they all do
		}
		g.hosts = append(g.hosts, k.host)
		g.oldest = minTime(g.oldest, s.start)
		if s.percent >= 0 && (g.percent < 0 || s.percent < g.percent) {
			g.percent = s.percent
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		v.flush(true)
	}
	for _, k := range keys {
		g := groups[k]
		addr, _, _ := strings.Cut(k, "\x00")
		what := termsafe.Line(g.status)
		if g.percent >= 0 {
			what += fmt.Sprintf(" %d%%", g.percent)
			if len(g.hosts) > 1 {
				what += " (slowest)"
			}
		}
		fmt.Fprintf(v.w, "%s: %s: %s (%s)\n", termsafe.Line(compactHosts(g.hosts)), termsafe.Line(addr), v.st.dim(what), fmtDuration(now.Sub(g.oldest)))
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// actionVerbs are what a step is doing and what it did, per action ("update" for the rest).
var actionVerbs = map[resources.Action][2]string{
	resources.Create: {"creating", "created"}, resources.Delete: {"destroying", "destroyed"},
	resources.Replace: {"replacing", "replaced"}, resources.Update: {"updating", "updated"},
}

func verbsOf(action string) [2]string {
	if v, ok := actionVerbs[resources.Action(action)]; ok {
		return v
	}
	return actionVerbs[resources.Update]
}

// pastVerb turns an action into what happened: create -> created.
func pastVerb(action string) string { return verbsOf(action)[1] }

// progressVerb turns an action into what is happening: create -> creating.
func progressVerb(action string) string { return verbsOf(action)[0] }

// fmtDuration is the one way views write a duration: 0.4s, 12s, 2m10s, 1h05m.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// runLogs holds one log file per host for one run: DIR/.sparkform/logs/<command>-<time>/<host>.log,
// mode 0600 (tool output may name secrets). Every event goes in, tool output included, escaped
// as the terminal would show it. The newest logsKept runs are kept.
type runLogs struct {
	dir   string
	files map[string]*os.File
	err   error
}

const logsKept = 20

func newRunLogs(configDir, command string) *runLogs {
	root := filepath.Join(configDir, ".sparkform", "logs")
	name := command + "-" + time.Now().UTC().Format("20060102T150405.000Z")
	return &runLogs{dir: filepath.Join(root, name), files: map[string]*os.File{}}
}

// path is the log file of a host.
func (l *runLogs) path(host string) string {
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r < ' ' {
			return '_'
		}
		return r
	}, host)
	if safe == "." || safe == ".." {
		safe = "_" + safe
	}
	return filepath.Join(l.dir, safe+".log")
}

func (l *runLogs) write(host string, ev engine.Event) {
	if l == nil || l.err != nil {
		return
	}
	f := l.files[host]
	if f == nil {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			l.err = err
			return
		}
		if f, l.err = os.OpenFile(l.path(host), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); l.err != nil {
			return
		}
		l.files[host] = f
		if len(l.files) == 1 {
			pruneLogs(filepath.Dir(l.dir), logsKept)
		}
	}
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	prefix := t.Local().Format("15:04:05.000") + " "
	if ev.Addr != "" {
		prefix += ev.Addr + ": "
	}
	msg := ev.Message
	if ev.Kind != "progress" {
		msg = "== " + ev.Kind + " " + msg
	}
	for _, line := range strings.Split(termsafe.Text(msg), "\n") {
		fmt.Fprintf(f, "%s%s\n", prefix, line)
	}
}

func (l *runLogs) close() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		f.Close()
	}
}

// written reports whether any log file was written.
func (l *runLogs) written() bool { return l != nil && len(l.files) > 0 }

// tail returns the last n lines of a host's log (already escaped when written).
func (l *runLogs) tail(host string, n int) []string {
	if l == nil {
		return nil
	}
	f, err := os.Open(l.path(host))
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// pruneLogs removes all but the newest keep run directories (their names sort by time).
func pruneLogs(root string, keep int) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return runTime(dirs[i]) < runTime(dirs[j]) })
	for len(dirs) > keep {
		os.RemoveAll(filepath.Join(root, dirs[0]))
		dirs = dirs[1:]
	}
}

// runTime is the timestamp part of a run directory's name.
func runTime(name string) string {
	if i := strings.LastIndex(name, "-"); i >= 0 {
		return name[i+1:]
	}
	return name
}
