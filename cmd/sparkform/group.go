package main

// The views' one grouping: hosts (or anything of theirs) that render alike are shown once.

// group is items whose keys are equal, in the order they came.
type group[T any] struct {
	items []T
	key   string
}

// groupBy puts items with the same key together; groups come in the order of their first item.
// Plan, show and drift group hosts with it, keyed by what they would print for the host.
func groupBy[T any](items []T, key func(T) string) []*group[T] {
	var groups []*group[T]
	byKey := map[string]*group[T]{}
	for _, it := range items {
		k := key(it)
		g := byKey[k]
		if g == nil {
			g = &group[T]{key: k}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, it)
	}
	return groups
}
