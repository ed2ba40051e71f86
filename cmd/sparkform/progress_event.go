package main

// The apply view's handling of one engine event: step lines, tool output, host ends.

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

var percentRE = regexp.MustCompile(`\[\s*(\d{1,3})%\]`)

func (v *applyView) event(ev engine.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	defer v.flush(false)
	now := time.Now()
	if ev.Host != "" {
		v.logs.write(ev.Host, ev)
	}
	host, addr := termsafe.Line(ev.Host), termsafe.Line(ev.Addr)
	key := stepKey{ev.Host, ev.Addr}
	switch ev.Kind {
	case "test_start", "test_done", "test_skipped", "progress", "":
	case "apply_done", "apply_error":
		v.release(ev.Host, false)
		delete(v.planned, key)
	case "host_done", "host_failed":
		delete(v.active, ev.Host)
		v.release(ev.Host, ev.Kind == "host_failed")
		for k := range v.planned {
			if k.host == ev.Host {
				delete(v.planned, k)
			}
		}
	default:
		v.release(ev.Host, false)
	}
	switch ev.Kind {
	case "apply_start", "test_start", "reboot_start":
		v.active[ev.Host] = true
	}
	switch ev.Kind {
	case "apply_start":
		v.steps[key] = &step{verb: progressVerb(ev.Message), start: now, beat: now, percent: -1}
		if v.verbose {
			v.printf("%s: %s: %s...\n", host, addr, progressVerb(ev.Message))
		}
	case "reboot_start":
		v.steps[stepKey{ev.Host, ev.Addr}] = &step{verb: "rebooting", status: "waiting for the host", start: now, beat: now, percent: -1}
		if v.verbose {
			v.printf("%s: reboot: %s\n", host, termsafe.Line(ev.Message))
		}
	case "test_start":
		// A host's tests run one after another: this one starting ends the one before.
		for k, s := range v.steps {
			if k.host == ev.Host && s.verb == "testing" {
				delete(v.steps, k)
			}
		}
		v.steps[key] = &step{verb: "testing", start: now, beat: now, percent: -1}
		if v.verbose {
			v.printf("%s: %s: testing (%s)...\n", host, addr, termsafe.Line(ev.Message))
		}
	case "progress":
		if s := v.steps[key]; s != nil {
			if m := percentRE.FindStringSubmatch(ev.Message); m != nil {
				fmt.Sscan(m[1], &s.percent)
			}
			if rest, ok := strings.CutPrefix(ev.Message, "sparkform: "); ok {
				s.status = rest
			}
		}
		if v.verbose {
			v.printf("%s: %s: %s\n", host, addr, termsafe.Line(ev.Message))
		}
	case "apply_done":
		delete(v.steps, key)
		verb := pastVerb(strings.Fields(ev.Message + " ")[0])
		if v.reboots[key] {
			v.held[ev.Host] = append(v.held[ev.Host], heldStep{ev.Addr, verb, ev.Elapsed})
			return
		}
		var p *pendingLine
		p = v.add("done\x00"+ev.Addr+"\x00"+verb, ev.Host, ev.Addr, ev.Elapsed, func(st style) string {
			return fmt.Sprintf("%s (%s)", st.green(verb), fmtDuration(p.elapsed))
		})
		p.verb = verb
	case "apply_error":
		delete(v.steps, key)
		v.failed[ev.Host] = ev.Message
		// The engine's message starts with the address and "failed" the line already says:
		// "sysctl.loading: failed after 0.1s (exit 1): …", not "…: sysctl.loading: failed (exit 1)".
		msg, sep := strings.TrimPrefix(ev.Message, ev.Addr+": "), ": "
		if rest, ok := strings.CutPrefix(msg, "failed ("); ok {
			msg, sep = "("+rest, " "
		}
		v.failLine(ev.Host, ev.Addr, ev.Message, ev.Elapsed, fmt.Sprintf("%s: %s after %s%s%s", addr, v.st.red("failed"), fmtDuration(ev.Elapsed), sep, firstLine(msg)))
	case "reboot_done":
		delete(v.steps, key)
		msg := termsafe.Line(ev.Message)
		held := v.held[ev.Host]
		delete(v.held, ev.Host)
		addr, verb, elapsed := ev.Addr, "", ev.Elapsed
		for i, hs := range held {
			if i < len(held)-1 {
				v.printf("%s: %s: %s (%s)\n", host, termsafe.Line(hs.addr), v.st.green(hs.verb), fmtDuration(hs.elapsed))
				continue
			}
			addr, verb, elapsed = hs.addr, hs.verb+", rebooted: ", elapsed+hs.elapsed
		}
		var p *pendingLine
		p = v.add("reboot\x00"+addr+"\x00"+verb+ev.Message, ev.Host, addr, elapsed, func(st style) string {
			return fmt.Sprintf("%s%s (%s)", st.green(verb), msg, fmtDuration(p.elapsed))
		})
	case "test_done":
		t := ev.Test
		if t == nil {
			t = &state.TestRun{Mode: "?", Passed: true}
		}
		// Results from before an apply's changes (the host's baseline) get a line of their own.
		kind, label := "test", ""
		if t.Before {
			kind, label = "test-before", "before the changes: "
		}
		var p *pendingLine
		p = v.add(kind+"\x00"+ev.Host, ev.Host, ev.Addr, 0, func(st style) string { return p.testText(st) })
		p.hostTests, p.label = true, label
		p.addTest(ev.Addr, t.Mode, t.Seconds, t.Passed, ev.Elapsed)
	case "test_skipped":
		// A measurement before the changes that cannot run yet (its program comes with this
		// apply): its steps end; the reason is in the log (and streamed with -v).
		for k, s := range v.steps {
			if k.host == ev.Host && s.verb == "testing" {
				delete(v.steps, k)
			}
		}
		if v.verbose {
			v.printf("%s: %s\n", host, termsafe.Line(ev.Message))
		}
	case "host_done":
		v.endHost(ev.Host)
		if v.verbose {
			v.printf("%s: done: %s\n", host, termsafe.Line(ev.Message))
		}
	case "host_failed":
		v.endHost(ev.Host)
		if len(v.held[ev.Host]) > 0 {
			v.flush(true)
		}
		for _, hs := range v.held[ev.Host] {
			v.printf("%s: %s: %s (%s), then the reboot failed\n", host, termsafe.Line(hs.addr), hs.verb, fmtDuration(hs.elapsed))
		}
		said := len(v.held[ev.Host]) == 0 && v.failed[ev.Host] == ev.Message
		delete(v.held, ev.Host)
		if !said {
			v.failLine(ev.Host, "", ev.Message, 0, fmt.Sprintf("%s: %s", v.st.red("failed"), firstLine(ev.Message)))
		}
	case "rollout_batch":
		v.flush(true)
		v.batch = ev.Hosts
		msg := termsafe.Line(ev.Message)
		if len(ev.Hosts) > 0 {
			n, _, _ := strings.Cut(ev.Message, ":")
			msg = fmt.Sprintf("%s: %s", termsafe.Line(n), termsafe.Line(compactHosts(ev.Hosts)))
		}
		if !v.paused.IsZero() {
			msg += fmt.Sprintf(" (after a %s pause)", fmtDuration(now.Sub(v.paused)))
			v.paused = time.Time{}
			delete(v.steps, stepKey{"rollout", "pause"})
		}
		v.printf("%s %s\n", v.st.bold("rollout:"), msg)
	case "rollout_pause":
		// Said on the next batch's line; a long pause gets heartbeats like any step.
		v.flush(true)
		v.paused = now
		v.steps[stepKey{"rollout", "pause"}] = &step{verb: "pausing before the next batch", start: now, beat: now, percent: -1}
		if v.verbose {
			v.printf("%s %s\n", v.st.bold("rollout:"), termsafe.Line(ev.Message))
		}
	case "rollout_stopped":
		v.flush(true)
		v.printf("%s %s\n", v.st.bold("rollout:"), termsafe.Line(ev.Message))
	}
}

func (v *applyView) endHost(host string) {
	for k := range v.steps {
		if k.host == host {
			delete(v.steps, k)
		}
	}
}
