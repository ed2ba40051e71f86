// Package suggest finds the name a user probably meant ("did you mean …?") for unknown
// commands, flags, hosts and resource addresses.
package suggest

import "github.com/agext/levenshtein"

// Closest returns the candidate nearest to given by edit distance when it is near enough to be
// a plausible typo (fewer than 3 edits, as Terraform suggests, and fewer than the name has
// characters), else "".
func Closest(given string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := levenshtein.Distance(given, c, nil)
		if d < len(given) && d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Hint is Closest phrased for an error message: " Did you mean X?" or "".
func Hint(given string, candidates []string) string {
	if c := Closest(given, candidates); c != "" {
		return " Did you mean " + c + "?"
	}
	return ""
}
