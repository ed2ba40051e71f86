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
	addresses := map[string]string{}
	for _, h := range r.cfg.Hosts {
		addresses[h.Name] = h.Address
	}
	var failed []failure
	for _, r := range results {
		ran += len(r.Runs)
		if r.Failed() {
			code = 1
			msg := r.Error
			if msg == "" {
				msg = failedMessages(r)
			}
			failed = append(failed, failure{r.Name, addresses[r.Name], msg})
		}
	}
	failureView{}.write(stderr, failed)
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
		rf.ui.emit("info", "test_summary", testSummary(results),
			map[string]any{"tests": map[string]any{"results": ran, "hosts": len(results), "failed_hosts": failedHosts}})
	} else {
		fmt.Fprintf(stdout, "\n%s\n", testSummary(results))
		if logs.written() {
			fmt.Fprintf(stdout, "Logs: %s/ (one file per host)\n", termsafe.Line(logs.dir))
		} else if err := logs.problem(); err != nil {
			fmt.Fprintf(stdout, "Logs: not written: %s\n", termsafe.Line(err.Error()))
		}
	}
	return code
}

// testSummary is the last line of `sparkform test`: the results, the hosts they came from, and
// the hosts that failed or could not run their tests, by name.
func testSummary(results []*engine.TestResult) string {
	ran := 0
	var from, failed []string
	for _, r := range results {
		ran += len(r.Runs)
		if len(r.Runs) > 0 {
			from = append(from, r.Name)
		}
		if r.Failed() {
			failed = append(failed, r.Name)
		}
	}
	if ran == 0 && len(failed) == 0 {
		// "0 results from 0 hosts." read as if the hosts had been lost, on a fleet that has none.
		return fmt.Sprintf("No smoke tests: no smoke_test block applies to %s.", plural(len(results), "selected host"))
	}
	line := fmt.Sprintf("%s from %s.", plural(ran, "result"), plural(len(from), "host"))
	if len(failed) > 0 {
		line = fmt.Sprintf("%s from %s; failed on %s: %s (see the errors above).", plural(ran, "result"), plural(len(from), "host"),
			plural(len(failed), "host"), termsafe.Line(shortHosts(failed)))
	}
	return line
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
