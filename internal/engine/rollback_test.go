package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// rollback takes resource bodies from state generations; state is a file someone else may have
// edited, so a body that no configuration could hold is refused before any host is touched.
func TestRollbackRefusesGenerationBodiesThatFailValidation(t *testing.T) {
	cfg := &config.Config{Hosts: []*config.Host{{Name: "h1", Address: "10.0.0.1"}}}
	mk := func(value string) *state.State {
		st := state.New()
		hs := st.Host("h1")
		for i, v := range []string{value, "10"} {
			hs.Resources["sysctl.s"] = &state.Resource{Type: "sysctl", Name: "s", Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{
				"values": cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal(v)})})}}
			hs.AddGeneration(time.Unix(int64(i), 0), "h", "")
		}
		return st
	}
	if _, _, err := RollbackConfig(cfg, mk("20"), 0, nil, nil, nil); err != nil {
		t.Fatalf("a valid generation is refused: %v", err)
	}
	_, _, err := RollbackConfig(cfg, mk("10; touch /tmp/pwned"), 0, nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "generation 1 holds an invalid sysctl.s") {
		t.Fatalf("%v, want the generation refused", err)
	}
}
