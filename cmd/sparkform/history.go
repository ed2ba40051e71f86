package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// history [DIR] [-host H]... [-json]: each host's generations and incidents, oldest first.
func runHistory(in *invocation, _ *noFlags) int {
	st, names, err := stateHosts(in.arg, in.state, in.hosts)
	if err != nil {
		return in.fail(in.stderr, "%v", err)
	}
	stdout := in.stdout
	if ui := in.ui; ui != nil {
		for _, n := range names {
			for _, g := range st.Hosts[n].Generations {
				res := map[string]any{}
				for addr, r := range g.Resources {
					res[addr] = valueJSON(r.Attributes.Value)
				}
				ui.emit("info", "generation", fmt.Sprintf("%s: generation %d", n, g.N), map[string]any{"host": map[string]any{"name": n},
					"generation": map[string]any{"n": g.N, "time": g.Time.UTC().Format(time.RFC3339Nano), "config_hash": g.ConfigHash, "note": g.Note, "resources": res}})
			}
			for _, in := range st.Hosts[n].Incidents {
				ui.emit("warn", "incident", fmt.Sprintf("%s: %s", n, in.Kind), map[string]any{"host": map[string]any{"name": n},
					"incident": map[string]any{"kind": in.Kind, "time": in.Time.UTC().Format(time.RFC3339Nano), "message": in.Message}})
			}
		}
		return 0
	}
	// Hosts whose histories differ only in when (an apply to a fleet takes seconds) are shown
	// once; each generation and incident says when, from the first host to the last, as show does.
	for _, g := range groupBy(names, func(n string) string { return hostHistory(st.Hosts[n], nil) }) {
		when := func(incident bool, i int) string {
			var times []time.Time
			for _, n := range g.items {
				if hs := st.Hosts[n]; incident {
					times = append(times, hs.Incidents[i].Time)
				} else {
					times = append(times, hs.Generations[i].Time)
				}
			}
			return timeSpan(times)
		}
		fmt.Fprintf(stdout, "%s\n%s\n", countedHosts(g.items), hostHistory(st.Hosts[g.items[0]], when))
	}
	return 0
}

// hostHistory is one host's generations and incidents as history prints them under its name,
// each at the time when(incident, index) says (nil: none, for grouping).
func hostHistory(hs *state.Host, when func(incident bool, i int) string) string {
	if when == nil {
		when = func(bool, int) string { return "" }
	}
	var b strings.Builder
	if len(hs.Generations) == 0 {
		fmt.Fprintln(&b, "  (no generations yet)")
	}
	// One line per generation, then one per resource, each cut at historyWidth (the whole
	// is in history -json): a generation used to be one line of ~450 characters. After the
	// first, a generation lists what changed since the one before it, as `git log --stat`
	// would, not every resource again.
	var prev map[string]string
	for i, g := range hs.Generations {
		line := fmt.Sprintf("  %3d  %s  config %s", g.N, when(false, i), shortHash(g.ConfigHash))
		if g.Note != "" {
			line += "  (" + g.Note + ")"
		}
		fmt.Fprintln(&b, clip(termsafe.Line(line), historyWidth))
		cur := map[string]string{}
		for a, r := range g.Resources {
			cur[a] = resourceSummary(r)
		}
		var show []string
		unchanged := 0
		for _, a := range slices.Sorted(maps.Keys(cur)) {
			if was, ok := prev[a]; ok && was == cur[a] {
				unchanged++
				continue
			}
			show = append(show, a)
		}
		var removed []string
		for _, a := range slices.Sorted(maps.Keys(prev)) {
			if _, ok := cur[a]; !ok {
				removed = append(removed, a)
			}
		}
		width := 0
		for _, a := range append(slices.Clone(show), removed...) {
			width = max(width, len(a))
		}
		for _, a := range show {
			fmt.Fprintln(&b, clip(termsafe.Line(fmt.Sprintf("         %-*s  %s", width, a, cur[a])), historyWidth))
		}
		for _, a := range removed {
			fmt.Fprintln(&b, clip(termsafe.Line(fmt.Sprintf("         %-*s  (removed)", width, a)), historyWidth))
		}
		if unchanged > 0 {
			fmt.Fprintf(&b, "         (%s as in generation %d)\n", plural(unchanged, "other resource"), prevN(hs.Generations, g.N))
		}
		prev = cur
	}
	for i, in := range hs.Incidents {
		fmt.Fprintln(&b, clip(fmt.Sprintf("   !!  %s  %s: %s", when(true, i), termsafe.Line(in.Kind), termsafe.Line(in.Message)), historyWidth))
	}
	return b.String()
}

// historyWidth bounds a history line.
const historyWidth = 110

// clip cuts s to width characters, ending with "…" when cut.
func clip(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
}

// resourceSummary is one resource's settings as history shows them.
func resourceSummary(r *state.Resource) string {
	v := r.Attributes.Value
	if isNullValue(v) {
		return "(not applied)"
	}
	return engine.Summarize(v)
}

// prevN is the number of the generation recorded before generation n.
func prevN(gens []*state.Generation, n int) int {
	for i, g := range gens {
		if g.N == n && i > 0 {
			return gens[i-1].N
		}
	}
	return n - 1
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
