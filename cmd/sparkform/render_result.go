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
		own            string // the first host's own detail, shown when it is alone
		genMin, genMax int    // of applied hosts: each records its own next generation
	}
	var rows []*row
	byKey := map[string]*row{}
	addresses := map[string]string{}
	for _, hp := range p.Hosts {
		addresses[hp.Name] = hp.Address
	}
	for _, h := range r.Hosts {
		c := appliedCounts(p, h)
		total.Add += c.Add
		total.Change += c.Change
		total.Destroy += c.Destroy
		detail, own, key := "", "", ""
		switch h.Status {
		case engine.StatusApplied:
			detail = countsText(c)
		case engine.StatusUnchanged:
			detail = "no changes"
		default:
			// Hosts that failed the same way share a row; it shows <host> for their names.
			key = failureKey(failure{h.Name, addresses[h.Name], h.Error})
			detail, own = firstLine(failureTemplate(key)), firstLine(h.Error)
			if len(h.Applied) > 0 {
				detail, own = countsText(c)+"; "+detail, countsText(c)+"; "+own
			}
		}
		key = h.Status + "\x00" + detail + "\x00" + key
		x := byKey[key]
		if x == nil {
			x = &row{status: h.Status, detail: detail, own: own, genMin: h.Generation, genMax: h.Generation}
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
	used := [3]int{len("HOSTS"), len("COUNT"), len("RESULT")} // the widths of the columns before DETAIL
	for _, x := range rows {
		used = [3]int{max(used[0], len(termsafe.Line(shortHosts(x.hosts)))), max(used[1], len(fmt.Sprint(len(x.hosts)))), max(used[2], len(x.status))}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(rows) > 0 {
		fmt.Fprintln(tw, "  HOSTS\tCOUNT\tRESULT\tDETAIL")
	}
	for _, x := range rows {
		detail := x.detail
		if len(x.hosts) == 1 && x.own != "" {
			detail = x.own
		}
		detail = fit(detail, 2+used[0]+2+used[1]+2+used[2]+2)
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", termsafe.Line(shortHosts(x.hosts)), len(x.hosts), x.status, detail)
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
		// Hosts that failed the same way are one error, with the tail of the first one's log;
		// hosts stopped by an interrupt did nothing wrong: their logs' tails (the last step that
		// went well) are not shown.
		var failed, interrupted []failure
		for _, h := range r.Hosts {
			f := failure{h.Name, addresses[h.Name], h.Error}
			switch h.Status {
			case engine.StatusFailed, engine.StatusRolledBack:
				failed = append(failed, f)
			case engine.StatusInterrupted:
				interrupted = append(interrupted, f)
			}
		}
		failureView{st: st, logs: logs, tails: true, spaced: true}.write(w, failed)
		failureView{st: st, logs: logs, spaced: true}.write(w, interrupted)
		return
	}
	fmt.Fprintf(w, "%s %s\n", st.green(st.bold("Apply complete!")), totals)
}
