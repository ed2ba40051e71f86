package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// history [DIR] [-host H]... [-json]: each host's generations and incidents, oldest first.
func runHistory(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("history", stderr)
	var hosts multiFlag
	fs.Var(&hosts, "host", "only this host (repeatable)")
	var sf stateFlags
	sf.register(fs, "state file (default DIR/sparkform.state.json)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	dir, ok := parseDir(fs, args, stderr)
	if !ok {
		return 1
	}
	store, st, err := readState(dir, sf)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	store.Close()
	names := sortedKeysOf(st.Hosts)
	if len(hosts) > 0 {
		for _, h := range hosts {
			if st.Hosts[h] == nil {
				return errorf(stderr, "no host %q in the state %s", h, store)
			}
		}
		names = hosts
	}
	if *asJSON {
		ui := newJSONUI(stdout, "history")
		for _, n := range names {
			for _, g := range st.Hosts[n].Generations {
				res := map[string]any{}
				for addr, r := range g.Resources {
					res[addr] = valueJSON(r.Attributes.Value)
				}
				ui.emit("info", "generation", fmt.Sprintf("%s: generation %d", n, g.N), map[string]any{"host": map[string]any{"name": n},
					"generation": map[string]any{"n": g.N, "time": g.Time.UTC().Format(time.RFC3339Nano), "config_hash": g.ConfigHash, "note": g.Note, "resources": res}})
			}
			for _, in := range st.Hosts[n].Incidents {
				ui.emit("warn", "incident", fmt.Sprintf("%s: %s", n, in.Kind), map[string]any{"host": map[string]any{"name": n},
					"incident": map[string]any{"kind": in.Kind, "time": in.Time.UTC().Format(time.RFC3339Nano), "message": in.Message}})
			}
		}
		return 0
	}
	for _, n := range names {
		hs := st.Hosts[n]
		fmt.Fprintf(stdout, "%s\n", termsafe.Line(n))
		if len(hs.Generations) == 0 {
			fmt.Fprintln(stdout, "  (no generations yet)")
		}
		for _, g := range hs.Generations {
			line := fmt.Sprintf("  %3d  %s  config %s  %s", g.N, g.Time.Local().Format(time.DateTime), shortHash(g.ConfigHash), summarizeResources(g.Resources))
			if g.Note != "" {
				line += "  (" + g.Note + ")"
			}
			fmt.Fprintln(stdout, termsafe.Line(line))
		}
		for _, in := range hs.Incidents {
			fmt.Fprintf(stdout, "   !!  %s  %s: %s\n", in.Time.Local().Format(time.DateTime), termsafe.Line(in.Kind), termsafe.Line(in.Message))
		}
		fmt.Fprintln(stdout)
	}
	return 0
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// summarizeResources names each resource with its settings, so a kernel line or a read-ahead
// figure reads at a glance: kernel.nvidia{line=6.17} readahead.nvme{device=nvme0n1 kb=8192}.
func summarizeResources(rs map[string]*state.Resource) string {
	var parts []string
	for _, a := range sortedKeysOf(rs) {
		v := rs[a].Attributes.Value
		switch sum := engine.Summarize(v); {
		case isNullValue(v):
			parts = append(parts, a+"{not applied}")
		case sum != "":
			parts = append(parts, a+"{"+sum+"}")
		default:
			parts = append(parts, a)
		}
	}
	return strings.Join(parts, " ")
}
