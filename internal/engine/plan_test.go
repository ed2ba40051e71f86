package engine

import (
	"testing"

	"github.com/sparkform/sparkform/resources"
)

func TestPlanTotalCountsEveryHostAndRebootsOnlyForAChangeThatWillBeMade(t *testing.T) {
	boot := &HostPlan{Name: "a", Changes: []*Change{
		{Addr: "kernel.k", Diff: resources.Diff{Action: resources.Update, RequiresReboot: true}},
		{Addr: "sysctl.s", Diff: resources.Diff{Action: resources.Create}},
	}}
	kept := &HostPlan{Name: "b", Changes: []*Change{
		{Addr: "kernel.k", Diff: resources.Diff{Action: resources.NoOp, RequiresReboot: true}},
		{Addr: "sysctl.s", Diff: resources.Diff{Action: resources.Update, StateOnly: true}},
		{Addr: "readahead.r", Diff: resources.Diff{Action: resources.Replace}},
	}}
	p := &Plan{Hosts: []*HostPlan{boot, kept, {Name: "c", Error: "connection refused"}}}
	if got, want := p.Total(), (Counts{Add: 2, Change: 1, Destroy: 1, Record: 1}); got != want {
		t.Errorf("total %+v, want %+v", got, want)
	}
	if !boot.Reboots() || kept.Reboots() {
		t.Errorf("reboots: a kernel update %v (want true), an unchanged kernel %v (want false)", boot.Reboots(), kept.Reboots())
	}
}
