package main

// The JSON UI stream's plan, event, summary and result messages.

import (
	"encoding/json"
	"fmt"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

// plan writes a plan: per host per change a planned_change, failed hosts, warnings, and the
// change_summary.
func (u *jsonUI) plan(p *engine.Plan, operation string) {
	for _, w := range p.Warnings {
		u.diagnostic("warning", w, "", nil)
	}
	var total engine.Counts
	for _, h := range p.Hosts {
		if h.Error != "" {
			u.emit("error", "host_failed", fmt.Sprintf("%s: could not be planned", h.Name), map[string]any{
				"host": map[string]any{"name": h.Name, "address": h.Address}, "error": h.Error})
			continue
		}
		c := h.Counts()
		total.Add += c.Add
		total.Change += c.Change
		total.Destroy += c.Destroy
		total.Record += c.Record
		for _, ch := range h.Changes {
			if ch.Action == resources.NoOp {
				continue
			}
			fields := make([]map[string]any, 0, len(ch.Fields))
			drift := false
			for _, f := range ch.Fields {
				fc := map[string]any{"path": f.Path, "drift": f.Drift}
				if f.BeforeNull {
					fc["before"] = nil
				} else {
					fc["before"] = f.Before
				}
				if f.AfterNull {
					fc["after"] = nil
				} else {
					fc["after"] = f.After
				}
				fields = append(fields, fc)
				drift = drift || f.Drift
			}
			change := map[string]any{"resource": resourceRef(ch.Addr, ch.Type, ch.Name), "action": actionName(ch.Action),
				"reboot": ch.RequiresReboot, "drift": drift, "summary": ch.Summary, "fields": fields}
			if ch.StateOnly {
				change["state_only"] = true
			}
			if h.RolledBack != "" && ch.RequiresReboot {
				change["rolled_back"] = h.RolledBack
			}
			u.emit("info", "planned_change", fmt.Sprintf("%s: %s: plan to %s", h.Name, ch.Addr, actionName(ch.Action)), map[string]any{
				"host": map[string]any{"name": h.Name, "address": h.Address, "kernel": h.Kernel}, "change": change})
		}
	}
	for _, h := range p.Hosts {
		if h.Pending != "" && h.Error == "" {
			u.emit("info", "host_pending", fmt.Sprintf("%s: tests and generation pending", h.Name), map[string]any{
				"host": map[string]any{"name": h.Name, "address": h.Address, "kernel": h.Kernel}, "reason": h.Pending})
		}
	}
	u.summary(operation, total, len(p.Hosts), len(p.Failed()))
}

func (u *jsonUI) summary(operation string, c engine.Counts, hosts, failed int) {
	u.summaryOf(operation, c, hosts, failed, failed > 0)
}

// summaryOf writes the change_summary: planned counts for a plan, what happened for an apply.
func (u *jsonUI) summaryOf(operation string, c engine.Counts, hosts, failed int, withErrors bool) {
	msg := fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy, on %s.", c.Add, c.Change, c.Destroy, plural(hosts, "host"))
	if operation != "plan" {
		verb := "Apply complete!"
		if withErrors {
			verb = "Apply finished with errors."
			if failed > 0 {
				// As the text view says it.
				verb = fmt.Sprintf("Apply finished with errors on %s.", plural(failed, "host"))
			}
		}
		msg = fmt.Sprintf("%s Resources: %s, on %s.", verb, countsText(c), plural(hosts, "host"))
	}
	u.emit("info", "change_summary", msg,
		map[string]any{"changes": map[string]any{"operation": operation, "add": c.Add, "change": c.Change, "remove": c.Destroy, "record": c.Record, "hosts": hosts, "failed_hosts": failed, "errors": withErrors}})
}

// event writes an engine event as the matching stream message. Tool output (progress) is
// only written with -v, as the text view only streams it then.
func (u *jsonUI) event(ev engine.Event, verbose bool) {
	host := map[string]any{"name": ev.Host}
	secs := ev.Elapsed.Seconds()
	switch ev.Kind {
	case "apply_start":
		u.emit("info", "apply_start", fmt.Sprintf("%s: %s: %s...", ev.Host, ev.Addr, progressVerb(ev.Message)),
			map[string]any{"host": host, "resource": map[string]any{"addr": ev.Addr}, "action": ev.Message})
	case "apply_done":
		u.emit("info", "apply_complete", fmt.Sprintf("%s: %s: done after %s", ev.Host, ev.Addr, fmtDuration(ev.Elapsed)),
			map[string]any{"host": host, "resource": map[string]any{"addr": ev.Addr}, "elapsed_seconds": secs})
	case "apply_error":
		u.emit("error", "apply_errored", fmt.Sprintf("%s: %s: failed after %s", ev.Host, ev.Addr, fmtDuration(ev.Elapsed)),
			map[string]any{"host": host, "resource": map[string]any{"addr": ev.Addr}, "elapsed_seconds": secs, "error": ev.Message})
	case "reboot_start":
		u.emit("info", "reboot_start", fmt.Sprintf("%s: %s", ev.Host, ev.Message),
			map[string]any{"host": host, "resource": map[string]any{"addr": ev.Addr}})
	case "reboot_done":
		u.emit("info", "reboot_complete", fmt.Sprintf("%s: %s", ev.Host, ev.Message),
			map[string]any{"host": host, "resource": map[string]any{"addr": ev.Addr}, "elapsed_seconds": secs})
	case "test_done":
		if t := ev.Test; t != nil {
			// The test's name too: two tests may have a mode of the same name ("default").
			u.emit(levelOf(t.Passed), "test_result", fmt.Sprintf("%s: %s: %s", ev.Host, t.Test, ev.Message), map[string]any{"host": host, "test": testRun(t)})
		}
	case "host_failed":
		u.emit("error", "host_failed", fmt.Sprintf("%s: failed", ev.Host), map[string]any{"host": host, "error": ev.Message})
	case "rollout_batch", "rollout_pause", "rollout_stopped":
		r := map[string]any{"event": ev.Kind[len("rollout_"):]}
		if len(ev.Hosts) > 0 {
			r["hosts"] = ev.Hosts
		}
		u.emit("info", "rollout", "rollout: "+ev.Message, map[string]any{"rollout": r})
	case "progress":
		if verbose {
			u.emit("info", "log", fmt.Sprintf("%s: %s: %s", ev.Host, ev.Addr, ev.Message),
				map[string]any{"host": host, "resource": map[string]any{"addr": ev.Addr}, "line": ev.Message})
		}
	}
}

// valueJSON is a cty value as plain JSON (null for a null value).
func valueJSON(v cty.Value) any {
	if v == cty.NilVal || v.IsNull() || !v.IsWhollyKnown() {
		return nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil
	}
	return json.RawMessage(b)
}

func levelOf(ok bool) string {
	if ok {
		return "info"
	}
	return "error"
}

func testRun(t *state.TestRun) map[string]any {
	runs := t.Runs
	if runs == nil {
		runs = []float64{}
	}
	return map[string]any{"addr": t.Test, "mode": t.Mode, "seconds": t.Seconds, "runs": runs, "passed": t.Passed,
		"message": t.Message, "kernel": t.Kernel, "generation": t.Generation, "before": t.Before, "server": t.Server, "build": t.Build}
}

// result writes an apply's per-host results and its change_summary (what happened).
func (u *jsonUI) result(p *engine.Plan, r *engine.Result, logs *runLogs, operation string) {
	var total engine.Counts
	for _, h := range r.Hosts {
		c := appliedCounts(p, h)
		total.Add += c.Add
		total.Change += c.Change
		total.Destroy += c.Destroy
		total.Record += c.Record
		f := map[string]any{"host": map[string]any{"name": h.Name}, "status": h.Status, "generation": h.Generation,
			"applied": map[string]any{"add": c.Add, "change": c.Change, "remove": c.Destroy}}
		if h.Error != "" {
			f["error"] = h.Error
		}
		if logs.written() {
			f["log"] = logs.path(h.Name)
		}
		level := "info"
		if h.Status != engine.StatusApplied && h.Status != engine.StatusUnchanged {
			level = "error"
		}
		u.emit(level, "host_result", fmt.Sprintf("%s: %s", h.Name, h.Status), f)
	}
	u.summaryOf(operation, total, len(r.Hosts), len(r.Failed()), len(r.Failed()) > 0 || r.Stopped != "")
}
