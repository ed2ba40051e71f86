package engine

import (
	"context"
	"errors"
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

// errStalePlan is returned when a saved plan was made against another state.
var errStalePlan = errors.New("saved plan is stale")

// Result is what an apply did, per host.
type Result struct {
	Hosts []*HostResult `json:"hosts"`
	// Stopped explains why the rollout started no further batches ("" when it ran to the end).
	Stopped string `json:"stopped,omitempty"`
	// StateError is set when a save of the state failed (errStateNotSaved and why): the caller's
	// *state.State then holds more than the backend does, and should be saved elsewhere.
	StateError string `json:"state_error,omitempty"`
}

// Host statuses of a Result.
const (
	StatusApplied    = "applied"
	StatusUnchanged  = "unchanged"
	StatusFailed     = "failed"
	StatusRolledBack = "rolled_back" // a failure: the host came back on its previous kernel
	StatusSkipped    = "skipped"     // not planned (unreachable, key refused, resource error)
	StatusUntouched  = "untouched"   // the rollout stopped before its batch
	// StatusInterrupted: the user asked to stop; the steps in flight finished, later ones did not start.
	StatusInterrupted = "interrupted"
)

// HostResult is one host's outcome.
type HostResult struct {
	Name    string   `json:"name"`
	Status  string   `json:"status"`
	Applied []string `json:"applied,omitempty"`
	Counts  Counts   `json:"counts"`
	Error   string   `json:"error,omitempty"`
	// Generation is the history entry this apply recorded for the host (0: none).
	Generation int `json:"generation,omitempty"`
}

// Failed lists the hosts that did not end where the plan meant them to.
func (r *Result) Failed() []*HostResult {
	var out []*HostResult
	for _, h := range r.Hosts {
		switch h.Status {
		case StatusFailed, StatusRolledBack, StatusSkipped, StatusInterrupted:
			out = append(out, h)
		}
	}
	return out
}

// StatePersister is where apply records each change as soon as it is made.
type StatePersister interface {
	Persist(*state.State) error
}

// CheckFresh refuses a saved plan whose state has changed since it was made.
func CheckFresh(p *Plan, st *state.State) error {
	if p.FormatVersion != planFormatVersion {
		return fmt.Errorf("plan file format %d is not %d: make the plan again with this sparkform", p.FormatVersion, planFormatVersion)
	}
	cur := ""
	if st.Serial > 0 {
		cur = st.Lineage
	}
	if p.StateLineage != cur || p.StateSerial != st.Serial {
		return fmt.Errorf("%w: it was made against state serial %d (lineage %q), state is now serial %d (lineage %q); run plan again",
			errStalePlan, p.StateSerial, p.StateLineage, st.Serial, cur)
	}
	return nil
}

// Apply carries out a plan. Hosts with changes go in rollout batches (all at once without a
// rollout block), each batch in parallel; past max_failures no new batch starts. On each host:
// destroys first, then creates and updates in dependency order, then changes that need a reboot
// (try-once boot, wait, verify, confirm). State is persisted after every step (a resource, or
// the changes of one exec) before the step is reported done, so an interrupted apply loses at
// most the steps in flight; steps ending on several hosts share writes (recorder). When a
// persist fails, the apply stops as on an interrupt: the steps in flight finish, no new one
// starts.
func Apply(ctx context.Context, p *Plan, st *state.State, store StatePersister, opts Options) *Result {
	res := &Result{Hosts: make([]*HostResult, len(p.Hosts))}
	em := newEmitter(opts)
	parent := opts.Graceful
	if parent == nil {
		parent = context.Background()
	}
	graceful, lost := context.WithCancelCause(parent)
	defer lost(nil)
	opts.Graceful = graceful
	rec := newRecorder(st, store, lost)
	defer func() {
		if why := opts.stateLost(); why != nil {
			res.StateError = why.Error()
			if res.Stopped == "" {
				res.Stopped = why.Error() + "; no new step started"
			}
		}
	}()
	var work []int
	for i, hp := range p.Hosts {
		switch {
		case hp.Error != "":
			res.Hosts[i] = &HostResult{Name: hp.Name, Status: StatusSkipped, Error: "not planned: " + excerpt(hp.Error, "")}
		case len(orderChanges(hp.Changes)) == 0 && hp.Pending == "":
			res.Hosts[i] = &HostResult{Name: hp.Name, Status: StatusUnchanged}
		default:
			work = append(work, i)
		}
	}
	batches, maxFailures := rolloutBatches(len(work), p.Rollout, opts.BatchSize)
	failures := 0
	next := 0
	for b, size := range batches {
		batch := work[next : next+size]
		if opts.stopping() {
			for _, i := range work[next:] {
				res.Hosts[i] = &HostResult{Name: p.Hosts[i].Name, Status: StatusUntouched, Counts: p.Hosts[i].Counts(),
					Error: "interrupted before this host's batch"}
			}
			res.Stopped = fmt.Sprintf("interrupted: %s left untouched", english.Plural(len(work)-next, "host"))
			if why := opts.stateLost(); why != nil {
				res.Stopped = fmt.Sprintf("%v: %s left untouched", why, english.Plural(len(work)-next, "host"))
			}
			em.emit(Event{Kind: "rollout_stopped", Message: res.Stopped})
			break
		}
		if maxFailures >= 0 && failures > maxFailures {
			for _, i := range work[next:] {
				res.Hosts[i] = &HostResult{Name: p.Hosts[i].Name, Status: StatusUntouched, Counts: p.Hosts[i].Counts(),
					Error: "rollout stopped before this host's batch"}
			}
			res.Stopped = fmt.Sprintf("stopped after %s (max_failures %d): %s left untouched", english.Plural(failures, "failed host"), maxFailures, english.Plural(len(work)-next, "host"))
			em.emit(Event{Kind: "rollout_stopped", Message: res.Stopped})
			break
		}
		if b > 0 && p.Rollout != nil && p.Rollout.Pause > 0 {
			em.emit(Event{Kind: "rollout_pause", Message: fmt.Sprintf("pausing %s before batch %d of %d", p.Rollout.Pause, b+1, len(batches))})
			select {
			case <-time.After(p.Rollout.Pause):
			case <-ctx.Done():
			}
		}
		if len(batches) > 1 {
			names := make([]string, len(batch))
			for k, i := range batch {
				names[k] = p.Hosts[i].Name
			}
			em.emit(Event{Kind: "rollout_batch", Hosts: names, Message: fmt.Sprintf("batch %d of %d: %s", b+1, len(batches), strings.Join(names, ", "))})
		}
		forEachParallel(len(batch), opts.parallelism(), func(k int) {
			i := batch[k]
			res.Hosts[i] = applyHost(ctx, p, p.Hosts[i], opts, em, rec)
		})
		for _, i := range batch {
			if s := res.Hosts[i].Status; s == StatusFailed || s == StatusRolledBack {
				failures++
			}
		}
		next += size
	}
	return res
}

// rolloutBatches splits n hosts into batch sizes, and resolves max_failures (-1: no limit).
// A command-line batch size overrides the rollout block's.
func rolloutBatches(n int, r *config.Rollout, override *config.Amount) ([]int, int) {
	size := n
	maxFailures := -1
	if r != nil {
		if r.BatchSize.N > 0 {
			size = r.BatchSize.Of(n, true)
		}
		if r.MaxFailures != nil {
			maxFailures = r.MaxFailures.Of(n, false)
		}
	}
	if override != nil && override.N > 0 {
		size = override.Of(n, true)
	}
	if size < 1 {
		size = 1
	}
	var out []int
	for left := n; left > 0; left -= size {
		out = append(out, min(size, left))
	}
	return out, maxFailures
}

func applyHost(ctx context.Context, p *Plan, hp *HostPlan, opts Options, em *emitter, rec *recorder) *HostResult {
	hr := &HostResult{Name: hp.Name, Counts: hp.Counts()}
	changes := orderChanges(hp.Changes)
	fail := func(status string, err error) *HostResult {
		em.emit(Event{Host: hp.Name, Kind: "host_failed", Message: err.Error()})
		hr.Status, hr.Error = status, em.excerpt(hp.Name, err.Error())
		return hr
	}
	em.emit(Event{Host: hp.Name, Kind: "connecting", Message: hp.Address})
	// The key the plan saw is the key apply accepts: a host swapped in between is refused.
	h, err := opts.Dial(ctx, hp.Connection, hp.HostKey)
	if err != nil {
		return fail(StatusFailed, err)
	}
	defer func() { h.Close() }()
	if p.saved {
		if err := reprobe(ctx, h, hp, changes, opts.stepTimeout()); err != nil {
			return fail(StatusFailed, err)
		}
	}
	interrupted := func(before string) *HostResult {
		if why := opts.stateLost(); why != nil {
			return fail(StatusInterrupted, fmt.Errorf("stopped before %s because %v; changed and recorded on this host: %s; run apply again once the state backend is back",
				before, why, listOrNone(hr.Applied)))
		}
		return fail(StatusInterrupted, fmt.Errorf("interrupted before %s: %d of %s applied; run apply again to finish (it runs the smoke tests and records the generation)", before, len(hr.Applied), english.Plural(len(changes), "change")))
	}
	// A test with no result on this host yet measures it first, so the report has its before.
	if !opts.stopping() {
		if err := testBefore(ctx, h, hp, em, rec); err != nil {
			return fail(StatusFailed, fmt.Errorf("before the changes: test results could not be saved: %w", err))
		}
	}
	var rebootChanges, now []*Change
	for _, c := range changes {
		if c.RequiresReboot {
			rebootChanges = append(rebootChanges, c)
		} else {
			now = append(now, c)
		}
	}
	gen := 0 // the generation, once recorded
	for i := 0; i < len(now); {
		if opts.stopping() {
			return interrupted(now[i].Addr)
		}
		// consecutive changes made by shell fragments go in one exec
		if batch := scriptRun(now[i:]); len(batch) > 0 {
			// When nothing follows this exec (no reboot, no smoke test), the generation is
			// recorded in the same state write as its changes.
			var last *generationOf
			if i+len(batch) == len(now) && len(rebootChanges) == 0 && len(testerChanges(hp)) == 0 {
				last = &generationOf{p.ConfigHash, p.Note}
			}
			var n int
			var err error
			n, gen, err = applyScripts(ctx, h, hp, batch, opts, em, rec, last)
			for _, c := range batch[:n] {
				hr.Applied = append(hr.Applied, c.Addr)
			}
			if err != nil {
				return fail(StatusFailed, err)
			}
			i += len(batch)
			continue
		}
		if _, err := applyChange(ctx, h, hp, now[i], opts, em, rec, false); err != nil {
			return fail(StatusFailed, err)
		}
		hr.Applied = append(hr.Applied, now[i].Addr)
		i++
	}
	kernel := hp.Kernel
	var booted []bootApplied
	if len(rebootChanges) > 0 && opts.stopping() {
		return interrupted(rebootChanges[0].Addr + " (nothing installed, no reboot)")
	}
	if len(rebootChanges) > 0 {
		done, facts, status, err := applyWithReboot(ctx, h, hp, rebootChanges, opts, em, rec)
		if err != nil {
			err = stepError(rebootChanges[len(rebootChanges)-1].Addr, err)
			if status == StatusRolledBack || status == StatusFailed && errors.Is(err, errNotBack) {
				kind := "rolled_back"
				if status == StatusFailed {
					kind = "reboot_timeout"
				}
				if ierr := rec.incident(hp.Name, kind, em.excerpt(hp.Name, err.Error())); ierr != nil {
					err = fmt.Errorf("%w (and state could not record it: %v)", err, ierr)
				}
			}
			return fail(status, err)
		}
		booted, kernel = done, facts.Kernel
		for _, c := range rebootChanges {
			hr.Applied = append(hr.Applied, c.Addr)
		}
	}
	if len(testerChanges(hp)) > 0 && opts.stopping() {
		return interrupted("the smoke tests")
	}
	runs, err := runTests(ctx, h, hp, testerChanges(hp), kernel, "", 0, em, rec)
	if err != nil {
		return fail(StatusFailed, err)
	}
	if msg := failedRuns(runs); msg != "" {
		if err := rec.testRuns(hp.Name, runs, 0); err != nil {
			return fail(StatusFailed, fmt.Errorf("%s (and state could not record it: %v)", msg, err))
		}
		if !wantsRollback(hp, runs) {
			return fail(StatusFailed, errors.New(msg))
		}
		if len(booted) == 0 {
			return fail(StatusFailed, fmt.Errorf("%s (on_failure = rollback, but this apply changed no kernel: nothing to roll back)", msg))
		}
		facts, rerr := revertBoot(ctx, h, hp, booted, em, rec)
		if rerr != nil {
			return fail(StatusFailed, fmt.Errorf("%s; rolling back failed: %v", msg, rerr))
		}
		rb := fmt.Sprintf("rolled back: back on %s after the smoke test failed on %s: %s", facts.Kernel, kernel, msg)
		if ierr := rec.incident(hp.Name, "rolled_back", em.excerpt(hp.Name, rb)); ierr != nil {
			rb += fmt.Sprintf(" (state could not record it: %v)", ierr)
		}
		// Measure the previous kernel too, so the report shows both.
		if again, err := runTests(ctx, h, hp, testerChanges(hp), facts.Kernel, "", 0, em, rec); err == nil {
			rec.testRuns(hp.Name, again, 0)
		}
		return fail(StatusRolledBack, errors.New(rb))
	}
	n := gen
	if n == 0 {
		if n, err = rec.generation(hp.Name, p.ConfigHash, p.Note); err != nil {
			return fail(StatusFailed, fmt.Errorf("applied, but the generation could not be saved: %w", err))
		}
	}
	if err := rec.testRuns(hp.Name, runs, n); err != nil {
		return fail(StatusFailed, fmt.Errorf("applied, but the test results could not be saved: %w", err))
	}
	hr.Status, hr.Generation = StatusApplied, n
	em.emit(Event{Host: hp.Name, Kind: "host_done", Message: fmt.Sprintf("%d applied, generation %d", len(hr.Applied), n)})
	return hr
}

// applyChange applies one change and records what it did. With deferAttributes the new
// attributes are held back (only originals are recorded): a change that needs a reboot is
// not what the host runs until the reboot is verified.
func applyChange(ctx context.Context, h provider.Host, hp *HostPlan, c *Change, opts Options, em *emitter, rec *recorder, deferAttributes bool) (resources.Prior, error) {
	r, ok := resources.Lookup(c.Type)
	if !ok {
		return resources.Prior{}, fmt.Errorf("%s: unknown resource type %q", c.Addr, c.Type)
	}
	em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_start", Message: string(c.Action)})
	start := time.Now()
	timeout := opts.stepTimeout()
	if lr, ok := r.(resources.LongRunner); ok && !c.Destroying() {
		timeout = max(timeout, lr.ApplyTimeout(c.Desired.Value))
	}
	stepCtx, cancel := context.WithTimeout(ctx, timeout)
	log := func(line string) { em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "progress", Message: line}) }
	pr, applyErr := r.Apply(stepCtx, h, c.instance(), c.Observed.Value, c.Diff, log)
	cancel()
	// Record before judging: even a failed step may have changed the host, and its
	// originals must survive for a later destroy.
	if pr.Attributes != cty.NilVal || pr.Original != cty.NilVal {
		toRecord := pr
		if deferAttributes {
			toRecord.Attributes = c.PriorAttributes.Value
		}
		if err := rec.resource(hp.Name, h.HostKey(), c, toRecord); err != nil {
			return pr, unrecorded(c, applyErr, err)
		}
	}
	if applyErr != nil {
		applyErr = stepError(c.Addr, applyErr)
		em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_error", Message: applyErr.Error(), Elapsed: time.Since(start)})
		return pr, applyErr
	}
	em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_done", Message: fmt.Sprintf("%s after %s", c.Action, english.Duration(time.Since(start))), Elapsed: time.Since(start)})
	return pr, nil
}

// scriptRun is the leading run of changes whose type is a resources.ScriptApplier.
func scriptRun(changes []*Change) []*Change {
	n := 0
	for _, c := range changes {
		r, ok := resources.Lookup(c.Type)
		if _, script := r.(resources.ScriptApplier); !ok || !script {
			break
		}
		n++
	}
	return changes[:n]
}

// applyScripts applies changes of ScriptApplier types in one exec: their fragments run in order,
// each in its own subshell, and the first that fails stops the rest (as applyChange's caller
// stops at the first error). Each change is recorded as its fragment ended (Done, Failed, or not at
// all when it failed with resources.ExitUnchanged), all in one persist when the exec returns; one
// cut short by a lost connection is recorded as Failed, the ones after it are not touched. With
// gen, the generation is recorded in the same write when every change succeeded. It returns how many changes were applied and recorded, and the
// generation recorded (0: none).
func applyScripts(ctx context.Context, h provider.Host, hp *HostPlan, batch []*Change, opts Options, em *emitter, rec *recorder, gen *generationOf) (int, int, error) {
	sas := make([]resources.ScriptApply, 0, len(batch))
	var scriptErr error
	for _, c := range batch {
		r, _ := resources.Lookup(c.Type)
		sa, err := r.(resources.ScriptApplier).ApplyScript(c.instance(), c.Observed.Value, c.Diff)
		if err != nil {
			scriptErr = fmt.Errorf("%s: %w", c.Addr, err)
			break
		}
		sas = append(sas, sa)
	}
	batch = batch[:len(sas)]
	frags := make([]string, len(sas))
	for i, c := range batch {
		frags[i] = sas[i].Script
		em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_start", Message: string(c.Action)})
	}
	start := time.Now()
	var ran []section
	var runErr error
	var res provider.Result
	if len(batch) > 0 {
		token := newToken()
		stepCtx, cancel := context.WithTimeout(ctx, opts.stepTimeout())
		res, runErr = h.Run(stepCtx, changeScript(token, frags))
		cancel()
		ran = splitRan(res.Stdout, token, len(batch))
	}
	outcome := func(i int) (pr resources.Prior, err error) {
		c := batch[i]
		switch {
		case i < len(ran) && ran[i].status == 0:
			pr = sas[i].Done
		case i < len(ran) && ran[i].status == resources.ExitUnchanged:
			// Failed before changing anything: state keeps the step's record (and when it was
			// applied) as it was, so the host is not taken as changed since its last generation.
			err = resources.ScriptFailure(c.instance(), ran[i].status, ran[i].stdout)
		case i < len(ran):
			pr, err = sas[i].Failed, resources.ScriptFailure(c.instance(), ran[i].status, ran[i].stdout)
		case i == len(ran) && runErr != nil:
			pr, err = sas[i].Failed, fmt.Errorf("%s: %w", c.Addr, runErr)
		default: // the shell ended without reporting this change: treat it as failed, maybe applied in part
			pr, err = sas[i].Failed, fmt.Errorf("%s: the host's shell ended before this change finished (exit %d): %s", c.Addr, res.ExitCode, lastBytes(strings.TrimSpace(string(res.Stderr)), 400))
		}
		return pr, err
	}
	// The outcomes up to the first failure are recorded together: they ended in the same exec,
	// so one persist makes them durable before any is reported done.
	var recs []record
	var errs []error
	for i, c := range batch {
		pr, err := outcome(i)
		if pr.Attributes != cty.NilVal || pr.Original != cty.NilVal {
			recs = append(recs, record{c, pr})
		}
		errs = append(errs, err)
		if err != nil {
			break
		}
	}
	if scriptErr != nil || len(errs) == 0 || errs[len(errs)-1] != nil {
		gen = nil // not every change succeeded: no generation
	}
	recorded := 0
	if len(recs) > 0 {
		var rerr error
		if recorded, rerr = rec.resources(hp.Name, h.HostKey(), recs, gen); rerr != nil {
			// Nothing of this exec is in the store: the state in memory holds it (the errored
			// state written at the end does), so name every change it made.
			i := slices.IndexFunc(batch, func(c *Change) bool { return c == recs[0].c })
			uerr := unrecorded(recs[0].c, errs[i], rerr)
			if len(recs) > 1 {
				also := make([]string, len(recs)-1)
				for k, rc := range recs[1:] {
					also[k] = rc.c.Addr
				}
				uerr = fmt.Errorf("%w; also changed in the same step and not recorded: %s", uerr, strings.Join(also, ", "))
			}
			return i, 0, uerr
		}
	}
	for i, err := range errs {
		c := batch[i]
		if err != nil {
			em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_error", Message: err.Error()})
			return i, 0, err
		}
		em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_done", Message: fmt.Sprintf("%s after %s", c.Action, english.Duration(time.Since(start))), Elapsed: time.Since(start)})
	}
	return len(batch), recorded, scriptErr
}

// lastBytes is the end of s, at most n bytes.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// orderChanges drops no-ops and orders the rest: destroys first (reverse declaration order),
// then the others so that every change comes after those it depends on, keeping declaration
// order otherwise; reboot-requiring changes go last.
func orderChanges(all []*Change) []*Change {
	var destroys, others []*Change
	for _, c := range all {
		switch {
		case c.Action == resources.NoOp:
		case c.Action == resources.Delete:
			destroys = append(destroys, c)
		default:
			others = append(others, c)
		}
	}
	for i, j := 0, len(destroys)-1; i < j; i, j = i+1, j-1 {
		destroys[i], destroys[j] = destroys[j], destroys[i]
	}
	pos := map[string]int{}
	for i, c := range others {
		pos[c.Addr] = i
	}
	done := map[string]bool{}
	var ordered []*Change
	var visit func(c *Change, stack map[string]bool)
	visit = func(c *Change, stack map[string]bool) {
		if done[c.Addr] || stack[c.Addr] {
			return
		}
		stack[c.Addr] = true
		deps := append([]string(nil), c.DependsOn...)
		sort.Slice(deps, func(a, b int) bool { return pos[deps[a]] < pos[deps[b]] })
		for _, d := range deps {
			if i, ok := pos[d]; ok {
				visit(others[i], stack)
			}
		}
		done[c.Addr] = true
		ordered = append(ordered, c)
	}
	for _, c := range others {
		if !c.RequiresReboot {
			visit(c, map[string]bool{})
		}
	}
	for _, c := range others {
		visit(c, map[string]bool{})
	}
	return append(destroys, ordered...)
}

// stepError makes a step's failure name the step. A lost connection is said plainly, first:
// the resource's own context (which command it was running) matters less than that the host
// stopped answering and the step's outcome there is unknown.
func stepError(addr string, err error) error {
	var lost *provider.ConnLostError
	if errors.As(err, &lost) {
		return &lostStepError{addr: addr, lost: lost}
	}
	if !strings.Contains(err.Error(), addr) {
		return fmt.Errorf("%s: %w", addr, err)
	}
	return err
}

type lostStepError struct {
	addr string
	lost *provider.ConnLostError
}

func (e *lostStepError) Error() string {
	return fmt.Sprintf("%s: host %s; the step may or may not have finished there: run apply again once the host answers (%s)", e.addr, e.lost.Why, e.lost.Host)
}

func (e *lostStepError) Unwrap() error { return e.lost }

func isNull(v cty.Value) bool { return v == cty.NilVal || v.IsNull() }

// listOrNone joins addresses for a message.
func listOrNone(addrs []string) string {
	if len(addrs) == 0 {
		return "none"
	}
	return strings.Join(addrs, ", ")
}

// unrecorded is the error of a step whose record could not be persisted: the host changed (as
// far as the step got) but the state does not say so, which the operator must be told.
func unrecorded(c *Change, stepErr, persistErr error) error {
	if stepErr == nil {
		return fmt.Errorf("%s: changed on the host, but the state could not record it: %w", c.Addr, persistErr)
	}
	msg := stepErr.Error()
	if !strings.HasPrefix(msg, c.Addr+":") {
		msg = c.Addr + ": " + msg
	}
	return fmt.Errorf("%s (and the state could not be saved: %w)", msg, persistErr)
}
