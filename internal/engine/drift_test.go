package engine

import (
	"fmt"
	"testing"

	"github.com/sparkform/sparkform/resources"
)

func TestDriftClassifiesChangesAsChangedMissingOrOrphanedAndCountsHosts(t *testing.T) {
	ch := func(addr string, a resources.Action, fields ...resources.FieldChange) *Change {
		return &Change{Addr: addr, Diff: resources.Diff{Action: a, Fields: fields, Summary: "summary of " + addr}}
	}
	p := &Plan{Hosts: []*HostPlan{
		{Name: "in-sync", Changes: []*Change{ch("sysctl.a", resources.NoOp)}},
		{Name: "drifted", Changes: []*Change{
			ch("readahead.nvme", resources.Update, resources.FieldChange{Path: "kb", Before: "512", After: "8192", Drift: true}),
			ch("sysctl.new", resources.Create, resources.FieldChange{Path: "vm.x", BeforeNull: true, After: "1"}),
			ch("sysctl.old", resources.Delete),
		}},
		{Name: "unreadable", Error: "connection refused"},
	}}
	rep := Drift(p)
	var got []string
	for _, h := range rep.Hosts {
		for _, d := range h.Items {
			got = append(got, fmt.Sprintf("%s %s %s %s->%s outside=%v %s", h.Name, d.Addr, d.Path, d.Live, d.Wanted, d.Outside, d.Kind))
		}
	}
	want := []string{
		"drifted readahead.nvme kb 512->8192 outside=true changed",
		"drifted sysctl.new vm.x (absent)->1 outside=false missing",
		"drifted sysctl.old  summary of sysctl.old-> outside=false orphaned",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("items\n%q\nwant\n%q", got, want)
	}
	if d, f := rep.Counts(); d != 1 || f != 1 || rep.Hosts[2].Error != "connection refused" {
		t.Fatalf("counts drifted %d failed %d, hosts %+v", d, f, rep.Hosts)
	}
}
