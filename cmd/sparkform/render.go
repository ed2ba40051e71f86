package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
)

var actionWords = map[resources.Action]string{
	resources.Create:  "will be created",
	resources.Update:  "will be updated in-place",
	resources.Delete:  "will be destroyed",
	resources.Replace: "must be replaced",
}

// hostGroup is hosts whose plans render identically: shown once, with a compact host list.
type hostGroup struct {
	hosts []*engine.HostPlan
}

func (g *hostGroup) names() []string {
	out := make([]string, len(g.hosts))
	for i, h := range g.hosts {
		out[i] = h.Name
	}
	return out
}

// groupHosts puts hosts with identical rendered plans together, in the plan's order. A host's
// own name and address in an error are masked for the comparison, so a fleet-wide failure
// (the same refused connection on 40 hosts) is one group too.
func groupHosts(p *engine.Plan) []*hostGroup {
	var groups []*hostGroup
	for _, g := range groupBy(p.Hosts, planKey) {
		groups = append(groups, &hostGroup{hosts: g.items})
	}
	return groups
}

// planKey is what a host's plan prints, without colour: equal keys are shown once.
func planKey(h *engine.HostPlan) string {
	if h.Error != "" {
		return "error\x00" + failureKey(failure{h.Name, h.Address, h.Error})
	}
	var b strings.Builder
	renderHostChanges(&b, h, style{})
	return "kernel " + h.Kernel + "\x00" + b.String()
}

// hostsLabel names a group's hosts: one host with its address, several as a compact list.
func hostsLabel(g *hostGroup) string {
	if len(g.hosts) == 1 {
		h := g.hosts[0]
		return fmt.Sprintf("%s (%s", termsafe.Line(h.Name), termsafe.Line(h.Address))
	}
	return fmt.Sprintf("%s (%s", termsafe.Line(shortHosts(g.names())), plural(len(g.hosts), "host"))
}

// renderPlan writes the plan as Terraform users read plans: a legend, the changes with
// field-level before -> after and drift marked, then totals and a summary per group. Hosts
// whose changes are identical are shown once under a compact host list (spark-[01-20]).
func renderPlan(w io.Writer, p *engine.Plan, st style) {
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "%s %s\n\n", st.yellow(st.bold("Warning:")), termsafe.Line(warn))
	}
	if p.HasChanges() {
		fmt.Fprintf(w, "sparkform will perform these actions (%s create, %s update in-place, %s destroy, %s replace):\n\n", st.symbol("+"), st.symbol("~"), st.symbol("-"), st.symbol("-/+"))
	}
	groups := groupHosts(p)
	differs := groupDiffs(groups)
	for _, g := range groups {
		h := g.hosts[0]
		if h.Error != "" {
			fmt.Fprintf(w, "%s): %s\n", hostsLabel(g), st.red("could not be planned"))
			for _, l := range strings.Split(termsafe.Text(h.Error), "\n") {
				fmt.Fprintf(w, "  │ %s\n", l)
			}
			if len(g.hosts) > 1 {
				fmt.Fprintf(w, "  │ (shown for %s; the others failed the same way)\n", termsafe.Line(h.Name))
			}
			fmt.Fprintln(w)
			continue
		}
		if c := h.Counts(); c.Add+c.Change+c.Destroy+c.Record == 0 && h.Pending == "" {
			continue
		}
		fmt.Fprintf(w, "%s, kernel %s)\n", st.bold(hostsLabel(g)), termsafe.Line(h.Kernel))
		if d := differs[g]; d != "" {
			fmt.Fprintf(w, "  %s\n", st.dim(termsafe.Line(d)))
		}
		renderHostChanges(w, h, st)
		fmt.Fprintln(w)
	}
	renderPlanSummary(w, p, groups, st)
}

func pendingHosts(p *engine.Plan) int {
	n := 0
	for _, h := range p.Hosts {
		if h.Pending != "" && h.Error == "" {
			n++
		}
	}
	return n
}

// renderHostChanges writes one host's changes (and the tests that will run after them).
func renderHostChanges(w io.Writer, h *engine.HostPlan, st style) {
	if h.Pending != "" {
		fmt.Fprintf(w, "  %s\n", st.bold("# this host was "+termsafe.Line(h.Pending)+": apply runs its smoke tests and records the generation"))
	}
	for _, ch := range h.Changes {
		if ch.Action != resources.NoOp {
			renderChange(w, ch, st, h.RolledBack)
		}
	}
	var tests []string
	for _, ch := range h.Changes {
		if r, ok := resources.Lookup(ch.Type); ok && ch.Action == resources.NoOp {
			if _, isTester := r.(resources.Tester); isTester {
				tests = append(tests, termsafe.Line(ch.Addr))
			}
		}
	}
	if len(tests) > 0 {
		fmt.Fprintf(w, "  # %s will run after the changes\n", strings.Join(tests, ", "))
	}
}

// renderChange writes one change. rolledBack is the host's automatic rollback since its last
// generation ("" if none): a boot change it undid is said to be sparkform's rollback, not a
// change made outside sparkform.
func renderChange(w io.Writer, ch *engine.Change, st style, rolledBack string) {
	if ch.StateOnly {
		// Nothing changes on the host: one line, no empty block, not counted as a change.
		fmt.Fprintf(w, "  %s\n", st.dim(fmt.Sprintf("# %s: %s (nothing changes on the host)", termsafe.Line(ch.Addr), termsafe.Line(ch.Summary))))
		return
	}
	drift := false
	for _, f := range ch.Fields {
		drift = drift || f.Drift
	}
	outside := "changed outside sparkform"
	if rolledBack != "" && ch.RequiresReboot {
		outside = "rolled back by sparkform"
	}
	head := fmt.Sprintf("# %s %s", termsafe.Line(ch.Addr), actionWords[ch.Action])
	if drift {
		head += " (" + outside + ")"
	}
	if ch.Summary != "" {
		head += ": " + termsafe.Line(ch.Summary)
	}
	if ch.RequiresReboot {
		head += " (reboot required)"
	}
	fmt.Fprintf(w, "  %s\n", st.bold(head))
	if rolledBack != "" && ch.RequiresReboot {
		fmt.Fprintf(w, "  # sparkform rolled this host back %s\n", termsafe.Line(rolledBack))
	}
	fmt.Fprintf(w, "  %s %s %q {\n", st.symbol(ch.Action.Symbol()), termsafe.Line(ch.Type), ch.Name)
	width := 0
	for _, f := range ch.Fields {
		width = max(width, len(termsafe.Line(f.Path)))
	}
	for _, f := range ch.Fields {
		sym := "~"
		switch {
		case f.BeforeNull:
			sym = "+"
		case f.AfterNull:
			sym = "-"
		}
		before, after := termsafe.Line(f.Before), termsafe.Line(f.After)
		if f.BeforeNull {
			before = "(absent)"
		}
		if f.AfterNull {
			after = "(absent)"
		}
		line := fmt.Sprintf("%-*s = %s -> %s", width, termsafe.Line(f.Path), before, after)
		if f.Drift {
			line += st.dim("   # " + outside)
		}
		fmt.Fprintf(w, "      %s %s\n", st.symbol(sym), line)
	}
	fmt.Fprintln(w, "    }")
}
