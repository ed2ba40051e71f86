// Package engine plans (one probe round trip per host → diffs) and applies (ordered changes,
// hosts in parallel, state persisted after every step). It knows the resource contract,
// provider.Host and state — never a concrete resource type.
package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// planFormatVersion is the version of saved plan files this build reads and writes.
const planFormatVersion = 1

// DialFunc opens the one connection of a run to a host. pinnedKey is the host key state
// recorded for it ("" when none); a different presented key must be refused.
type DialFunc func(ctx context.Context, h *config.Host, pinnedKey string) (provider.Host, error)

// Options steer a plan or an apply.
type Options struct {
	Parallelism int      // hosts worked on at once (default DefaultParallelism)
	Only        []string // -host: only these hosts (names, globs, comma lists)
	Exclude     []string // -exclude-host: likewise
	Labels      []string // -label key=value: only hosts with every one of these labels
	Targets     []string // -target TYPE.NAME: only these resources and what they depend on
	Dial        DialFunc
	// StepTimeout bounds one remote step (a probe, one resource's apply); 0: 10 minutes.
	StepTimeout time.Duration
	// Events receives progress; nil discards it. Called from many goroutines, one at a time.
	Events func(Event)
	// BatchSize overrides the rollout block's batch_size (-batch-size).
	BatchSize *config.Amount
	// RunLog names the run log of a host (where the full text of long host output is kept);
	// nil: the command keeps none.
	RunLog func(host string) string
	// Graceful is cancelled when the user asks to stop (first Ctrl-C): no new step, batch,
	// reboot or test starts; steps in flight finish. nil: never.
	Graceful context.Context

	targets targetSet // Targets resolved by MakePlan
}

// targetSet is -target resolved: nil means every resource.
type targetSet map[string]bool

// stopping reports whether the user asked to stop, or the state can no longer be saved.
func (o *Options) stopping() bool { return o.Graceful != nil && o.Graceful.Err() != nil }

// stateLost is why the apply stops when its state backend failed (nil otherwise).
func (o *Options) stateLost() error {
	if o.Graceful == nil {
		return nil
	}
	if c := context.Cause(o.Graceful); errors.Is(c, errStateNotSaved) {
		return c
	}
	return nil
}

// DefaultParallelism is how many hosts plan and apply work on at once unless told otherwise. A
// host costs the controller ~3 ms of CPU and well under 1 MiB while its round trips are in
// flight, so waves (a fleet split into groups that wait for each other, each adding a whole
// host's latency) cost far more than concurrency; 64 keeps a fleet of up to 64 hosts in one wave
// while bounding sockets and handshake bursts for larger ones.
const DefaultParallelism = 64

func (o *Options) parallelism() int {
	if o.Parallelism <= 0 {
		return DefaultParallelism
	}
	return o.Parallelism
}

func (o *Options) stepTimeout() time.Duration {
	if o.StepTimeout <= 0 {
		return 10 * time.Minute
	}
	return o.StepTimeout
}

// Event is one line of progress. Kinds: connecting, probed, apply_start (Message: the action),
// apply_done, apply_error, progress (a line of a tool's output), reboot_start, reboot_done,
// test_start, test_done (Test: the result), test_skipped (the tests could not run yet), host_done, host_failed, rollout_batch (Hosts),
// rollout_pause, rollout_stopped. Elapsed is set on *_done and *_error events.
type Event struct {
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	Addr    string    `json:"addr,omitempty"`
	Kind    string    `json:"kind"`
	Message string    `json:"message,omitempty"`
	// Detail is the whole text when Message quotes a host's output at length and was cut to an
	// excerpt; only the run log writes it (it may be as long as the host's max_output).
	Detail  string         `json:"-"`
	Elapsed time.Duration  `json:"elapsed,omitempty"`
	Hosts   []string       `json:"hosts,omitempty"`
	Test    *state.TestRun `json:"test,omitempty"`
}

// Plan is what would change, per host. Saved with -out, it holds everything apply needs,
// including how to reach each host, so `apply PLANFILE` does exactly what was shown.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	CreatedAt     time.Time `json:"created_at"`
	ConfigDir     string    `json:"config_dir"`
	ConfigHash    string    `json:"config_hash"`
	// StateLineage/StateSerial identify the state the plan was made against; apply refuses a
	// plan whose state has moved on. An empty lineage with serial 0 means "no state yet".
	StateLineage string      `json:"state_lineage"`
	StateSerial  uint64      `json:"state_serial"`
	Hosts        []*HostPlan `json:"hosts"`
	// Warnings concern the whole run (e.g. hosts in state that the configuration no longer has).
	Warnings []string `json:"warnings,omitempty"`
	// Rollout is how apply walks the hosts (nil: all at once).
	Rollout *config.Rollout `json:"rollout,omitempty"`
	// Note is recorded with the generations this plan creates (e.g. "rollback to generation 2").
	Note string `json:"note,omitempty"`

	// saved: the plan came from a file (CheckSavedPlan): what it says it observed is not used;
	// apply reads each host again (reprobe).
	saved bool
}

// HostPlan is the plan for one host.
type HostPlan struct {
	Name       string       `json:"name"`
	Address    string       `json:"address"`
	Connection *config.Host `json:"connection"`
	Kernel     string       `json:"kernel,omitempty"`
	BootID     string       `json:"boot_id,omitempty"`
	HostKey    string       `json:"host_key,omitempty"`
	Error      string       `json:"error,omitempty"` // the host could not be planned
	// Pending says why the host has work even with no change: an earlier apply changed it but
	// ended (interrupted, or its smoke test failed) before its tests passed and its generation
	// was recorded. Apply then runs the tests and records the generation.
	Pending string `json:"pending,omitempty"`
	// RolledBack is sparkform's own automatic rollback of the host since its last generation
	// (when and why), so the kernel it undid is not taken for a change made outside sparkform.
	RolledBack string    `json:"rolled_back,omitempty"`
	Changes    []*Change `json:"changes"`
}

// Change is one resource's planned change on one host.
type Change struct {
	Addr      string   `json:"addr"`
	Type      string   `json:"type"`
	Name      string   `json:"name"`
	DependsOn []string `json:"depends_on,omitempty"`
	resources.Diff
	Desired         state.Value `json:"desired"`
	Observed        state.Value `json:"observed"`
	PriorAttributes state.Value `json:"prior_attributes"`
	PriorOriginal   state.Value `json:"prior_original"`
}

// Counts tallies actions. Record counts the resources apply only records in state (the host
// already matches), which are not changes.
type Counts struct{ Add, Change, Destroy, Record int }

// Counts of the host's planned changes.
func (h *HostPlan) Counts() Counts {
	var c Counts
	for _, ch := range h.Changes {
		switch ch.Action {
		case resources.Create:
			c.Add++
		case resources.Update:
			if ch.StateOnly {
				c.Record++
			} else {
				c.Change++
			}
		case resources.Delete:
			c.Destroy++
		case resources.Replace:
			c.Add++
			c.Destroy++
		}
	}
	return c
}

// Total is the counts of every host's planned changes.
func (p *Plan) Total() Counts {
	var t Counts
	for _, h := range p.Hosts {
		c := h.Counts()
		t.Add += c.Add
		t.Change += c.Change
		t.Destroy += c.Destroy
		t.Record += c.Record
	}
	return t
}

// Reboots reports whether a change the host will make needs a reboot.
func (h *HostPlan) Reboots() bool {
	for _, ch := range h.Changes {
		if ch.RequiresReboot && ch.Action != resources.NoOp {
			return true
		}
	}
	return false
}

// HasChanges reports whether any host has something to do.
func (p *Plan) HasChanges() bool {
	for _, h := range p.Hosts {
		if h.Pending != "" && h.Error == "" {
			return true
		}
		for _, c := range h.Changes {
			if c.Action != resources.NoOp {
				return true
			}
		}
	}
	return false
}

// Failed lists hosts that could not be planned.
func (p *Plan) Failed() []*HostPlan {
	var out []*HostPlan
	for _, h := range p.Hosts {
		if h.Error != "" {
			out = append(out, h)
		}
	}
	return out
}

// MakePlan probes every selected host in parallel (one round trip each) and diffs.
func MakePlan(ctx context.Context, cfg *config.Config, st *state.State, opts Options) (*Plan, error) {
	hosts, err := selectHosts(cfg, opts.Only, opts.Exclude, opts.Labels)
	if err != nil {
		return nil, err
	}
	targets, err := resolveTargets(cfg, st, opts.Targets)
	if err != nil {
		return nil, err
	}
	opts.targets = targets
	plan := &Plan{FormatVersion: planFormatVersion, CreatedAt: time.Now().UTC(), ConfigDir: cfg.Dir, ConfigHash: cfg.Hash, Rollout: cfg.Rollout}
	if st.Serial > 0 {
		plan.StateLineage, plan.StateSerial = st.Lineage, st.Serial
	}
	for _, name := range sortedHostNames(st) {
		if cfg.Host(name) == nil && len(st.Hosts[name].Resources) > 0 {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s is in state with %s but has no host block: it is left as it is (sparkform state rm to forget it)", name, english.Plural(len(st.Hosts[name].Resources), "resource")))
		}
	}
	if len(opts.Targets) > 0 {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("Resource targeting is in effect: only %s and what it depends on are planned. The rest of the configuration is left as it is, so this plan may not be complete; use -target for exceptional cases, not routinely.", strings.Join(opts.Targets, ", ")))
	}
	plan.Hosts = make([]*HostPlan, len(hosts))
	em := newEmitter(opts)
	forEachParallel(len(hosts), opts.parallelism(), func(i int) {
		plan.Hosts[i] = planHost(ctx, cfg, hosts[i], st.Hosts[hosts[i].Name], opts, em)
	})
	return plan, nil
}

// instancesFor lists what a host should have (config) and what it must lose (in state only).
func instancesFor(cfg *config.Config, host string, hs *state.Host) ([]resources.Instance, map[string][]string, error) {
	var out []resources.Instance
	deps := map[string][]string{}
	wanted := map[string]bool{}
	for _, r := range cfg.Resources {
		if !slices.Contains(r.Hosts, host) {
			continue
		}
		wanted[r.Addr()] = true
		in := resources.Instance{Type: r.Type, Name: r.Name, Desired: r.Body}
		if hs != nil {
			if sr := hs.Resources[r.Addr()]; sr != nil {
				in.Prior = resources.Prior{Attributes: sr.Attributes.Value, Original: sr.Original.Value}
			}
		}
		out = append(out, in)
		deps[r.Addr()] = r.DependsOn
	}
	if hs != nil {
		addrs := make([]string, 0, len(hs.Resources))
		for a := range hs.Resources {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			if wanted[a] {
				continue
			}
			sr := hs.Resources[a]
			if _, ok := resources.Lookup(sr.Type); !ok {
				return nil, nil, fmt.Errorf("state has %s of unknown resource type %q (written by a newer sparkform?)", a, sr.Type)
			}
			// The destroy acts on what state says was applied (a directory it removes, a name its
			// files are named by): state is a file like any other, so its name and body must pass
			// the rules a block in the configuration would.
			if !hclsyntax.ValidIdentifier(sr.Name) || sr.Type+"."+sr.Name != a {
				return nil, nil, fmt.Errorf("state holds %q under %q: not planning its destroy (fix the state, or forget it with sparkform state rm)", sr.Type+"."+sr.Name, a)
			}
			if !isNull(sr.Attributes.Value) {
				if _, err := checkBody(sr.Type, sr.Attributes.Value); err != nil {
					return nil, nil, fmt.Errorf("state holds an invalid %s: not planning its destroy (fix the state, or forget it with sparkform state rm): %v", a, err)
				}
			}
			out = append(out, resources.Instance{Type: sr.Type, Name: sr.Name, Desired: cty.NullVal(cty.DynamicPseudoType),
				Prior: resources.Prior{Attributes: sr.Attributes.Value, Original: sr.Original.Value}})
		}
	}
	return out, deps, nil
}

func planHost(ctx context.Context, cfg *config.Config, ch *config.Host, hs *state.Host, opts Options, em *emitter) *HostPlan {
	hp := &HostPlan{Name: ch.Name, Address: ch.Address, Connection: ch, Changes: []*Change{}}
	instances, deps, err := instancesFor(cfg, ch.Name, hs)
	if err != nil {
		hp.Error = err.Error()
		return hp
	}
	instances = opts.targets.filter(instances, deps)
	pinned := ""
	if hs != nil {
		pinned = hs.HostKey
	}
	em.emit(Event{Host: ch.Name, Kind: "connecting", Message: ch.Address})
	h, err := opts.Dial(ctx, ch, pinned)
	if err != nil {
		em.emit(Event{Host: ch.Name, Kind: "host_failed", Message: err.Error()})
		hp.Error = em.excerpt(ch.Name, err.Error())
		return hp
	}
	defer h.Close()
	hp.HostKey = h.HostKey()

	facts, outs, err := probeHost(ctx, h, instances, opts.stepTimeout())
	if err != nil {
		em.emit(Event{Host: ch.Name, Kind: "host_failed", Message: err.Error()})
		hp.Error = em.excerpt(ch.Name, err.Error())
		return hp
	}
	hp.Kernel, hp.BootID = facts.Kernel, facts.BootID
	var errs []string
	var testErrs []testCheck
	for i, in := range instances {
		r, _ := resources.Lookup(in.Type)
		c, err := diffInstance(r, in, outs[i])
		if _, isTester := r.(resources.Tester); err != nil && isTester && !in.Destroying() {
			c = &Change{Addr: in.Addr(), Type: in.Type, Name: in.Name, Diff: resources.Diff{Action: resources.NoOp},
				Desired: state.Value{Value: in.Desired}, PriorAttributes: state.Value{Value: in.Prior.Attributes}, PriorOriginal: state.Value{Value: in.Prior.Original}}
			testErrs = append(testErrs, testCheck{c.Addr, err})
		} else if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		c.DependsOn = deps[in.Addr()]
		hp.Changes = append(hp.Changes, c)
	}
	for _, te := range testErrs {
		if !dependsOnChange(hp, deps, te.addr) {
			errs = append(errs, te.err.Error())
		}
	}
	if len(errs) > 0 {
		em.emit(Event{Host: ch.Name, Kind: "host_failed", Message: joinLines(errs)})
		hp.Error = em.excerpt(ch.Name, joinLines(errs))
		return hp
	}
	hp.Pending = pendingWork(hs)
	hp.RolledBack = lastRollback(hs)
	em.emit(Event{Host: ch.Name, Kind: "probed", Message: fmt.Sprintf("kernel %s", hp.Kernel)})
	return hp
}

// lastGenerationTime is when the host's latest generation was recorded (zero: none yet).
func lastGenerationTime(hs *state.Host) time.Time {
	if n := len(hs.Generations); n > 0 {
		return hs.Generations[n-1].Time
	}
	return time.Time{}
}

// lastRollback describes the host's latest automatic rollback after its last generation, or "".
func lastRollback(hs *state.Host) string {
	if hs == nil {
		return ""
	}
	last := lastGenerationTime(hs)
	for i := len(hs.Incidents) - 1; i >= 0; i-- {
		in := hs.Incidents[i]
		if in.Kind == "rolled_back" && in.Time.After(last) {
			return fmt.Sprintf("at %s: %s", english.Time(in.Time), strings.Replace(in.Message, "rolled back: ", "", 1))
		}
	}
	return ""
}

// pendingWork tells whether state shows resources applied after the host's last generation:
// an apply changed the host and ended before its smoke tests passed and its generation was
// recorded. The next apply finishes that work even when nothing differs any more.
func pendingWork(hs *state.Host) string {
	if hs == nil {
		return ""
	}
	last := lastGenerationTime(hs)
	var newest time.Time
	for _, r := range hs.Resources {
		if r.AppliedAt.After(newest) {
			newest = r.AppliedAt
		}
	}
	if newest.IsZero() || !newest.After(last) {
		return ""
	}
	if last.IsZero() {
		return fmt.Sprintf("changed by an apply at %s that ended before its tests passed and a generation was recorded", english.Time(newest))
	}
	return fmt.Sprintf("changed at %s, after its last generation, by an apply that ended before its tests passed and a generation was recorded", english.Time(newest))
}

func diffInstance(r resources.Resource, in resources.Instance, out section) (*Change, error) {
	if out.status != 0 {
		return nil, fmt.Errorf("%s: probe failed (exit %d): %s", in.Addr(), out.status, out.text())
	}
	observed, err := r.Read(in, out.stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Addr(), err)
	}
	d, err := r.Diff(in, observed)
	if err != nil {
		return nil, err
	}
	return &Change{Addr: in.Addr(), Type: in.Type, Name: in.Name, Diff: d,
		Desired: state.Value{Value: in.Desired}, Observed: state.Value{Value: observed},
		PriorAttributes: state.Value{Value: in.Prior.Attributes}, PriorOriginal: state.Value{Value: in.Prior.Original}}, nil
}

// Destroying reports whether the change removes the resource.
func (c *Change) Destroying() bool { return isNull(c.Desired.Value) }

// instance rebuilds the resource instance a change was planned for.
func (c *Change) instance() resources.Instance {
	return resources.Instance{Type: c.Type, Name: c.Name, Desired: c.Desired.Value,
		Prior: resources.Prior{Attributes: c.PriorAttributes.Value, Original: c.PriorOriginal.Value}}
}

func sortedHostNames(st *state.State) []string {
	names := make([]string, 0, len(st.Hosts))
	for n := range st.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func joinLines(lines []string) string {
	out := ""
	for i, l := range lines {
		if i > 0 {
			out += "\n"
		}
		out += l
	}
	return out
}

// forEachParallel runs f(0..n-1) with at most limit running at once.
func forEachParallel(n, limit int, f func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}(i)
	}
	wg.Wait()
}

// testCheck is a test's objection to the host as it is now (a vLLM venv that cannot import
// fastsafetensors yet).
type testCheck struct {
	addr string
	err  error
}

// dependsOnChange reports whether addr depends, directly or through others, on a resource this
// plan changes on the host: then the test's check of the host as it is now says nothing about
// the host it will run on, and is left to the test itself after the changes.
func dependsOnChange(hp *HostPlan, deps map[string][]string, addr string) bool {
	changing := map[string]bool{}
	for _, c := range hp.Changes {
		if c.Action != resources.NoOp {
			changing[c.Addr] = true
		}
	}
	seen := map[string]bool{}
	var walk func(a string) bool
	walk = func(a string) bool {
		for _, d := range deps[a] {
			if seen[d] {
				continue
			}
			seen[d] = true
			if changing[d] || walk(d) {
				return true
			}
		}
		return false
	}
	return walk(addr)
}
