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
	var inSync []string
	var differing []engine.DriftHost
	for _, h := range rep.Hosts {
		switch {
		case h.Error == "" && len(h.Items) == 0:
			inSync = append(inSync, h.Name)
		case h.Error == "":
			differing = append(differing, h)
		}
	}
	groups := groupBy(differing, driftBody)
	if len(inSync) > 0 {
		fmt.Fprintf(w, "%s: in sync\n", termsafe.Line(compactHosts(inSync)))
	}
	for _, g := range groups {
		names := make([]string, len(g.items))
		for i, h := range g.items {
			names[i] = h.Name
		}
		fmt.Fprintf(w, "%s: %s drifted\n%s", countedHosts(names), plural(len(g.items[0].Items), "attribute"), g.key)
	}
	// Hosts that could not be read the same way (a partition, the same refused port) are one line.
	var unread []failure
	for _, h := range rep.Hosts {
		if h.Error != "" {
			unread = append(unread, failure{host: h.Name, msg: h.Error})
		}
	}
	// A line for several hosts names none of them (<host>, <address>), as plan's and apply's rows:
	// "spark-[04,11] (2 hosts): could not be read: spark-04 (198.18.233.104:22): ..." read as
	// spark-04's address for both.
	for _, g := range groupFailures(unread) {
		msg := g.items[0].msg
		if len(g.items) > 1 {
			msg = failureTemplate(g.key)
		}
		fmt.Fprintf(w, "%s: could not be read: %s\n", countedHosts(failureHosts(g.items)), firstLine(msg))
	}
	fmt.Fprintf(w, "\n%d of %s drifted", drifted, plural(len(rep.Hosts), "host"))
	if failed > 0 {
		fmt.Fprintf(w, ", %d could not be read", failed)
	}
	fmt.Fprintln(w, ".")
}

// driftBody is a drifted host's lines under its name: hosts that drifted alike share them.
func driftBody(h engine.DriftHost) string {
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
	return b.String()
}
