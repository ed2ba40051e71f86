package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// show [-json] [-host H]... [PLANFILE | DIR]: a saved plan, or the state of DIR (default: the
// current directory); -host shows only these hosts.
func runShow(in *invocation, _ *noFlags) int {
	file, dir, stdout, stderr := in.arg, ".", in.stdout, in.stderr
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		dir, file = file, ""
	}
	if file != "" {
		p, err := loadPlan(file)
		if err == nil {
			err = onlyPlanHosts(p, file, in.hosts)
		}
		if err != nil {
			return in.fail(stderr, "%v", err)
		}
		if in.ui != nil {
			in.ui.plan(p, "plan")
		} else {
			renderPlan(stdout, p, styleFor(stdout, in.noColor))
		}
		return 0
	}
	store, st, err := readState(dir, in.state)
	if err != nil {
		return in.fail(stderr, "%v", err)
	}
	store.Close()
	names, err := stateHostNames(st, store, in.hosts)
	if err != nil {
		return in.fail(stderr, "%v", err)
	}
	if ui := in.ui; ui != nil {
		n := 0
		for _, host := range names {
			hs := st.Hosts[host]
			for _, addr := range slices.Sorted(maps.Keys(hs.Resources)) {
				r := hs.Resources[addr]
				ui.emit("info", "state_resource", host+": "+addr, map[string]any{"host": map[string]any{"name": host, "host_key": hs.HostKey},
					"resource": resourceRef(addr, r.Type, r.Name), "attributes": valueJSON(r.Attributes.Value),
					"original": valueJSON(r.Original.Value), "applied_at": r.AppliedAt.UTC().Format(time.RFC3339Nano)})
				n++
			}
		}
		ui.emit("info", "state_summary", fmt.Sprintf("%s on %s.", plural(n, "resource"), plural(len(names), "host")),
			map[string]any{"state": map[string]any{"serial": st.Serial, "lineage": st.Lineage, "hosts": len(names), "resources": n}})
		return 0
	}
	if len(names) == 0 {
		fmt.Fprintf(stdout, "The state at %s holds no hosts.\n", store)
		return 0
	}
	renderState(stdout, st, names)
	return 0
}

// renderState writes the hosts' resources as plan shows a fleet: hosts whose resources are the
// same (attributes and original values, whenever they were applied) once, under a compact host
// list and a count, with the span of times the group's hosts applied each resource.
func renderState(w io.Writer, st *state.State, names []string) {
	for _, g := range groupBy(names, func(n string) string { return stateKey(st.Hosts[n]) }) {
		label := shortHosts(g.items)
		if len(g.items) > 1 {
			label += " (" + plural(len(g.items), "host") + ")"
		}
		fmt.Fprintf(w, "%s\n", termsafe.Line(label))
		hs := st.Hosts[g.items[0]]
		if len(hs.Resources) == 0 {
			fmt.Fprintln(w, "  (no resources)")
		}
		for _, addr := range slices.Sorted(maps.Keys(hs.Resources)) {
			var times []time.Time
			for _, n := range g.items {
				times = append(times, st.Hosts[n].Resources[addr].AppliedAt)
			}
			renderStateBlock(w, "  ", addr, hs.Resources[addr], appliedSpan(times))
		}
		fmt.Fprintln(w)
	}
}

// stateKey is what show prints for a host's resources, without when they were applied.
func stateKey(hs *state.Host) string {
	var b strings.Builder
	for _, addr := range slices.Sorted(maps.Keys(hs.Resources)) {
		b.WriteString(resourceKey(addr, hs.Resources[addr]))
	}
	return b.String()
}

// resourceKey is what show prints for one resource, without when it was applied.
func resourceKey(addr string, r *state.Resource) string {
	var b strings.Builder
	renderStateBlock(&b, "", addr, r, "")
	return b.String()
}

// appliedSpan says when hosts applied a resource: one time, or the first and the last.
func appliedSpan(times []time.Time) string { return "applied " + timeSpan(times) }

// timeSpan is one time, or the first and the last (show's and history's groups of hosts).
func timeSpan(times []time.Time) string {
	first, last := slices.MinFunc(times, time.Time.Compare), slices.MaxFunc(times, time.Time.Compare)
	if first.Truncate(time.Second).Equal(last.Truncate(time.Second)) {
		return english.Time(first)
	}
	return english.Time(first) + " to " + english.Time(last)
}

// onlyPlanHosts keeps the plan's hosts named in hosts (all when none), each of which must be in it.
func onlyPlanHosts(p *engine.Plan, file string, hosts []string) error {
	if len(hosts) == 0 {
		return nil
	}
	for _, h := range hosts {
		if !slices.ContainsFunc(p.Hosts, func(hp *engine.HostPlan) bool { return hp.Name == h }) {
			return fmt.Errorf("no host %q in the plan %s", h, file)
		}
	}
	p.Hosts = slices.DeleteFunc(p.Hosts, func(hp *engine.HostPlan) bool { return !slices.Contains(hosts, hp.Name) })
	return nil
}
