package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// testerChanges are the host's planned instances whose type is a Tester (smoke tests).
func testerChanges(hp *HostPlan) []*Change {
	var out []*Change
	for _, c := range hp.Changes {
		if r, ok := resources.Lookup(c.Type); ok && c.Action != resources.Delete {
			if _, isTester := r.(resources.Tester); isTester {
				out = append(out, c)
			}
		}
	}
	return out
}

// runTests runs the given smoke tests of the host and returns their results (not yet
// recorded); when says when they run ("before the changes" or ""), gen the generation they will
// be filed under when it is known before they run (0: not yet, as in an apply, which records its
// generation only once they passed). An error means a test could not run at all.
func runTests(ctx context.Context, h provider.Host, hp *HostPlan, tests []*Change, kernel, when string, gen int, em *emitter, rec *recorder) ([]*state.TestRun, error) {
	var runs []*state.TestRun
	for _, c := range tests {
		r, _ := resources.Lookup(c.Type)
		t := r.(resources.Tester)
		in := c.instance()
		tc := resources.TestContext{Kernel: kernel, Baseline: func(mode string) (resources.Baseline, bool) {
			return rec.baseline(hp.Name, c.Addr, mode)
		}}
		testStart := time.Now()
		em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "test_start", Message: strings.TrimSpace(when + " kernel " + kernel)})
		log := func(line string) { em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "progress", Message: line}) }
		outcomes, err := t.Test(ctx, h, in, tc, log)
		if err != nil {
			return runs, stepError(c.Addr, err)
		}
		context, setup := rec.context(hp.Name)
		for _, o := range outcomes {
			runs = append(runs, &state.TestRun{Time: time.Now().UTC(), Test: c.Addr, Mode: o.Mode, Seconds: o.Seconds,
				Runs: append([]float64{}, o.Runs...), Passed: o.Passed, Message: em.excerpt(hp.Name, o.Message), Kernel: kernel, Context: context, Setup: setup,
				Server: o.Server, Build: o.Build, Before: when != "", MaxSeconds: o.MaxSeconds, Generation: gen})
			verdict := "passed"
			if !o.Passed {
				verdict = "FAILED"
			}
			// The event holds a copy: recording the result later (its generation) does not
			// change what a view was given.
			shown := *runs[len(runs)-1]
			em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "test_done", Message: fmt.Sprintf("%s: %s median of %d, %s", o.Mode, english.Seconds(o.Seconds), len(o.Runs), verdict),
				Test: &shown, Detail: fullIfCut(o.Message, shown.Message), Elapsed: time.Since(testStart)})
		}
	}
	return runs, nil
}

// failedRuns joins the messages of failed results ("" when all passed).
func failedRuns(runs []*state.TestRun) string {
	var msgs []string
	for _, r := range runs {
		if !r.Passed {
			msgs = append(msgs, r.Message)
		}
	}
	return strings.Join(msgs, "\n")
}

// wantsRollback reports whether a failed test of the host asks for on_failure = "rollback".
func wantsRollback(hp *HostPlan, runs []*state.TestRun) bool {
	failed := map[string]bool{}
	for _, r := range runs {
		if !r.Passed {
			failed[r.Test] = true
		}
	}
	for _, c := range testerChanges(hp) {
		r, _ := resources.Lookup(c.Type)
		if failed[c.Addr] && r.(resources.Tester).RollbackOnFailure(c.Desired.Value) {
			return true
		}
	}
	return false
}

func (r *recorder) testRuns(host string, runs []*state.TestRun, generation int) error {
	if len(runs) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := r.st.Host(host)
	for _, run := range runs {
		run.Generation = generation
		hs.AddTestRun(run)
	}
	return r.persist()
}

func (r *recorder) baseline(host, test, mode string) (resources.Baseline, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	runs := r.st.Host(host).BaselineResults(test, mode, state.BaselineRuns)
	if len(runs) == 0 {
		return resources.Baseline{}, false
	}
	secs := make([]float64, len(runs))
	for i, run := range runs {
		secs[i] = run.Seconds
	}
	m, _ := resources.Median(secs)
	return resources.Baseline{Seconds: m, N: len(runs), Kernel: runs[0].Kernel}, true
}

// context summarises the host's applied resources for a test result: one line per resource
// for people (Summarize), and the settings that change load times as data (SetupDescriber).
func (r *recorder) context(host string) (map[string]string, *state.TestSetup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	var setup resources.TestSetup
	for addr, res := range r.st.Host(host).Resources {
		v := res.Attributes.Value
		if s := Summarize(v); s != "" {
			out[addr] = s
		}
		if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
			continue
		}
		if typ, ok := resources.Lookup(res.Type); ok {
			if d, ok := typ.(resources.SetupDescriber); ok {
				d.DescribeSetup(addr, v, &setup)
			}
		}
	}
	return out, &state.TestSetup{ReadAheadKB: setup.ReadAheadKB, Sysctl: setup.Sysctl, Builds: setup.Builds}
}

// Summarize renders a resource's attributes on one line, primitives and maps of primitives
// only: "device=nvme0n1 kb=8192", "vm.dirty_ratio=10 vm.swappiness=10".
func Summarize(v cty.Value) string {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() {
		return ""
	}
	var parts []string
	names := make([]string, 0)
	for n := range v.Type().AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := v.GetAttr(n)
		if a.IsNull() || !a.IsKnown() {
			continue
		}
		switch {
		case a.Type().IsPrimitiveType():
			parts = append(parts, n+"="+primitiveString(a))
		case a.Type().IsMapType() || a.Type().IsObjectType():
			var kv []string
			for it := a.ElementIterator(); it.Next(); {
				k, e := it.Element()
				if !e.IsNull() && e.Type().IsPrimitiveType() {
					kv = append(kv, k.AsString()+"="+primitiveString(e))
				}
			}
			sort.Strings(kv)
			parts = append(parts, kv...)
		}
	}
	return strings.Join(parts, " ")
}

func primitiveString(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case cty.Bool:
		return fmt.Sprint(v.True())
	}
	return v.GoString()
}

// TestResult is one host's outcome of `sparkform test`.
type TestResult struct {
	Name   string           `json:"name"`
	Kernel string           `json:"kernel,omitempty"`
	Runs   []*state.TestRun `json:"runs"`
	Error  string           `json:"error,omitempty"`
}

// Failed reports whether the host's tests could not run or did not pass.
func (t *TestResult) Failed() bool { return t.Error != "" || failedRuns(t.Runs) != "" }

// RunTests runs the smoke tests of the configuration on the selected hosts, in parallel, on
// demand (`sparkform test`): it reads the host's kernel, runs, and records the results.
func RunTests(ctx context.Context, cfg *config.Config, st *state.State, store StatePersister, opts Options) ([]*TestResult, error) {
	hosts, err := selectHosts(cfg, opts.Only, opts.Exclude, opts.Labels)
	if err != nil {
		return nil, err
	}
	em := newEmitter(opts)
	rec := newRecorder(st, store, nil)
	out := make([]*TestResult, len(hosts))
	forEachParallel(len(hosts), opts.parallelism(), func(i int) {
		ch := hosts[i]
		tr := &TestResult{Name: ch.Name}
		out[i] = tr
		hp := &HostPlan{Name: ch.Name, Address: ch.Address, Connection: ch}
		for _, r := range cfg.Resources {
			if slices.Contains(r.Hosts, ch.Name) {
				hp.Changes = append(hp.Changes, &Change{Addr: r.Addr(), Type: r.Type, Name: r.Name, Desired: state.Value{Value: r.Body}})
			}
		}
		if len(testerChanges(hp)) == 0 {
			return
		}
		if opts.stopping() {
			tr.Error = "interrupted before its tests started"
			return
		}
		pinned, gen := rec.hostKeyAndGeneration(ch.Name)
		h, err := opts.Dial(ctx, ch, pinned)
		if err != nil {
			tr.Error = em.excerpt(ch.Name, err.Error())
			return
		}
		defer h.Close()
		facts, err := readBootFacts(ctx, h, opts.stepTimeout())
		if err != nil {
			tr.Error = em.excerpt(ch.Name, err.Error())
			return
		}
		tr.Kernel = facts.Kernel
		runs, err := runTests(ctx, h, hp, testerChanges(hp), facts.Kernel, "", gen, em, rec)
		// The host's tests are over: views print its results now, not when every host is done.
		em.emit(Event{Host: ch.Name, Kind: "host_done", Message: fmt.Sprintf("%d test results", len(runs))})
		tr.Runs = runs
		if err != nil {
			tr.Error = em.excerpt(ch.Name, err.Error())
		}
		if err := rec.testRuns(ch.Name, runs, gen); err != nil && tr.Error == "" {
			tr.Error = "results could not be saved: " + em.excerpt(ch.Name, err.Error())
		}
	})
	return out, nil
}

// hostKeyAndGeneration reads the host's pinned key and latest generation (0: none).
func (r *recorder) hostKeyAndGeneration(host string) (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := r.st.Hosts[host]
	if hs == nil {
		return "", 0
	}
	gen := 0
	if len(hs.Generations) > 0 {
		gen = hs.Generations[len(hs.Generations)-1].N
	}
	return hs.HostKey, gen
}

// untested are the host's tests that have no result on it yet and want one from before the
// changes (smoke_test baseline, true by default): the "before" of the report's before/after.
func (r *recorder) untested(hp *HostPlan) []*Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := r.st.Hosts[hp.Name]
	var out []*Change
	for _, c := range testerChanges(hp) {
		res, _ := resources.Lookup(c.Type)
		if !res.(resources.Tester).BaselineBeforeChanges(c.Desired.Value) {
			continue
		}
		tested := false
		if hs != nil {
			for _, tr := range hs.Tests {
				if tr != nil && tr.Test == c.Addr {
					tested = true
					break
				}
			}
		}
		if !tested {
			out = append(out, c)
		}
	}
	return out
}

// testBefore measures the host before an apply changes it, for the tests that have no result
// there yet, and records the results (marked Before, under the host's current generation). It
// never fails the apply: a test that cannot run yet (its program comes with this apply) is
// reported and skipped. An error means state could not be saved.
func testBefore(ctx context.Context, h provider.Host, hp *HostPlan, em *emitter, rec *recorder) error {
	tests := rec.untested(hp)
	if len(tests) == 0 {
		return nil
	}
	_, gen := rec.hostKeyAndGeneration(hp.Name)
	runs, err := runTests(ctx, h, hp, tests, hp.Kernel, "before the changes,", gen, em, rec)
	if err != nil {
		em.emit(Event{Host: hp.Name, Kind: "test_skipped", Message: "no result from before the changes: " + err.Error()})
	}
	return rec.testRuns(hp.Name, runs, gen)
}
