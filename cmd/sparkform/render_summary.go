package main

// The plan's summary lines, and the counts and error lines an apply's result shares with them.

import (
	"fmt"
	"io"
	"strings"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// renderPlanSummary writes the totals and one row per group of hosts.
func renderPlanSummary(w io.Writer, p *engine.Plan, groups []*hostGroup, st style) {
	total := p.Total()
	failed := len(p.Failed())
	if !p.HasChanges() && failed == 0 {
		verb := "match"
		if len(p.Hosts) == 1 {
			verb = "matches"
		}
		fmt.Fprintf(w, "%s %s %s the configuration.\n", st.green(st.bold("No changes.")), plural(len(p.Hosts), "host"), verb)
		return
	}
	line := fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy", total.Add, total.Change, total.Destroy)
	if total.Record > 0 {
		line += fmt.Sprintf(", %d to record in state", total.Record)
	}
	line += ", on " + plural(len(p.Hosts), "host")
	if n := pendingHosts(p); n > 0 {
		line += fmt.Sprintf("; tests and generation pending on %s", plural(n, "host"))
	}
	if failed > 0 {
		line += fmt.Sprintf(" (%d could not be planned)", failed)
	}
	fmt.Fprintln(w, st.bold(line+"."))
	if len(groups) == 1 {
		return // the one group's heading already names its hosts
	}
	width := len("HOSTS")
	labels := make([]string, len(groups))
	for i, g := range groups {
		labels[i] = termsafe.Line(shortHosts(g.names()))
		width = max(width, len(labels[i]))
	}
	row := func(host, n, add, change, destroy, status string) {
		fmt.Fprintf(w, "  %-*s  %5s  %3s  %6s  %7s  %s\n", width, host, n, add, change, destroy, status)
	}
	row("HOSTS", "COUNT", "ADD", "CHANGE", "DESTROY", "STATUS")
	for i, g := range groups {
		h := g.hosts[0]
		n := fmt.Sprint(len(g.hosts))
		if h.Error != "" {
			msg := h.Error // hosts that failed alike: the row stands for all, and names none
			if len(g.hosts) > 1 {
				msg = failureTemplate(failureKey(failure{h.Name, h.Address, h.Error}))
			}
			row(labels[i], n, "-", "-", "-", st.red(fit("error: "+firstLine(msg), width+33)))
			continue
		}
		c := h.Counts()
		status := "changes"
		if c.Add+c.Change+c.Destroy == 0 {
			status = "no changes"
			if c.Record > 0 {
				status = "record in state"
			}
			if h.Pending != "" {
				status = "tests and generation pending"
			}
		}
		if h.Reboots() {
			status = "changes, reboot"
		}
		row(labels[i], n, fmt.Sprint(c.Add), fmt.Sprint(c.Change), fmt.Sprint(c.Destroy), status)
	}
}

// firstLine is the first line of s (a host's error text), escaped for the terminal and shortened.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	// Cut by characters, as history's lines: a cut by bytes could split one (→, …) in two.
	return clip(termsafe.Line(l), 120)
}

// tableWidth bounds a row of the plan's and the apply's tables: the host column grows with the
// fleet's compact host lists, and an error beside a wide one ran past 180 characters (the whole
// error is in its block above the table and on standard error).
const tableWidth = 160

// fit cuts a row's last column s to what is left of tableWidth after used characters (at least
// 40, however wide the columns before it).
func fit(s string, used int) string { return clip(s, max(40, tableWidth-used)) }

func countsText(c engine.Counts) string {
	s := fmt.Sprintf("%d added, %d changed, %d destroyed", c.Add, c.Change, c.Destroy)
	if c.Record > 0 {
		s += fmt.Sprintf(", %d recorded in state", c.Record)
	}
	return s
}
