package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// drift [DIR] [-host H]... [-json]: read-only comparison of each host with the configuration
// and with what state says was applied. Exit 0: none, 2: drift, 1: error.
func runDrift(c *hostCommand, _ *noFlags) int {
	rf, stdout, stderr := &c.rf, c.stdout, c.stderr
	r, plan, ok := c.openAndPlan(false, stderr) // read-only: no lock
	if !ok {
		return 1
	}
	defer r.release()
	rep := engine.Drift(plan)
	drifted, failed := rep.Counts()
	if rf.ui != nil {
		for _, h := range rep.Hosts {
			if h.Error != "" {
				rf.ui.emit("error", "host_failed", h.Name+": could not be read", map[string]any{"host": map[string]any{"name": h.Name}, "error": h.Error})
			}
			for _, d := range h.Items {
				rf.ui.emit("info", "drift", fmt.Sprintf("%s: %s %s: live %s, wanted %s", h.Name, d.Addr, d.Path, d.Live, d.Wanted), map[string]any{
					"host": map[string]any{"name": h.Name}, "resource": map[string]any{"addr": d.Addr},
					"drift": map[string]any{"kind": d.Kind, "path": d.Path, "live": d.Live, "wanted": d.Wanted, "outside": d.Outside}})
			}
		}
		rf.ui.emit("info", "drift_summary", fmt.Sprintf("%d of %s drifted.", drifted, plural(len(rep.Hosts), "host")),
			map[string]any{"drift": map[string]any{"hosts": len(rep.Hosts), "drifted_hosts": drifted, "failed_hosts": failed}})
	} else {
		renderDrift(stdout, rep)
	}
	switch {
	case failed > 0:
		return 1
	case drifted > 0:
		return 2
	}
	return 0
}

// renderDrift is drift's text view. Hosts are grouped as plan groups them: those in sync are one
// line, and hosts that drifted alike (the same attributes, the same values) share one block.
func renderDrift(w io.Writer, rep engine.DriftReport) {
	drifted, failed := rep.Counts()
	type group struct {
		hosts []string
		n     int
		body  string
	}
	var inSync []string
	var groups []*group
	byBody := map[string]*group{}
	for _, h := range rep.Hosts {
		if h.Error != "" || len(h.Items) == 0 {
			if h.Error == "" {
				inSync = append(inSync, h.Name)
			}
			continue
		}
		var b strings.Builder
		for _, d := range h.Items {
			why := "configuration changed, not applied yet"
			switch {
			case d.Outside:
				why = "changed outside sparkform"
			case d.Kind == "missing":
				why = "never applied"
			case d.Kind == "orphaned":
				why = "removed from the configuration, not yet destroyed"
			}
			fmt.Fprintf(&b, "  %s %s: live %s, wanted %s (%s)\n", termsafe.Line(d.Addr), termsafe.Line(d.Path), termsafe.Line(d.Live), termsafe.Line(d.Wanted), why)
		}
		g := byBody[b.String()]
		if g == nil {
			g = &group{n: len(h.Items), body: b.String()}
			byBody[g.body] = g
			groups = append(groups, g)
		}
		g.hosts = append(g.hosts, h.Name)
	}
	if len(inSync) > 0 {
		fmt.Fprintf(w, "%s: in sync\n", termsafe.Line(compactHosts(inSync)))
	}
	for _, g := range groups {
		label := termsafe.Line(compactHosts(g.hosts))
		if len(g.hosts) > 1 {
			label += fmt.Sprintf(" (%s)", plural(len(g.hosts), "host"))
		}
		fmt.Fprintf(w, "%s: %s drifted\n%s", label, plural(g.n, "attribute"), g.body)
	}
	for _, h := range rep.Hosts {
		if h.Error != "" {
			fmt.Fprintf(w, "%s: could not be read: %s\n", termsafe.Line(h.Name), firstLine(h.Error))
		}
	}
	fmt.Fprintf(w, "\n%d of %s drifted", drifted, plural(len(rep.Hosts), "host"))
	if failed > 0 {
		fmt.Fprintf(w, ", %d could not be read", failed)
	}
	fmt.Fprintln(w, ".")
}
