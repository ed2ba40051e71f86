package main

// Heartbeats: steps still running, shared across hosts doing the same thing.

import (
	"fmt"
	"sort"
	"strings"
	"time"

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
