package main

// Heartbeats: steps still running, shared across hosts doing the same thing.

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sparkform/sparkform/internal/termsafe"
)

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
	if v.live {
		v.status(now)
		return
	}
	lines := v.running(now, v.st, func(s *step) bool {
		if now.Sub(s.beat) < heartbeatEvery {
			return false
		}
		s.beat = now
		return true
	})
	if len(lines) > 0 {
		v.flush(true)
	}
	for _, l := range lines {
		v.printf("%s\n", l)
	}
}

// status rewrites the terminal's status line (at most once a second): every step running for
// a second or more, hosts doing the same thing on one entry, cut to the terminal's width.
func (v *applyView) status(now time.Time) {
	if now.Sub(v.lastStatus) < time.Second {
		return
	}
	v.lastStatus = now
	text := strings.Join(v.running(now, style{}, func(s *step) bool { return now.Sub(s.start) >= time.Second }), "; ")
	if text == "" && !v.shown {
		return
	}
	if width := terminalWidth(v.w) - 1; len([]rune(text)) > width {
		text = string([]rune(text)[:max(width-1, 0)]) + "…"
	}
	io.WriteString(v.w, "\r\x1b[K"+v.st.dim(text))
	v.shown = text != ""
}

// terminalWidth is w's width in columns (80 when it cannot be told).
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 1 {
			return cols
		}
	}
	return 80
}

// running describes the steps still running that due selects (what they do dimmed by st), hosts doing the same thing
// (step and verb) in one entry: "spark-[01-03]: llama_cpp.cuda: building 45% (slowest) (2m10s)".
func (v *applyView) running(now time.Time, st style, due func(*step) bool) []string {
	type group struct {
		hosts   []string
		oldest  time.Time
		percent int
		status  string
	}
	groups := map[string]*group{}
	for k, s := range v.steps {
		if !due(s) {
			continue
		}
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
	lines := make([]string, 0, len(keys))
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
		lines = append(lines, fmt.Sprintf("%s: %s: %s (%s)", termsafe.Line(compactHosts(g.hosts)), termsafe.Line(addr), st.dim(what), fmtDuration(now.Sub(g.oldest))))
	}
	return lines
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
