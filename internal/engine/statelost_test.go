package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// stepResource is a resource type whose Apply only counts: what a step did is what it counted.
type stepResource struct {
	mu      sync.Mutex
	applied []string
}

func (*stepResource) Type() string                             { return "enginetest_step" }
func (*stepResource) Spec() hcldec.Spec                        { return &hcldec.ObjectSpec{} }
func (*stepResource) Validate(cty.Value) []resources.AttrError { return nil }
func (*stepResource) Probe(resources.Instance) string          { return ":" }
func (*stepResource) Read(resources.Instance, []byte) (cty.Value, error) {
	return cty.EmptyObjectVal, nil
}
func (*stepResource) Diff(resources.Instance, cty.Value) (resources.Diff, error) {
	return resources.Diff{Action: resources.Create}, nil
}
func (r *stepResource) Apply(_ context.Context, h provider.Host, in resources.Instance, _ cty.Value, _ resources.Diff, _ func(string)) (resources.Prior, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, h.Name()+"/"+in.Addr())
	return resources.Prior{Attributes: cty.EmptyObjectVal, Original: cty.NullVal(cty.EmptyObject)}, nil
}

var steps = &stepResource{}

func init() { resources.Register(steps) }

// failingStore persists the first ok writes, then fails like a database that went away.
type failingStore struct{ ok int }

func (s *failingStore) Persist(*state.State) error {
	if s.ok == 0 {
		return errors.New("FATAL: terminating connection due to administrator command")
	}
	s.ok--
	return nil
}

func TestApplyStartsNoNewStepOnceStateCannotBeSaved(t *testing.T) {
	p := &Plan{}
	for _, host := range []string{"spark-01", "spark-02", "spark-03"} {
		hp := &HostPlan{Name: host, Connection: &config.Host{Name: host}}
		for _, name := range []string{"a", "b"} {
			hp.Changes = append(hp.Changes, &Change{Addr: "enginetest_step." + name, Type: "enginetest_step", Name: name,
				Diff: resources.Diff{Action: resources.Create}, Desired: state.Value{Value: cty.EmptyObjectVal}})
		}
		p.Hosts = append(p.Hosts, hp)
	}
	dial := func(_ context.Context, h *config.Host, _ string) (provider.Host, error) {
		return &providertest.Scripted{HostName: h.Name}, nil
	}
	// The first step's persist succeeds, the second's fails.
	res := Apply(context.Background(), p, state.New(), &failingStore{ok: 1}, Options{Parallelism: 1, Dial: dial})

	if got := strings.Join(steps.applied, " "); got != "spark-01/enginetest_step.a spark-01/enginetest_step.b" {
		t.Fatalf("steps run: %s; want only spark-01's two (the second is the one whose persist failed)", got)
	}
	h1 := res.Hosts[0]
	if h1.Status != StatusFailed || !strings.Contains(h1.Error, "enginetest_step.b: changed on the host, but the state could not record it") {
		t.Fatalf("spark-01: %s %q", h1.Status, h1.Error)
	}
	if len(h1.Applied) != 1 || h1.Applied[0] != "enginetest_step.a" {
		t.Fatalf("spark-01 applied and recorded: %v", h1.Applied)
	}
	for _, h := range res.Hosts[1:] {
		if h.Status != StatusInterrupted || !strings.Contains(h.Error, "because the state could not be saved") {
			t.Fatalf("%s: %s %q; want interrupted because the state could not be saved", h.Name, h.Status, h.Error)
		}
	}
	if !strings.Contains(res.Stopped, "the state could not be saved") || !strings.Contains(res.Stopped, "administrator command") {
		t.Fatalf("Stopped = %q", res.Stopped)
	}
}
