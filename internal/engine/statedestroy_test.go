package engine

import (
	"strings"
	"testing"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// A resource in state that the configuration no longer has is destroyed with what state says
// was applied: llama_cpp's destroy removes DIR/src and DIR/builds as root, sysctl's and
// kernel's name files by the resource's name. State is a file like any other: its name and body
// must pass the rules a block in the configuration would before the destroy is planned.
func TestDestroyFromStateChecksTheBodyAndNameStateHolds(t *testing.T) {
	cfg := &config.Config{Hosts: []*config.Host{{Name: "h1", Address: "10.0.0.1"}}}
	llama := func(dir string) cty.Value {
		m := savedPlan("llama-server").Hosts[0].Changes[0].Desired.Value.AsValueMap()
		m["dir"] = cty.StringVal(dir)
		return cty.ObjectVal(m)
	}
	with := func(addr, typ, name string, attrs cty.Value) *state.Host {
		st := state.New()
		hs := st.Host("h1")
		hs.Resources[addr] = &state.Resource{Type: typ, Name: name, Attributes: state.Value{Value: attrs}}
		return hs
	}
	if ins, _, err := instancesFor(cfg, "h1", with("llama_cpp.x", "llama_cpp", "x", llama("/opt/llama"))); err != nil || len(ins) != 1 || !ins[0].Destroying() {
		t.Fatalf("a valid resource in state only: %v %v", ins, err)
	}
	for name, hs := range map[string]*state.Host{
		"dir is a system directory": with("llama_cpp.x", "llama_cpp", "x", llama("/usr")),
		"dir is relative":           with("llama_cpp.x", "llama_cpp", "x", llama("../../home/alice")),
		"name is a path":            with("llama_cpp.x", "llama_cpp", "../../x", llama("/opt/llama")),
		"address of another":        with("llama_cpp.y", "llama_cpp", "x", llama("/opt/llama")),
	} {
		if _, _, err := instancesFor(cfg, "h1", hs); err == nil || !strings.Contains(err.Error(), "not planning its destroy") {
			t.Errorf("%s: %v, want the destroy refused", name, err)
		}
	}
}
