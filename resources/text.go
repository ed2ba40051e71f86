package resources

import "strings"

// Helpers for host output shown in messages and plan fields.

// firstLine is s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// lastLine is the last non-blank line of s, trimmed: Python errors and most tools end with the
// most telling line.
func lastLine(s string) string {
	l := lastLines(s, 1)
	if len(l) == 0 {
		return ""
	}
	return strings.TrimSpace(l[0])
}

// lastLines are the last n non-blank lines of s (the tail of a failed command's output).
func lastLines(s string, n int) []string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return keep
}

// firstNonEmpty is the first of s that is not "".
func firstNonEmpty(s ...string) string {
	for _, e := range s {
		if e != "" {
			return e
		}
	}
	return ""
}
