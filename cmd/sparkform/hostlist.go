package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// hostListWidth bounds a host list heading a group or filling a table cell: at 100 scattered
// hosts the full list is 200+ characters. -json, show -host and plan -host give the exact hosts.
const hostListWidth = 64

// compactHosts writes host names the way fleet tools do (Slurm, pdsh), at most about
// hostListWidth characters: a list cut short ends in … and the count of hosts,
// spark-[001,003,005,…] (50 hosts). For a place that shows the count beside it, see shortHosts.
func compactHosts(names []string) string {
	s, cut := hostList(names, hostListWidth)
	if cut {
		s += " (" + plural(len(names), "host") + ")"
	}
	return s
}

// shortHosts is compactHosts for a place that shows the count of hosts beside the list (a block's
// head, a table's count column): a list cut short ends in … alone.
func shortHosts(names []string) string {
	s, _ := hostList(names, hostListWidth)
	return s
}

// allHosts is the whole compact list, for where it must be exact (comparing lists, naming the
// hosts a user may choose from).
func allHosts(names []string) string {
	s, _ := hostList(names, 0)
	return s
}

// hostList writes runs of names that differ only in a trailing number of the same width as
// prefix[a-b,c], e.g. spark-[01-20,22]. Other names are listed as they are. Runs come in order of
// prefix, then width (spark-[01-99] before spark-100), then the other names. With a limit above 0
// it stops (with …) before the list passes limit characters, after at least one name or range,
// and reports that it cut the list short.
func hostList(names []string, limit int) (string, bool) {
	type key struct {
		prefix string
		width  int
	}
	groups := map[key][]int{}
	var keys []key
	var plain []string
	for _, n := range names {
		i := len(n)
		for i > 0 && n[i-1] >= '0' && n[i-1] <= '9' {
			i--
		}
		num, err := strconv.Atoi(n[i:])
		if i == len(n) || err != nil || len(n)-i > 9 {
			plain = append(plain, n)
			continue
		}
		k := key{n[:i], len(n) - i}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], num)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].prefix != keys[j].prefix {
			return keys[i].prefix < keys[j].prefix
		}
		return keys[i].width < keys[j].width
	})
	sort.Strings(plain)
	// A part is a bracketed prefix and its ranges, or one name (prefix "", one range, no brackets).
	type part struct {
		prefix   string
		ranges   []string
		brackets bool
	}
	var parts []part
	for _, k := range keys {
		nums := groups[k]
		sort.Ints(nums)
		if len(nums) == 1 {
			parts = append(parts, part{ranges: []string{fmt.Sprintf("%s%0*d", k.prefix, k.width, nums[0])}})
			continue
		}
		var ranges []string
		for i := 0; i < len(nums); {
			j := i
			for j+1 < len(nums) && nums[j+1] <= nums[j]+1 {
				j++
			}
			if j == i {
				ranges = append(ranges, fmt.Sprintf("%0*d", k.width, nums[i]))
			} else {
				ranges = append(ranges, fmt.Sprintf("%0*d-%0*d", k.width, nums[i], k.width, nums[j]))
			}
			i = j + 1
		}
		parts = append(parts, part{prefix: k.prefix, ranges: ranges, brackets: true})
	}
	for _, n := range plain {
		parts = append(parts, part{ranges: []string{n}})
	}
	var b strings.Builder
	fits := func(s string) bool { return limit <= 0 || b.Len() == 0 || b.Len()+len(s)+len(",…]") <= limit }
	for i, p := range parts {
		sep := ""
		if i > 0 {
			sep = ","
		}
		if !p.brackets {
			if !fits(sep + p.ranges[0]) {
				return b.String() + ",…", true
			}
			b.WriteString(sep + p.ranges[0])
			continue
		}
		for j, r := range p.ranges {
			s := "," + r
			if j == 0 {
				s = sep + p.prefix + "[" + r
			}
			if !fits(s) {
				if j == 0 {
					return b.String() + ",…", true
				}
				return b.String() + ",…]", true
			}
			b.WriteString(s)
		}
		b.WriteString("]")
	}
	return b.String(), false
}

// countedHosts names hosts for a block's head: one by name, several as a compact list and a
// count, spark-[01-40] (40 hosts). Escaped for the terminal.
func countedHosts(names []string) string {
	if len(names) == 1 {
		return termsafe.Line(names[0])
	}
	return fmt.Sprintf("%s (%s)", termsafe.Line(shortHosts(names)), plural(len(names), "host"))
}

// plural writes "1 host" and "2 hosts".
func plural(n int, word string) string { return english.Plural(n, word) }
