package main

import (
	"fmt"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// test [DIR] [-host H]...: run the configuration's smoke tests now and record the results.
func runTest(c *hostCommand, _ *noFlags) int {
	ctx, graceful, rf, dir, stdout, stderr := c.ctx, c.graceful, &c.rf, c.dir, c.stdout, c.stderr
	r, ok := c.open(true, stderr)
	if !ok {
		return 1
	}
	defer r.release()
	events, logs, endView := rf.progressView(stdout, nil, dir, "test")
	opts := rf.engineOptions(events)
	opts.Graceful = graceful
	opts.RunLog = logs.path
	results, err := engine.RunTests(ctx, r.cfg, r.st, r.store, opts)
	endView()
	if err != nil {
		return rf.fail(stderr, "%v", err)
	}
	code := 0
	ran := 0
	for _, r := range results {
		ran += len(r.Runs)
		if r.Failed() {
			code = 1
			msg := r.Error
			if msg == "" {
				msg = failedMessages(r)
			}
			hostErrorf(stderr, r.Name, msg)
		}
	}
	if rf.ui != nil {
		failedHosts := 0
		for _, r := range results {
			if r.Failed() {
				failedHosts++
				if r.Error != "" {
					rf.ui.emit("error", "host_failed", r.Name+": tests could not run", map[string]any{"host": map[string]any{"name": r.Name}, "error": r.Error})
				}
			}
		}
		rf.ui.emit("info", "test_summary", fmt.Sprintf("%s on %s.", plural(ran, "result"), plural(len(results), "host")),
			map[string]any{"tests": map[string]any{"results": ran, "hosts": len(results), "failed_hosts": failedHosts}})
	} else {
		fmt.Fprintf(stdout, "\n%s on %s.", plural(ran, "result"), plural(len(results), "host"))
		if code != 0 {
			fmt.Fprint(stdout, " Some failed: see the errors.")
		}
		fmt.Fprintln(stdout)
		if logs.written() {
			fmt.Fprintf(stdout, "Logs: %s/ (one file per host)\n", termsafe.Line(logs.dir))
		} else if err := logs.problem(); err != nil {
			fmt.Fprintf(stdout, "Logs: not written: %s\n", termsafe.Line(err.Error()))
		}
	}
	return code
}

func failedMessages(r *engine.TestResult) string {
	out := ""
	for _, run := range r.Runs {
		if !run.Passed {
			if out != "" {
				out += "\n"
			}
			out += run.Message
		}
	}
	return out
}
