package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// rollback [DIR] [-to N] [-host H]...: plan the return of each host to generation N (default:
// the one before its latest) and apply it after confirmation, exactly like apply. Host
// connection settings and the rollout come from the configuration in DIR; the resources come
// from the generation.
func runRollback(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rollback", stderr)
	var rf runFlags
	defer rf.closePool()
	rf.register(fs)
	to := fs.Int("to", 0, "generation to return to (default: each host's previous generation)")
	autoApprove := fs.Bool("auto-approve", false, "apply without asking for confirmation")
	dir, ok := parseDir(fs, args, stderr)
	if !ok {
		return 1
	}
	ctx, graceful, stop := interruptible(stderr, false)
	defer stop()
	r, ok := openHostRun(ctx, dir, &rf, "rollback", true, stderr)
	if !ok {
		return 1
	}
	defer r.release()
	target, note, err := rollbackConfig(r.cfg, r.st, *to, rf.hosts, rf.excludes, rf.labels)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	opts := rf.engineOptions(nil)
	opts.Only, opts.Exclude, opts.Labels = nil, nil, nil // already applied to target's hosts
	plan, err := engine.MakePlan(ctx, target, r.st, opts)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	plan.Note = note
	if !rf.json {
		fmt.Fprintf(stdout, "Rollback: %s\n\n", termsafe.Text(note))
		renderPlan(stdout, plan)
	}
	return executePlan(ctx, graceful, plan, r.st, r.store, &rf, *autoApprove, nil, stdout, stderr)
}

// rollbackConfig builds a configuration whose resources are, for each selected host, those
// of its target generation (the same address may so carry different bodies on different hosts).
func rollbackConfig(cfg *config.Config, st *state.State, to int, only, exclude, labels []string) (*config.Config, string, error) {
	hosts, err := engine.SelectHosts(cfg, only, exclude, labels)
	if err != nil {
		return nil, "", err
	}
	out := &config.Config{Dir: cfg.Dir, Files: cfg.Files, Rollout: cfg.Rollout}
	hashes := map[string]bool{}
	var gens []int
	for _, h := range hosts {
		hs := st.Hosts[h.Name]
		if hs == nil || len(hs.Generations) == 0 {
			return nil, "", fmt.Errorf("%s has no generations in the state: nothing to roll back to", h.Name)
		}
		var g *state.Generation
		if to > 0 {
			if g = hs.Generation(to); g == nil {
				return nil, "", fmt.Errorf("%s has no generation %d (it has %d..%d; see sparkform history)", h.Name, to,
					hs.Generations[0].N, hs.Generations[len(hs.Generations)-1].N)
			}
		} else {
			if len(hs.Generations) < 2 {
				return nil, "", fmt.Errorf("%s has only one generation: there is no previous one to roll back to", h.Name)
			}
			g = hs.Generations[len(hs.Generations)-2]
		}
		out.Hosts = append(out.Hosts, h)
		hashes[g.ConfigHash] = true
		gens = append(gens, g.N)
		addrs := make([]string, 0, len(g.Resources))
		for a := range g.Resources {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			r := g.Resources[a]
			if isNullValue(r.Attributes.Value) {
				continue // recorded originals only: it was never applied in that generation
			}
			// State is a file like any other: a generation's body must pass its type's rules,
			// as a block in the configuration would, before it reaches the host.
			body, err := engine.CheckBody(r.Type, r.Attributes.Value)
			if err != nil {
				return nil, "", fmt.Errorf("%s: generation %d holds an invalid %s, not rolling back: %v", h.Name, g.N, a, err)
			}
			if addr := r.Type + "." + r.Name; addr != a || !hclsyntax.ValidIdentifier(r.Name) {
				return nil, "", fmt.Errorf("%s: generation %d holds %q under %q, not rolling back", h.Name, g.N, addr, a)
			}
			out.Resources = append(out.Resources, &config.Resource{Type: r.Type, Name: r.Name, Body: body, Hosts: []string{h.Name}})
		}
	}
	if len(hashes) == 1 {
		for h := range hashes {
			out.Hash = h
		}
	}
	note := fmt.Sprintf("rollback to generation %d", gens[0])
	for _, n := range gens[1:] {
		if n != gens[0] {
			note = "rollback to each host's previous generation"
			break
		}
	}
	return out, note, nil
}
