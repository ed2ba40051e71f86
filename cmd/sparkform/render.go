package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
)

// isTerminal reports whether w is a character device (colour and live progress make sense).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

var actionWords = map[resources.Action]string{
	resources.Create:  "will be created",
	resources.Update:  "will be updated in-place",
	resources.Delete:  "will be destroyed",
	resources.Replace: "must be replaced",
}

// renderPlan writes the plan as Terraform users read plans: a legend, per host the changes
// with field-level before -> after, drift marked, then totals and a per-host summary table.
func renderPlan(w io.Writer, p *engine.Plan) {
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "Warning: %s\n\n", termsafe.Line(warn))
	}
	if p.HasChanges() {
		fmt.Fprintln(w, "sparkform will perform the following actions. Symbols:")
		fmt.Fprintln(w, "  + create   ~ update in-place   - destroy   -/+ replace")
		fmt.Fprintln(w)
	}
	for _, h := range p.Hosts {
		if h.Error != "" {
			fmt.Fprintf(w, "%s (%s): could not be planned\n", termsafe.Line(h.Name), termsafe.Line(h.Address))
			for _, l := range strings.Split(termsafe.Text(h.Error), "\n") {
				fmt.Fprintf(w, "  │ %s\n", l)
			}
			fmt.Fprintln(w)
			continue
		}
		c := h.Counts()
		if c.Add+c.Change+c.Destroy == 0 {
			continue
		}
		fmt.Fprintf(w, "%s (%s, kernel %s)\n", termsafe.Line(h.Name), termsafe.Line(h.Address), termsafe.Line(h.Kernel))
		for _, ch := range h.Changes {
			if ch.Action == resources.NoOp {
				continue
			}
			renderChange(w, ch)
		}
		for _, ch := range h.Changes {
			if r, ok := resources.Lookup(ch.Type); ok && ch.Action == resources.NoOp {
				if _, isTester := r.(resources.Tester); isTester {
					fmt.Fprintf(w, "  # %s will run after the changes\n", termsafe.Line(ch.Addr))
				}
			}
		}
		fmt.Fprintln(w)
	}
	renderPlanSummary(w, p)
}

func renderChange(w io.Writer, ch *engine.Change) {
	drift := false
	for _, f := range ch.Fields {
		drift = drift || f.Drift
	}
	head := fmt.Sprintf("  # %s %s", termsafe.Line(ch.Addr), actionWords[ch.Action])
	if drift {
		head += " (changed outside sparkform)"
	}
	if ch.Summary != "" {
		head += ": " + termsafe.Line(ch.Summary)
	}
	if ch.RequiresReboot {
		head += " (reboot required)"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintf(w, "  %s %s %q {\n", ch.Action.Symbol(), termsafe.Line(ch.Type), ch.Name)
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
		line := fmt.Sprintf("      %s %-*s = %s -> %s", sym, width, termsafe.Line(f.Path), before, after)
		if f.Drift {
			line += "   # changed outside sparkform"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "    }")
}

func renderPlanSummary(w io.Writer, p *engine.Plan) {
	var total engine.Counts
	for _, h := range p.Hosts {
		c := h.Counts()
		total.Add += c.Add
		total.Change += c.Change
		total.Destroy += c.Destroy
	}
	failed := len(p.Failed())
	if !p.HasChanges() && failed == 0 {
		fmt.Fprintf(w, "No changes. %d hosts match the configuration.\n", len(p.Hosts))
		return
	}
	fmt.Fprintf(w, "Plan: %d to add, %d to change, %d to destroy, on %d hosts", total.Add, total.Change, total.Destroy, len(p.Hosts))
	if failed > 0 {
		fmt.Fprintf(w, " (%d could not be planned)", failed)
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintln(w)
	width := len("HOST")
	for _, h := range p.Hosts {
		width = max(width, len(termsafe.Line(h.Name)))
	}
	row := func(host, add, change, destroy, status string) {
		fmt.Fprintf(w, "  %-*s  %3s  %6s  %7s  %s\n", width, termsafe.Line(host), add, change, destroy, termsafe.Line(status))
	}
	row("HOST", "ADD", "CHANGE", "DESTROY", "STATUS")
	for _, h := range p.Hosts {
		if h.Error != "" {
			row(h.Name, "-", "-", "-", "error: "+firstLine(h.Error))
			continue
		}
		c := h.Counts()
		status := "changes"
		if c.Add+c.Change+c.Destroy == 0 {
			status = "no changes"
		}
		for _, ch := range h.Changes {
			if ch.RequiresReboot && ch.Action != resources.NoOp {
				status = "changes, reboot"
				break
			}
		}
		row(h.Name, fmt.Sprint(c.Add), fmt.Sprint(c.Change), fmt.Sprint(c.Destroy), status)
	}
}

// firstLine is the first line of s (a host's error text), escaped for the terminal and shortened.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	l = termsafe.Line(l)
	if len(l) > 120 {
		l = l[:117] + "..."
	}
	return l
}

// renderEvent prints one progress line of an apply.
func renderEvent(w io.Writer, ev engine.Event) {
	// Messages carry host output (build logs, error text): escaped, one line each.
	ev.Host, ev.Addr, ev.Message = termsafe.Line(ev.Host), termsafe.Line(ev.Addr), termsafe.Text(ev.Message)
	switch ev.Kind {
	case "apply_start":
		fmt.Fprintf(w, "%s: %s: %s...\n", ev.Host, ev.Addr, progressVerb(ev.Message))
	case "apply_done":
		fmt.Fprintf(w, "%s: %s: done (%s)\n", ev.Host, ev.Addr, ev.Message)
	case "apply_error":
		fmt.Fprintf(w, "%s: %s: failed: %s\n", ev.Host, ev.Addr, ev.Message)
	case "progress":
		fmt.Fprintf(w, "%s: %s: %s\n", ev.Host, ev.Addr, ev.Message)
	case "host_failed":
		fmt.Fprintf(w, "%s: failed: %s\n", ev.Host, firstLine(ev.Message))
	case "test_start":
		fmt.Fprintf(w, "%s: %s: testing (%s)...\n", ev.Host, ev.Addr, ev.Message)
	case "test_done":
		fmt.Fprintf(w, "%s: %s: %s\n", ev.Host, ev.Addr, ev.Message)
	case "host_done":
		fmt.Fprintf(w, "%s: done: %s\n", ev.Host, ev.Message)
	case "rollout_batch", "rollout_pause", "rollout_stopped":
		fmt.Fprintf(w, "rollout: %s\n", ev.Message)
	}
}

func progressVerb(action string) string {
	switch resources.Action(action) {
	case resources.Create:
		return "creating"
	case resources.Delete:
		return "destroying"
	case resources.Replace:
		return "replacing"
	}
	return "updating"
}

// renderResult prints the outcome of an apply, one line per host, then the totals.
func renderResult(w io.Writer, r *engine.Result) {
	var total engine.Counts
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "  HOST\tRESULT\tDETAIL")
	for _, h := range r.Hosts {
		detail := ""
		switch h.Status {
		case engine.StatusApplied:
			total.Add += h.Counts.Add
			total.Change += h.Counts.Change
			total.Destroy += h.Counts.Destroy
			detail = fmt.Sprintf("%d added, %d changed, %d destroyed; generation %d", h.Counts.Add, h.Counts.Change, h.Counts.Destroy, h.Generation)
		case engine.StatusUnchanged:
			detail = "no changes"
		default:
			detail = firstLine(h.Error)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", termsafe.Line(h.Name), h.Status, detail)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if r.Stopped != "" {
		fmt.Fprintf(w, "Rollout stopped: %s.\n  Untouched:", termsafe.Text(r.Stopped))
		for _, h := range r.Hosts {
			if h.Status == engine.StatusUntouched {
				fmt.Fprintf(w, " %s", termsafe.Line(h.Name))
			}
		}
		fmt.Fprintln(w)
	}
	if n := len(r.Failed()); n > 0 || r.Stopped != "" {
		fmt.Fprintf(w, "Apply finished with errors on %d hosts. Resources: %d added, %d changed, %d destroyed.\n", n, total.Add, total.Change, total.Destroy)
		for _, h := range r.Hosts {
			if h.Status == engine.StatusFailed || h.Status == engine.StatusRolledBack || h.Status == engine.StatusInterrupted {
				fmt.Fprintf(w, "\nError: %s: %s\n", termsafe.Line(h.Name), termsafe.Text(h.Error))
			}
		}
		return
	}
	fmt.Fprintf(w, "Apply complete! Resources: %d added, %d changed, %d destroyed.\n", total.Add, total.Change, total.Destroy)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
