package engine

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// RollbackConfig plans a rollback: it builds a configuration whose resources are, for each selected host, those
// of its target generation: to, or each host's previous one when to is 0 (the same address may so
// carry different bodies on different hosts). Host connection settings and the rollout come from
// cfg. The note says what the rollback returns to. Every body taken from state is checked like
// a configuration block (checkBody) first: state is a file someone else may have edited.
func RollbackConfig(cfg *config.Config, st *state.State, to int, only, exclude, labels []string) (*config.Config, string, error) {
	hosts, err := selectHosts(cfg, only, exclude, labels)
	if err != nil {
		return nil, "", err
	}
	// Every configured host stays in the target (only the selected ones get resources, and the
	// caller plans with the same selection): a host left out would read as "in state but no
	// host block", and following that advice (state rm) would drop its state.
	out := &config.Config{Dir: cfg.Dir, Files: cfg.Files, Rollout: cfg.Rollout, Hosts: cfg.Hosts}
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
		hashes[g.ConfigHash] = true
		gens = append(gens, g.N)
		addrs := make([]string, 0, len(g.Resources))
		for a := range g.Resources {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			r := g.Resources[a]
			if r.Attributes.Value == cty.NilVal || r.Attributes.Value.IsNull() {
				continue // recorded originals only: it was never applied in that generation
			}
			// State is a file like any other: a generation's body must pass its type's rules,
			// as a block in the configuration would, before it reaches the host.
			body, err := checkBody(r.Type, r.Attributes.Value)
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
