package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// ErrStalePlan is returned when a saved plan was made against another state.
var ErrStalePlan = errors.New("saved plan is stale")

// Result is what an apply did, per host.
type Result struct {
	Hosts []*HostResult `json:"hosts"`
}

// HostResult is one host's outcome.
type HostResult struct {
	Name    string   `json:"name"`
	Status  string   `json:"status"` // applied | unchanged | failed | skipped
	Applied []string `json:"applied,omitempty"`
	Counts  Counts   `json:"counts"`
	Error   string   `json:"error,omitempty"`
}

// Failed lists the hosts that failed.
func (r *Result) Failed() []*HostResult {
	var out []*HostResult
	for _, h := range r.Hosts {
		if h.Status == "failed" {
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
	if p.FormatVersion != PlanFormatVersion {
		return fmt.Errorf("plan file format %d is not %d: make the plan again with this sparkform", p.FormatVersion, PlanFormatVersion)
	}
	cur := ""
	if st.Serial > 0 {
		cur = st.Lineage
	}
	if p.StateLineage != cur || p.StateSerial != st.Serial {
		return fmt.Errorf("%w: it was made against state serial %d (lineage %q), state is now serial %d (lineage %q); run plan again",
			ErrStalePlan, p.StateSerial, p.StateLineage, st.Serial, cur)
	}
	return nil
}

// Apply carries out a plan: hosts in parallel; on each host destroys first, then creates and
// updates in dependency order; state is persisted after every resource, so an interrupted
// apply loses at most the step in flight. Hosts that failed to plan are skipped.
func Apply(ctx context.Context, p *Plan, st *state.State, store StatePersister, opts Options) *Result {
	res := &Result{Hosts: make([]*HostResult, len(p.Hosts))}
	em := newEmitter(opts.Events)
	var stateMu sync.Mutex
	record := func(host, hostKey string, c *Change, pr resources.Prior) error {
		stateMu.Lock()
		defer stateMu.Unlock()
		hs := st.Host(host)
		if hostKey != "" {
			hs.HostKey = hostKey
		}
		// An entry goes only when nothing is left to remember: a failed first apply keeps its
		// originals with null attributes, so a later destroy can still restore them.
		if isNull(pr.Attributes) && isNull(pr.Original) {
			delete(hs.Resources, c.Addr)
		} else {
			hs.Resources[c.Addr] = &state.Resource{Type: c.Type, Name: c.Name,
				Attributes: state.Value{Value: pr.Attributes}, Original: state.Value{Value: pr.Original}, AppliedAt: time.Now().UTC()}
		}
		return store.Persist(st)
	}
	forEachParallel(len(p.Hosts), opts.parallelism(), func(i int) {
		res.Hosts[i] = applyHost(ctx, p.Hosts[i], opts, em, record)
	})
	return res
}

func applyHost(ctx context.Context, hp *HostPlan, opts Options, em *emitter, record func(string, string, *Change, resources.Prior) error) *HostResult {
	hr := &HostResult{Name: hp.Name, Counts: hp.Counts()}
	if hp.Error != "" {
		hr.Status, hr.Error = "skipped", "not planned: "+hp.Error
		return hr
	}
	changes := orderChanges(hp.Changes)
	if len(changes) == 0 {
		hr.Status = "unchanged"
		return hr
	}
	fail := func(err error) *HostResult {
		hr.Status, hr.Error = "failed", err.Error()
		em.emit(Event{Host: hp.Name, Kind: "host_failed", Message: hr.Error})
		return hr
	}
	em.emit(Event{Host: hp.Name, Kind: "connecting", Message: hp.Address})
	// The key the plan saw is the key apply accepts: a host swapped in between is refused.
	h, err := opts.Dial(ctx, hp.Connection, hp.HostKey)
	if err != nil {
		return fail(err)
	}
	defer h.Close()
	for _, c := range changes {
		r, ok := resources.Lookup(c.Type)
		if !ok {
			return fail(fmt.Errorf("%s: unknown resource type %q", c.Addr, c.Type))
		}
		em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_start", Message: string(c.Action)})
		start := time.Now()
		stepCtx, cancel := context.WithTimeout(ctx, opts.stepTimeout())
		log := func(line string) { em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "progress", Message: line}) }
		pr, applyErr := r.Apply(stepCtx, h, c.instance(), c.Observed.Value, c.Diff, log)
		cancel()
		// Record before judging: even a failed step may have changed the host, and its
		// originals must survive for a later destroy.
		if pr.Attributes != cty.NilVal || pr.Original != cty.NilVal {
			if err := record(hp.Name, h.HostKey(), c, pr); err != nil {
				return fail(fmt.Errorf("%s: state could not be saved: %w", c.Addr, err))
			}
		}
		if applyErr != nil {
			em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_error", Message: applyErr.Error()})
			return fail(applyErr)
		}
		hr.Applied = append(hr.Applied, c.Addr)
		em.emit(Event{Host: hp.Name, Addr: c.Addr, Kind: "apply_done", Message: fmt.Sprintf("%s after %s", c.Action, time.Since(start).Round(100*time.Millisecond))})
	}
	hr.Status = "applied"
	em.emit(Event{Host: hp.Name, Kind: "host_done", Message: fmt.Sprintf("%d applied", len(hr.Applied))})
	return hr
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

func isNull(v cty.Value) bool { return v == cty.NilVal || v.IsNull() }
