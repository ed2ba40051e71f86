package main

// An apply's result, as text: hosts with the same outcome on one row, totals, failed hosts' logs.

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// maxLogTails is how many failed hosts' log tails an apply's end shows.
const maxLogTails = 5

// appliedCounts counts what an apply did on a host: the actions of the changes it applied,
// whatever the host's final status (an interrupted or failed host may have changed things).
func appliedCounts(p *engine.Plan, h *engine.HostResult) engine.Counts {
	for _, hp := range p.Hosts {
		if hp.Name != h.Name {
			continue
		}
		done := &engine.HostPlan{}
		for _, ch := range hp.Changes {
			if slices.Contains(h.Applied, ch.Addr) {
				done.Changes = append(done.Changes, ch)
			}
		}
		return done.Counts()
	}
	return engine.Counts{}
}

// renderResult prints the outcome of an apply: hosts with the same outcome grouped on one row,
// then the totals of what happened, the log directory, and for each failed host its error and
// the tail of its log.
func renderResult(w io.Writer, p *engine.Plan, r *engine.Result, st style, logs *runLogs) {
	var total engine.Counts
	type row struct {
		hosts          []string
		status, detail string
		genMin, genMax int // of applied hosts: each records its own next generation
	}
	var rows []*row
	byKey := map[string]*row{}
	for _, h := range r.Hosts {
		c := appliedCounts(p, h)
		total.Add += c.Add
		total.Change += c.Change
		total.Destroy += c.Destroy
		detail := ""
		switch h.Status {
		case engine.StatusApplied:
			detail = countsText(c)
		case engine.StatusUnchanged:
			detail = "no changes"
		default:
			detail = firstLine(strings.ReplaceAll(h.Error, h.Name, "HOST"))
			if len(h.Applied) > 0 {
				detail = countsText(c) + "; " + detail
			}
		}
		key := h.Status + "\x00" + detail
		x := byKey[key]
		if x == nil {
			x = &row{status: h.Status, detail: detail, genMin: h.Generation, genMax: h.Generation}
			byKey[key] = x
			rows = append(rows, x)
		}
		x.hosts = append(x.hosts, h.Name)
		x.genMin, x.genMax = min(x.genMin, h.Generation), max(x.genMax, h.Generation)
	}
	// Hosts that did the same differ only in their generation numbers: one row, "generations 3–5".
	for _, x := range rows {
		switch {
		case x.status != engine.StatusApplied:
		case x.genMin == x.genMax:
			x.detail += fmt.Sprintf("; generation %d", x.genMin)
		default:
			x.detail += fmt.Sprintf("; generations %d–%d", x.genMin, x.genMax)
		}
	}
	fmt.Fprintln(w)
	totals := fmt.Sprintf("Resources: %s, on %s.", countsText(total), plural(len(r.Hosts), "host"))
	if len(rows) == 1 && rows[0].status == engine.StatusApplied && r.Stopped == "" {
		// One outcome for every host: the totals line says it all.
		gen := rows[0].detail[strings.LastIndex(rows[0].detail, "; ")+2:]
		totals = strings.TrimSuffix(totals, ".") + ", " + gen + "."
		rows = nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(rows) > 0 {
		fmt.Fprintln(tw, "  HOSTS\tCOUNT\tRESULT\tDETAIL")
	}
	for _, x := range rows {
		detail := x.detail
		if len(x.hosts) == 1 {
			detail = strings.ReplaceAll(detail, "HOST", termsafe.Line(x.hosts[0]))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", termsafe.Line(compactHosts(x.hosts)), len(x.hosts), x.status, detail)
	}
	tw.Flush()
	if len(rows) > 0 {
		fmt.Fprintln(w)
	}
	if r.Stopped != "" {
		var untouched []string
		for _, h := range r.Hosts {
			if h.Status == engine.StatusUntouched {
				untouched = append(untouched, h.Name)
			}
		}
		fmt.Fprintf(w, "Rollout: %s.\n  Untouched: %s\n", termsafe.Text(r.Stopped), termsafe.Line(compactHosts(untouched)))
	}
	if logs.written() {
		fmt.Fprintf(w, "Logs: %s/ (one file per host)\n", termsafe.Line(logs.dir))
	} else if err := logs.problem(); err != nil {
		fmt.Fprintf(w, "Logs: not written: %s\n", termsafe.Line(err.Error()))
	}
	if n := len(r.Failed()); n > 0 || r.Stopped != "" {
		fmt.Fprintf(w, "%s %s\n", st.red(st.bold(fmt.Sprintf("Apply finished with errors on %s.", plural(n, "host")))), totals)
		// Hosts stopped by an interrupt did nothing wrong: those with the same message are one
		// error and their logs' tails (the last step that went well) are not shown.
		// A failed host's error names it once, and the tails of the first maxLogTails failed
		// hosts' logs are shown: at 100 failed hosts, 1,100 lines would bury the summary.
		interrupted := map[string][]string{}
		var messages, untailed []string
		tails := 0
		for _, h := range r.Hosts {
			switch h.Status {
			case engine.StatusFailed, engine.StatusRolledBack:
				msg := h.Error
				if !strings.HasPrefix(msg, h.Name+" ") && !strings.HasPrefix(msg, h.Name+":") {
					msg = h.Name + ": " + msg
				}
				fmt.Fprintf(w, "\n%s %s\n", st.red(st.bold("Error:")), termsafe.Text(msg))
				tail := logs.tail(h.Name, 10)
				switch {
				case len(tail) == 0:
				case tails == maxLogTails:
					untailed = append(untailed, h.Name)
				default:
					tails++
					fmt.Fprintf(w, "  last lines of %s:\n", termsafe.Line(logs.path(h.Name)))
					for _, l := range tail {
						fmt.Fprintf(w, "  │ %s\n", l)
					}
				}
			case engine.StatusInterrupted:
				if interrupted[h.Error] == nil {
					messages = append(messages, h.Error)
				}
				interrupted[h.Error] = append(interrupted[h.Error], h.Name)
			}
		}
		for _, m := range messages {
			fmt.Fprintf(w, "\n%s %s: %s\n", st.red(st.bold("Error:")), termsafe.Line(compactHosts(interrupted[m])), termsafe.Text(m))
		}
		if len(untailed) > 0 {
			fmt.Fprintf(w, "\nThe logs of %s (%s) are in %s/.\n", plural(len(untailed), "more failed host"), termsafe.Line(compactHosts(untailed)), termsafe.Line(logs.dir))
		}
		return
	}
	fmt.Fprintf(w, "%s %s\n", st.green(st.bold("Apply complete!")), totals)
}
