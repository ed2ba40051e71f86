package engine

import (
	"testing"

	"github.com/sparkform/sparkform/resources"
)

// A test's objection to the host as it is now (its venv cannot import fastsafetensors yet)
// stands unless something it depends on, directly or through others, changes in the plan.
func TestATestsCheckWaitsForTheTestWhenWhatItDependsOnChanges(t *testing.T) {
	hp := &HostPlan{Changes: []*Change{
		{Addr: "python_venv.vllm", Diff: resources.Diff{Action: resources.Update}},
		{Addr: "sysctl.loading", Diff: resources.Diff{Action: resources.NoOp}},
		{Addr: "llama_cpp.cuda", Diff: resources.Diff{Action: resources.NoOp}},
	}}
	deps := map[string][]string{
		"smoke_test.qwen":   {"python_venv.vllm"},
		"smoke_test.gpt":    {"llama_cpp.cuda"},
		"smoke_test.chain":  {"smoke_test.qwen"},
		"smoke_test.alone":  nil,
		"smoke_test.cyclic": {"smoke_test.cyclic"},
	}
	for addr, want := range map[string]bool{
		"smoke_test.qwen": true, "smoke_test.gpt": false, "smoke_test.chain": true, "smoke_test.alone": false, "smoke_test.cyclic": false,
	} {
		if got := dependsOnChange(hp, deps, addr); got != want {
			t.Errorf("%s: dependsOnChange = %v, want %v", addr, got, want)
		}
	}
}
