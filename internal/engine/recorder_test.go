package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// gatedStore holds its first write until released, and remembers what each write held.
type gatedStore struct {
	mu      sync.Mutex
	gate    chan struct{} // the first write waits for it to close
	held    bool
	written []*state.State
	fail    error // every write fails with it when set
}

func (s *gatedStore) Persist(st *state.State) error {
	s.mu.Lock()
	first := !s.held
	s.held = true
	s.mu.Unlock()
	if first && s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.written = append(s.written, st.Clone())
	st.Serial = uint64(len(s.written))
	return nil
}

// last is the latest state written (nil: none).
func (s *gatedStore) last() *state.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.written) == 0 {
		return nil
	}
	return s.written[len(s.written)-1]
}

func (s *gatedStore) writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.written)
}

// waitChanges waits until n changes have been made to rec's state (its callers are then
// waiting for their write).
func waitChanges(rec *recorder, n uint64) {
	for {
		rec.mu.Lock()
		c := rec.changes
		rec.mu.Unlock()
		if c >= n {
			return
		}
		runtime.Gosched()
	}
}

func recordHost(rec *recorder, host string) error {
	c := &Change{Addr: "enginetest_step.a", Type: "enginetest_step", Name: "a"}
	return rec.resource(host, "", c, resources.Prior{Attributes: cty.EmptyObjectVal, Original: cty.NullVal(cty.EmptyObject)})
}

// Twenty hosts finishing a step while a write is in flight are recorded by one more write, not
// twenty, and none of them returns before the state written holds its change.
func TestStepsEndingDuringAWriteShareTheNextWrite(t *testing.T) {
	store := &gatedStore{gate: make(chan struct{})}
	rec := newRecorder(state.New(), store, nil)
	const hosts = 20
	var wg sync.WaitGroup
	errs := make([]error, hosts)
	durable := make([]bool, hosts)
	done := func(i int) {
		name := fmt.Sprintf("spark-%02d", i)
		errs[i] = recordHost(rec, name)
		durable[i] = store.last() != nil && store.last().Lookup(name, "enginetest_step.a") != nil
		wg.Done()
	}
	wg.Add(1)
	go done(0)
	waitChanges(rec, 1) // spark-00's write is in flight, held by the gate
	wg.Add(hosts - 1)
	for i := 1; i < hosts; i++ {
		go done(i)
	}
	waitChanges(rec, hosts) // every other host has changed the state and waits
	close(store.gate)
	wg.Wait()
	for i := range hosts {
		if errs[i] != nil || !durable[i] {
			t.Fatalf("spark-%02d: error %v, change written before its step returned: %v", i, errs[i], durable[i])
		}
	}
	if n := store.writes(); n != 2 {
		t.Fatalf("%d hosts' steps took %d writes, want 2 (the one in flight, then one for the rest)", hosts, n)
	}
	if rec.st.Serial != 2 {
		t.Fatalf("serial in memory %d, want the last write's (2)", rec.st.Serial)
	}
}

// A write that fails fails every step it covered; a later step gets a write of its own.
func TestAFailedGroupWriteFailsEveryStepItCovered(t *testing.T) {
	store := &gatedStore{gate: make(chan struct{}), fail: errors.New("disk full")}
	var lost []error
	rec := newRecorder(state.New(), store, func(err error) { lost = append(lost, err) })
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = recordHost(rec, fmt.Sprintf("spark-%02d", i))
		}()
		waitChanges(rec, uint64(i+1))
	}
	close(store.gate)
	wg.Wait()
	for i, err := range errs {
		if err == nil || err.Error() != "disk full" {
			t.Fatalf("step %d: %v, want the write's error", i, err)
		}
	}
	if len(lost) != 2 || !errors.Is(lost[0], errStateNotSaved) {
		t.Fatalf("lost called with %v, want once per failed write (2)", lost)
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	if err := recordHost(rec, "spark-09"); err != nil {
		t.Fatalf("a step after the backend came back: %v", err)
	}
	if got := store.last(); got == nil || got.Lookup("spark-00", "enginetest_step.a") == nil {
		t.Fatal("the next write does not hold the changes the failed one could not save")
	}
}

// scriptStep is a ScriptApplier type: its change is the fragment ':'.
type scriptStep struct{ stepResource }

func (*scriptStep) Type() string { return "enginetest_script" }
func (*scriptStep) ApplyScript(resources.Instance, cty.Value, resources.Diff) (resources.ScriptApply, error) {
	return resources.ScriptApply{Script: ":", Done: resources.Prior{Attributes: cty.EmptyObjectVal, Original: cty.NullVal(cty.EmptyObject)}}, nil
}

func init() { resources.Register(&scriptStep{}) }

// A host's changes made in one exec are recorded by one write, with its generation when nothing
// follows them: a cold sysctl + read-ahead apply writes the state once per host (three times
// before: once per change, then the generation). A change that fails records no generation.
func TestChangesOfOneExecAndTheGenerationAreRecordedInOneWrite(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fail       bool
		generation int
	}{{"all succeed", false, 1}, {"the last fails", true, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			hp := &HostPlan{Name: "spark-01", Connection: &config.Host{Name: "spark-01"}}
			for _, name := range []string{"a", "b", "c"} {
				hp.Changes = append(hp.Changes, &Change{Addr: "enginetest_script." + name, Type: "enginetest_script", Name: name,
					Diff: resources.Diff{Action: resources.Create}, Desired: state.Value{Value: cty.EmptyObjectVal}})
			}
			if tc.fail {
				hp.Changes[2].Type = "enginetest_script_failing"
			}
			var execs atomic.Int64
			dial := func(context.Context, *config.Host, string) (provider.Host, error) {
				return providertest.Counting{Host: providertest.NewReadOnlyLocal(t), N: &execs}, nil
			}
			store := &gatedStore{}
			res := Apply(context.Background(), &Plan{Hosts: []*HostPlan{hp}}, state.New(), store, Options{Dial: dial})
			hr := res.Hosts[0]
			if hr.Generation != tc.generation || (hr.Status == StatusApplied) == tc.fail {
				t.Fatalf("spark-01: %s generation %d %v %s", hr.Status, hr.Generation, hr.Applied, hr.Error)
			}
			if n := execs.Load(); n != 1 {
				t.Fatalf("3 script changes took %d execs, want 1", n)
			}
			if n := store.writes(); n != 1 {
				t.Fatalf("3 changes of one exec took %d state writes, want 1", n)
			}
			got := store.written[0].Hosts["spark-01"]
			if len(got.Resources) != 3 || len(got.Generations) != tc.generation {
				t.Fatalf("the write holds %d resources and %d generations, want 3 and %d", len(got.Resources), len(got.Generations), tc.generation)
			}
		})
	}
}

// failingScriptStep is a ScriptApplier whose fragment fails.
type failingScriptStep struct{ scriptStep }

func (*failingScriptStep) Type() string { return "enginetest_script_failing" }
func (*failingScriptStep) ApplyScript(resources.Instance, cty.Value, resources.Diff) (resources.ScriptApply, error) {
	p := resources.Prior{Attributes: cty.NullVal(cty.EmptyObject), Original: cty.EmptyObjectVal}
	return resources.ScriptApply{Script: "exit 3", Done: p, Failed: p}, nil
}

func init() { resources.Register(&failingScriptStep{}) }
