package main

// What sets a plan's groups of hosts apart, said above each group's (complete) block.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/resources"
)

// groupDiffs says, for each group shown with changes, what sets it apart from the largest such
// group: the resources and attributes whose planned change differs ("" for that group, and for
// all when fewer than two groups are shown). Each block stays complete; the note saves reading
// two 30-line blocks side by side to find the one value that differs.
func groupDiffs(groups []*hostGroup) map[*hostGroup]string {
	var shown []*hostGroup
	for _, g := range groups {
		if h := g.hosts[0]; h.Error == "" && (h.Pending != "" || hasChanges(h)) {
			shown = append(shown, g)
		}
	}
	out := map[*hostGroup]string{}
	if len(shown) < 2 {
		return out
	}
	ref := shown[0] // the largest, the first of those as large
	for _, g := range shown {
		if len(g.hosts) > len(ref.hosts) {
			ref = g
		}
	}
	refParts := planParts(ref.hosts[0])
	for _, g := range shown {
		if g == ref {
			continue
		}
		parts := planParts(g.hosts[0])
		var differ []string
		for _, k := range slices.Sorted(maps.Keys(mergeKeys(parts, refParts))) {
			if parts[k] != refParts[k] {
				differ = append(differ, k)
			}
		}
		differ = namedByFields(differ)
		if len(differ) > 4 {
			differ = append(differ[:3], fmt.Sprintf("%d more", len(differ)-3))
		}
		out[g] = fmt.Sprintf("# differs from %s in %s", compactHosts(ref.names()), strings.Join(differ, ", "))
	}
	return out
}

// namedByFields drops an address from differ when fields of it differ too: they say what
// differs, and "sysctl.loading, sysctl.loading values[...]" named the resource twice (its reason
// line, the part the fields do not cover, is in the block under the note).
func namedByFields(differ []string) []string {
	return slices.DeleteFunc(slices.Clone(differ), func(k string) bool {
		return !strings.Contains(k, " ") && slices.ContainsFunc(differ, func(f string) bool { return strings.HasPrefix(f, k+" ") })
	})
}

func hasChanges(h *engine.HostPlan) bool {
	c := h.Counts()
	return c.Add+c.Change+c.Destroy+c.Record > 0
}

// planParts are a host's planned changes by what a reader names them by: "kernel" (the running
// one), an address (its action and summary), an address and a path (that field's change).
func planParts(h *engine.HostPlan) map[string]string {
	m := map[string]string{"the running kernel": h.Kernel, "pending tests": h.Pending}
	for _, ch := range h.Changes {
		if ch.Action == resources.NoOp {
			continue
		}
		m[ch.Addr] = fmt.Sprintf("%s %v %s", ch.Action, ch.StateOnly, ch.Summary)
		for _, f := range ch.Fields {
			m[ch.Addr+" "+f.Path] = fmt.Sprintf("%v %v %v %q %q", f.BeforeNull, f.AfterNull, f.Drift, f.Before, f.After)
		}
	}
	return m
}

func mergeKeys(a, b map[string]string) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}
