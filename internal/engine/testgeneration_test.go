package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// quietTest is a smoke test that passes without running anything on the host.
type quietTest struct{ loudTest }

func (quietTest) Type() string { return "enginetest_quiettest" }
func (quietTest) Test(context.Context, provider.Host, resources.Instance, resources.TestContext, func(string)) ([]resources.TestOutcome, error) {
	return []resources.TestOutcome{{Mode: "mmap", Seconds: 1, Runs: []float64{1}, Passed: true}}, nil
}

func init() { resources.Register(quietTest{}) }

// `sparkform test` files its results under the host's latest generation; the test_done event
// (test_result in -json) carries that generation, not 0.
func TestOnDemandTestResultsCarryTheGenerationTheyAreFiledUnder(t *testing.T) {
	st := state.New()
	hs := st.Host("spark-01")
	hs.AddGeneration(time.Now().Add(-time.Hour), "h1", "")
	hs.AddGeneration(time.Now().Add(-time.Minute), "h2", "")
	cfg := &config.Config{Hosts: []*config.Host{{Name: "spark-01"}},
		Resources: []*config.Resource{{Type: "enginetest_quiettest", Name: "t", Body: cty.EmptyObjectVal, Hosts: []string{"spark-01"}}}}
	var mu sync.Mutex
	var gens []int // each test_done event's generation when it was emitted
	dial := func(context.Context, *config.Host, string) (provider.Host, error) {
		return providertest.NewReadOnlyLocal(t), nil
	}
	res, err := RunTests(context.Background(), cfg, st, nopStore{}, Options{Dial: dial,
		Events: func(ev Event) {
			if ev.Kind == "test_done" && ev.Test != nil {
				mu.Lock()
				gens = append(gens, ev.Test.Generation)
				mu.Unlock()
			}
		}})
	if err != nil || len(res) != 1 || res[0].Error != "" || len(res[0].Runs) != 1 {
		t.Fatalf("RunTests: %v %+v", err, res)
	}
	if got := st.Host("spark-01").Tests; len(got) != 1 || got[0].Generation != 2 {
		t.Fatalf("the result is not filed under generation 2 in state: %+v", got)
	}
	if len(gens) != 1 || gens[0] != 2 {
		t.Fatalf("test_done events' generations: %v; want [2]", gens)
	}
}
