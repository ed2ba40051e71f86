package engine

import (
	"strings"
	"testing"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// savedPlan is what `plan -out` writes for one host with one llama_cpp block to create.
func savedPlan(targets ...string) *Plan {
	t := make([]cty.Value, len(targets))
	for i, s := range targets {
		t[i] = cty.StringVal(s)
	}
	body := cty.ObjectVal(map[string]cty.Value{
		"source": cty.StringVal("https://github.com/ggml-org/llama.cpp"), "ref": cty.StringVal("b6800"),
		"dir": cty.StringVal("/opt/llama"), "cmake_flags": cty.NullVal(cty.Map(cty.String)), "targets": cty.ListVal(t),
		"jobs": cty.NullVal(cty.Number), "keep": cty.NullVal(cty.Number), "build_timeout": cty.NullVal(cty.String),
	})
	return &Plan{FormatVersion: planFormatVersion, Hosts: []*HostPlan{{
		Name: "h1", Address: "10.0.0.1",
		Connection: &config.Host{Name: "h1", Address: "10.0.0.1", HostKeyPolicy: config.HostKeyAcceptNew},
		Changes: []*Change{{Addr: "llama_cpp.fleet", Type: "llama_cpp", Name: "fleet", Diff: resources.Diff{Action: resources.Create},
			Desired: state.Value{Value: body}, PriorAttributes: state.Value{Value: cty.NullVal(cty.DynamicPseudoType)},
			PriorOriginal: state.Value{Value: cty.NullVal(cty.DynamicPseudoType)}}},
	}}}
}

func TestSavedPlanIsCheckedLikeHCLBeforeApply(t *testing.T) {
	st := state.New()
	if err := CheckSavedPlan(savedPlan("llama-server"), st); err != nil {
		t.Fatalf("a plan sparkform wrote is refused: %v", err)
	}
	// A saved plan never pins a new host key: the plan that made it already did.
	p := savedPlan("llama-server")
	CheckSavedPlan(p, st)
	if got := p.Hosts[0].Connection.HostKeyPolicy; got != config.HostKeyStrict {
		t.Errorf("host_key_policy %q when applying a saved plan, want strict", got)
	}
	for name, edit := range map[string]func(p *Plan){
		"targets run a command": func(p *Plan) { *p = *savedPlan("llama-server", "$(id > /tmp/x)") },
		"address is an option": func(p *Plan) {
			p.Hosts[0].Connection.Address, p.Hosts[0].Address = "-oProxyCommand=x", "-oProxyCommand=x"
		},
		"connection of another host": func(p *Plan) { p.Hosts[0].Connection.Name = "h2" },
		"unknown key policy":         func(p *Plan) { p.Hosts[0].Connection.HostKeyPolicy = "yes" },
		"name is a path":             func(p *Plan) { c := p.Hosts[0].Changes[0]; c.Name, c.Addr = "../../x", "llama_cpp.../../x" },
		"prior nobody had": func(p *Plan) {
			p.Hosts[0].Changes[0].PriorOriginal = state.Value{Value: cty.MapVal(map[string]cty.Value{"x": cty.StringVal("y")})}
		},
		"rollout pause overflows": func(p *Plan) { p.Rollout = &config.Rollout{Pause: -1} },
	} {
		p := savedPlan("llama-server")
		edit(p)
		err := CheckSavedPlan(p, st)
		if err == nil || !strings.Contains(err.Error(), "nothing was applied") {
			t.Errorf("%s: %v, want the plan refused", name, err)
		}
	}
}

func TestSavedPlanHostKeyMustBeTheOneStatePins(t *testing.T) {
	st := state.New()
	st.Host("h1").HostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	p := savedPlan("llama-server")
	p.Hosts[0].HostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHKrUq3nZqUj3V4hQ7lQX8Xf0WbJmXJm0bPp2k6uX0ty"
	if err := CheckSavedPlan(p, st); err == nil || !strings.Contains(err.Error(), "not the one state pins") {
		t.Fatalf("%v", err)
	}
	p = savedPlan("llama-server")
	p.Hosts[0].HostKey = st.Host("h1").HostKey
	if err := CheckSavedPlan(p, st); err != nil {
		t.Fatal(err)
	}
}
