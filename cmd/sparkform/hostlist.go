package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// compactHosts writes host names the way fleet tools do (Slurm, pdsh): runs of names that differ
// only in a trailing number of the same width become prefix[a-b,c], e.g. spark-[01-20,22].
// Other names are listed as they are. Runs come in order of prefix, then width (spark-[01-99]
// before spark-100), then the other names.
func compactHosts(names []string) string {
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
	var parts []string
	for _, k := range keys {
		nums := groups[k]
		sort.Ints(nums)
		if len(nums) == 1 {
			parts = append(parts, fmt.Sprintf("%s%0*d", k.prefix, k.width, nums[0]))
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
		parts = append(parts, k.prefix+"["+strings.Join(ranges, ",")+"]")
	}
	parts = append(parts, plain...)
	return strings.Join(parts, ",")
}

// countedHosts names hosts for a block's head: one by name, several as a compact list and a
// count, spark-[01-40] (40 hosts). Escaped for the terminal.
func countedHosts(names []string) string {
	if len(names) == 1 {
		return termsafe.Line(names[0])
	}
	return fmt.Sprintf("%s (%s)", termsafe.Line(compactHosts(names)), plural(len(names), "host"))
}

// plural writes "1 host" and "2 hosts".
func plural(n int, word string) string { return english.Plural(n, word) }
