package engine

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/suggest"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

// selectHosts narrows the configuration's hosts as -host, -exclude-host and -label ask, keeping
// the configuration's order. A -host or -exclude-host value is a comma list of names or globs
// (spark-0*, spark-[12]?); -label values are key=value (the value may be a glob), all of which
// a host must carry. A pattern or label that matches no host is an error naming the hosts and
// the closest name, since a typo would otherwise silently select nothing (or everything).
func selectHosts(cfg *config.Config, only, exclude, labels []string) ([]*config.Host, error) {
	names := make([]string, len(cfg.Hosts))
	for i, h := range cfg.Hosts {
		names[i] = h.Name
	}
	onlyPats, err := hostPatterns("-host", only, names)
	if err != nil {
		return nil, err
	}
	exclPats, err := hostPatterns("-exclude-host", exclude, names)
	if err != nil {
		return nil, err
	}
	sel := map[string]string{}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-label %q: write key=value, e.g. -label rack=a", l)
		}
		if _, err := path.Match(v, ""); err != nil {
			return nil, fmt.Errorf("-label %q: bad pattern: %v", l, err)
		}
		sel[k] = v
	}
	var out []*config.Host
	for _, h := range cfg.Hosts {
		if len(onlyPats) > 0 && !matchAny(onlyPats, h.Name) || matchAny(exclPats, h.Name) || !hasLabels(h, sel) {
			continue
		}
		out = append(out, h)
	}
	if len(labels) > 0 && len(out) == 0 {
		return nil, fmt.Errorf("no selected host has the labels %s (labels in the configuration: %s)", strings.Join(labels, ", "), knownLabels(cfg))
	}
	if len(exclPats) > 0 && len(out) == 0 && len(cfg.Hosts) > 0 {
		// Each pattern matched a host, but together they leave none: "No changes. 0 hosts" would
		// read as success.
		return nil, fmt.Errorf("-exclude-host %s excludes every selected host (hosts: %s)", strings.Join(exclPats, ","), listHosts(names))
	}
	return out, nil
}

// hostPatterns splits comma lists and checks that each pattern matches a host.
func hostPatterns(flag string, values, names []string) ([]string, error) {
	var pats []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("%s %q: bad pattern: %v", flag, p, err)
			}
			if !matchesSome(p, names) {
				return nil, fmt.Errorf("%s %s: no host in the configuration matches it (hosts: %s).%s", flag, p, listHosts(names), suggest.Hint(p, names))
			}
			pats = append(pats, p)
		}
	}
	return pats, nil
}

// matchAny reports whether name matches one of the patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// matchesSome reports whether the pattern matches one of the names.
func matchesSome(pattern string, names []string) bool {
	for _, n := range names {
		if ok, _ := path.Match(pattern, n); ok {
			return true
		}
	}
	return false
}

func hasLabels(h *config.Host, sel map[string]string) bool {
	for k, pat := range sel {
		v, ok := h.Labels[k]
		if !ok {
			return false
		}
		if m, _ := path.Match(pat, v); !m {
			return false
		}
	}
	return true
}

func knownLabels(cfg *config.Config) string {
	seen := map[string]bool{}
	for _, h := range cfg.Hosts {
		for k, v := range h.Labels {
			seen[k+"="+v] = true
		}
	}
	if len(seen) == 0 {
		return "none"
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// listHosts names up to 8 hosts, then how many more.
func listHosts(names []string) string {
	if len(names) <= 8 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:8], ", "), len(names)-8)
}

// resolveTargets checks -target addresses (TYPE.NAME) against the configuration and the state.
func resolveTargets(cfg *config.Config, st *state.State, targets []string) (targetSet, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	known := map[string]bool{}
	for _, r := range cfg.Resources {
		known[r.Addr()] = true
	}
	for _, hs := range st.Hosts {
		for a := range hs.Resources {
			known[a] = true
		}
	}
	out := targetSet{}
	for _, t := range targets {
		for _, a := range strings.Split(t, ",") {
			a = strings.TrimSpace(a)
			if !known[a] {
				addrs := make([]string, 0, len(known))
				for k := range known {
					addrs = append(addrs, k)
				}
				sort.Strings(addrs)
				example := "the configuration and the state have none"
				if len(addrs) > 0 {
					example = "e.g. " + addrs[0]
				}
				return nil, fmt.Errorf("-target %s: no resource with that address in the configuration or the state (TYPE.NAME, %s).%s", a, example, suggest.Hint(a, addrs))
			}
			out[a] = true
		}
	}
	return out, nil
}

// filter keeps the targeted instances and, transitively, what they depend on.
func (t targetSet) filter(instances []resources.Instance, deps map[string][]string) []resources.Instance {
	if t == nil {
		return instances
	}
	keep := map[string]bool{}
	var visit func(a string)
	visit = func(a string) {
		if keep[a] {
			return
		}
		keep[a] = true
		for _, d := range deps[a] {
			visit(d)
		}
	}
	for a := range t {
		visit(a)
	}
	var out []resources.Instance
	for _, in := range instances {
		if keep[in.Addr()] {
			out = append(out, in)
		}
	}
	return out
}
