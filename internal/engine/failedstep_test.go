package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// unchangedScriptStep is a ScriptApplier whose fragment fails before changing anything, as a
// sysctl whose /etc/sysctl.d is read-only does.
type unchangedScriptStep struct{ scriptStep }

func (*unchangedScriptStep) Type() string { return "enginetest_script_unchanged" }
func (*unchangedScriptStep) ApplyScript(resources.Instance, cty.Value, resources.Diff) (resources.ScriptApply, error) {
	p := resources.Prior{Attributes: cty.EmptyObjectVal, Original: cty.EmptyObjectVal}
	return resources.ScriptApply{Script: fmt.Sprintf("echo 'writing /etc/sysctl.d/x failed'; exit %d", resources.ExitUnchanged), Done: p, Failed: p}, nil
}

func init() { resources.Register(&unchangedScriptStep{}) }

// A step that failed before changing anything leaves its state record (and when it was applied)
// as it was: the next plan does not call the host changed since its last generation. A step that
// failed after it may have changed something is recorded, and the host is pending.
func TestAFailedStepThatChangedNothingDoesNotMakeTheHostPending(t *testing.T) {
	for _, tc := range []struct {
		typ     string
		pending bool
	}{{"enginetest_script_unchanged", false}, {"enginetest_script_failing", true}} {
		t.Run(tc.typ, func(t *testing.T) {
			applied := time.Now().Add(-2 * time.Hour).UTC()
			st := state.New()
			hs := st.Host("spark-01")
			addr := tc.typ + ".a"
			hs.Resources[addr] = &state.Resource{Type: tc.typ, Name: "a", AppliedAt: applied,
				Attributes: state.Value{Value: cty.EmptyObjectVal}, Original: state.Value{Value: cty.EmptyObjectVal}}
			hs.AddGeneration(applied.Add(time.Minute), "h", "")
			hp := &HostPlan{Name: "spark-01", Connection: &config.Host{Name: "spark-01"}, Changes: []*Change{{Addr: addr, Type: tc.typ, Name: "a",
				Diff: resources.Diff{Action: resources.Update}, Desired: state.Value{Value: cty.EmptyObjectVal},
				PriorAttributes: state.Value{Value: cty.EmptyObjectVal}}}}
			dial := func(context.Context, *config.Host, string) (provider.Host, error) {
				return providertest.NewReadOnlyLocal(t), nil
			}
			res := Apply(context.Background(), &Plan{Hosts: []*HostPlan{hp}}, st, &gatedStore{}, Options{Dial: dial})
			hr := res.Hosts[0]
			if hr.Status != StatusFailed || hr.Error == "" {
				t.Fatalf("the step did not fail: %s %s", hr.Status, hr.Error)
			}
			if said := strings.Contains(hr.Error, "failed before changing anything"); said == tc.pending {
				t.Errorf("error %q: says nothing changed: %v", hr.Error, said)
			}
			got := st.Host("spark-01")
			moved := !got.Resources[addr].AppliedAt.Equal(applied)
			if pending := pendingWork(got); (pending != "") != tc.pending || moved != tc.pending {
				t.Fatalf("applied_at moved: %v, pending: %q; want both %v", moved, pending, tc.pending)
			}
		})
	}
}
