package engine

import (
	"context"
	"os"
	"path/filepath"
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

// observedResource reads one file of the host (observedFile) and records what Apply was given.
type observedResource struct {
	mu   sync.Mutex
	file string
	got  []string
}

func (*observedResource) Type() string                             { return "enginetest_observed" }
func (*observedResource) Spec() hcldec.Spec                        { return &hcldec.ObjectSpec{} }
func (*observedResource) Validate(cty.Value) []resources.AttrError { return nil }
func (r *observedResource) Probe(resources.Instance) string {
	return "printf 'seen %s\\n' \"$(cat " + provider.Quote(r.file) + ")\"\n"
}
func (*observedResource) Read(_ resources.Instance, out []byte) (cty.Value, error) {
	return cty.StringVal(strings.TrimPrefix(strings.TrimSpace(string(out)), "seen ")), nil
}
func (*observedResource) Diff(_ resources.Instance, observed cty.Value) (resources.Diff, error) {
	return resources.Diff{Action: resources.Update, Fields: []resources.FieldChange{{Path: "v", Before: observed.AsString(), After: "want"}}}, nil
}
func (r *observedResource) Apply(_ context.Context, _ provider.Host, _ resources.Instance, observed cty.Value, _ resources.Diff, _ func(string)) (resources.Prior, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, observed.AsString())
	return resources.Prior{Attributes: cty.EmptyObjectVal, Original: cty.NullVal(cty.EmptyObject)}, nil
}

var observedType = &observedResource{}

func init() { resources.Register(observedType) }

// What a saved plan says it observed on a host is a file's word, and Apply acts on it (a venv's
// generations become rm -rf operands, a llama.cpp build id a path): apply reads the host again
// and uses what it reads, and a host that no longer gives the plan's diff is not changed.
func TestSavedPlanIsAppliedWithWhatTheHostShowsNotWhatTheFileSays(t *testing.T) {
	observedType.file = filepath.Join(t.TempDir(), "value")
	os.WriteFile(observedType.file, []byte("a"), 0o644)
	saved := func() *Plan {
		return &Plan{FormatVersion: planFormatVersion, Hosts: []*HostPlan{{
			Name: "h1", Address: "10.0.0.1", Connection: &config.Host{Name: "h1", Address: "10.0.0.1", HostKeyPolicy: config.HostKeyStrict},
			Changes: []*Change{{Addr: "enginetest_observed.x", Type: "enginetest_observed", Name: "x",
				Diff:    resources.Diff{Action: resources.Update, Fields: []resources.FieldChange{{Path: "v", Before: "a", After: "want"}}},
				Desired: state.Value{Value: cty.EmptyObjectVal}, Observed: state.Value{Value: cty.StringVal("../../etc")},
				PriorAttributes: state.Value{Value: cty.NullVal(cty.DynamicPseudoType)}, PriorOriginal: state.Value{Value: cty.NullVal(cty.DynamicPseudoType)}}},
		}}}
	}
	dial := func(context.Context, *config.Host, string) (provider.Host, error) {
		return providertest.NewReadOnlyLocal(t), nil
	}
	apply := func() *Result {
		p, st := saved(), state.New()
		if err := CheckSavedPlan(p, st); err != nil {
			t.Fatal(err)
		}
		return Apply(context.Background(), p, st, &gatedStore{}, Options{Dial: dial})
	}

	res := apply()
	if hr := res.Hosts[0]; hr.Status != StatusApplied {
		t.Fatalf("h1: %s %s", hr.Status, hr.Error)
	}
	if len(observedType.got) != 1 || observedType.got[0] != "a" {
		t.Fatalf("Apply was given %q as observed, want what the host shows (\"a\"), not the plan file's", observedType.got)
	}

	os.WriteFile(observedType.file, []byte("b"), 0o644) // the host changed since the plan
	observedType.got = nil
	res = apply()
	if hr := res.Hosts[0]; hr.Status != StatusFailed || !strings.Contains(hr.Error, "changed since the plan was made") {
		t.Errorf("a host whose diff is no longer the plan's: %s %s", hr.Status, hr.Error)
	}
	if len(observedType.got) != 0 {
		t.Errorf("a host that changed since the plan was changed anyway (observed %q)", observedType.got)
	}
}
