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

// rollback -host spark-03 once warned that spark-01 "is in state but has no host block" and
// advised `state rm`: the target configuration must keep every configured host, giving
// resources only to the selected ones.
func TestRollbackOfOneHostKeepsTheOthersConfiguredAndUntouched(t *testing.T) {
	cfg := &config.Config{Hosts: []*config.Host{{Name: "h1"}, {Name: "h2"}, {Name: "h3"}}}
	st := state.New()
	for _, h := range []string{"h1", "h2", "h3"} {
		hs := st.Host(h)
		for i, v := range []string{"20", "10"} {
			hs.Resources["sysctl.s"] = &state.Resource{Type: "sysctl", Name: "s", Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{
				"values": cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal(v)})})}}
			hs.AddGeneration(time.Unix(int64(i), 0), "h", "")
		}
	}
	target, _, err := RollbackConfig(cfg, st, 0, []string{"h3"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range cfg.Hosts {
		if target.Host(h.Name) == nil {
			t.Errorf("%s is missing from the rollback's configuration", h.Name)
		}
	}
	if len(target.Resources) != 1 || strings.Join(target.Resources[0].Hosts, ",") != "h3" {
		t.Errorf("resources: %+v", target.Resources)
	}
	selected, err := selectHosts(target, []string{"h3"}, nil, nil)
	if err != nil || len(selected) != 1 || selected[0].Name != "h3" {
		t.Errorf("the same selection on the target: %v %v", selected, err)
	}
}
