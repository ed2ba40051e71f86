package main

import (
	"fmt"
	"io"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
)

// driftReport is drift's JSON shape: per host, what differs.
type driftReport struct {
	Hosts []driftHost `json:"hosts"`
}

type driftHost struct {
	Name  string       `json:"name"`
	Error string       `json:"error,omitempty"`
	Items []driftEntry `json:"drift"`
}

type driftEntry struct {
	Addr   string `json:"addr"`
	Path   string `json:"path"`
	Live   string `json:"live"`
	Wanted string `json:"wanted"`
	// Outside is true when the live value also differs from what sparkform last applied:
	// someone changed the host. False means the configuration moved on (a pending change).
	Outside bool   `json:"changed_outside_sparkform"`
	Kind    string `json:"kind"` // "changed", "missing" (not yet applied), "orphaned" (in state, not in configuration)
}

// drift [DIR] [-host H]... [-json]: read-only comparison of each host with the configuration
// and with what state says was applied. Exit 0: none, 2: drift, 1: error.
func runDrift(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("drift", stderr)
	var rf runFlags
	defer rf.closePool()
	rf.register(fs)
	dir, ok := parseDir(fs, args, stderr)
	if !ok {
		return 1
	}
	ctx, _, stop := interruptible(stderr, true)
	defer stop()
	// Read-only: no lock (state files are replaced atomically, so a read is always whole).
	r, ok := openHostRun(ctx, dir, &rf, "drift", false, stderr)
	if !ok {
		return 1
	}
	plan, err := engine.MakePlan(ctx, r.cfg, r.st, rf.engineOptions(nil))
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	rep := driftReport{Hosts: []driftHost{}}
	drifted, failed := 0, 0
	for _, h := range plan.Hosts {
		dh := driftHost{Name: h.Name, Items: []driftEntry{}}
		if h.Error != "" {
			dh.Error = h.Error
			failed++
		}
		for _, c := range h.Changes {
			kind := "changed"
			switch {
			case c.Action == resources.Create:
				kind = "missing"
			case c.Action == resources.Delete:
				kind = "orphaned"
			}
			for _, f := range c.Fields {
				live, wanted := f.Before, f.After
				if f.BeforeNull {
					live = "(absent)"
				}
				if f.AfterNull {
					wanted = "(absent)"
				}
				dh.Items = append(dh.Items, driftEntry{Addr: c.Addr, Path: f.Path, Live: live, Wanted: wanted, Outside: f.Drift, Kind: kind})
			}
			if len(c.Fields) == 0 && c.Action != resources.NoOp {
				dh.Items = append(dh.Items, driftEntry{Addr: c.Addr, Kind: kind, Live: c.Summary})
			}
		}
		if len(dh.Items) > 0 {
			drifted++
		}
		rep.Hosts = append(rep.Hosts, dh)
	}
	if rf.json {
		writeJSON(stdout, rep)
	} else {
		for _, h := range rep.Hosts {
			switch {
			case h.Error != "":
				fmt.Fprintf(stdout, "%s: could not be read: %s\n", termsafe.Line(h.Name), firstLine(h.Error))
			case len(h.Items) == 0:
				fmt.Fprintf(stdout, "%s: in sync\n", termsafe.Line(h.Name))
			default:
				fmt.Fprintf(stdout, "%s: %d drifted\n", termsafe.Line(h.Name), len(h.Items))
				for _, d := range h.Items {
					why := "configuration changed, not applied yet"
					switch {
					case d.Outside:
						why = "changed outside sparkform"
					case d.Kind == "missing":
						why = "never applied"
					case d.Kind == "orphaned":
						why = "removed from the configuration, not yet destroyed"
					}
					fmt.Fprintf(stdout, "  %s %s: live %s, wanted %s (%s)\n", termsafe.Line(d.Addr), termsafe.Line(d.Path), termsafe.Line(d.Live), termsafe.Line(d.Wanted), why)
				}
			}
		}
		fmt.Fprintf(stdout, "\n%d of %d hosts drifted", drifted, len(rep.Hosts))
		if failed > 0 {
			fmt.Fprintf(stdout, ", %d could not be read", failed)
		}
		fmt.Fprintln(stdout, ".")
	}
	switch {
	case failed > 0:
		return 1
	case drifted > 0:
		return 2
	}
	return 0
}
