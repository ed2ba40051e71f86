// Package statetest builds states for tests and benchmarks of the state backends: a fleet the
// size and age of a real one, so persist costs are measured on what apply will meet.
package statetest

import (
	"fmt"
	"time"

	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// Fleet is a state of n hosts ("spark-000", ...), each with a sysctl and a readahead resource,
// state.MaxGenerations generations and 100 smoke-test results: a fleet after months of applies.
func Fleet(n int) *state.State {
	st := state.New()
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range n {
		host := fmt.Sprintf("spark-%03d", i)
		h := AddHost(st, host, at)
		for g := range state.MaxGenerations {
			h.AddGeneration(at.Add(time.Duration(g)*time.Hour), "hash", "")
		}
		h.Incidents = append(h.Incidents, &state.Incident{Time: at, Kind: "rolled_back", Message: "kernel 6.17 did not boot"})
		for k := range 100 {
			h.AddTestRun(&state.TestRun{Time: at.Add(time.Duration(k) * time.Minute), Test: "smoke_test.gpt-oss", Mode: "mmap",
				Seconds: 21 + float64(k%7)/10, Runs: []float64{21, 21.5, 22}, Passed: true, Kernel: "6.17.0-1008-nvidia",
				Context: map[string]string{"readahead.nvme": "device=nvme0n1 kb=8192"}})
		}
	}
	return st
}

// AddHost adds host to st with a pinned key and two resources applied at at: a sysctl
// (vm.swappiness 10, originally 60) and a readahead (nvme0n1 8192 KB, no original).
func AddHost(st *state.State, host string, at time.Time) *state.Host {
	h := st.Host(host)
	h.HostKey = "ssh-ed25519 AAAAC3Nza" + host
	st.Set(host, &state.Resource{Type: "sysctl", Name: "loading", AppliedAt: at,
		Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{
			"values": cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("10")}),
		})},
		Original: state.Value{Value: cty.ObjectVal(map[string]cty.Value{
			"values": cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("60")}),
		})}})
	st.Set(host, &state.Resource{Type: "readahead", Name: "nvme", AppliedAt: at,
		Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("nvme0n1"), "kb": cty.NumberIntVal(8192)})},
		Original:   state.Value{Value: cty.NullVal(cty.DynamicPseudoType)}})
	return h
}

// Touch changes one resource of host (its read-ahead), as an apply step does: i makes each call
// a different value.
func Touch(st *state.State, host string, i int) {
	r := *st.Lookup(host, "readahead.nvme")
	r.Attributes = state.Value{Value: cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("nvme0n1"), "kb": cty.NumberIntVal(int64(4096 + i))})}
	st.Set(host, &r)
}
