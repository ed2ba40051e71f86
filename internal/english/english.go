// Package english writes counts the way people read them: "1 host", "3 hosts".
package english

import (
	"fmt"
	"strings"
)

// Plural writes n and word, with the plural -s (or -es after s and sh) unless n is 1.
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "s") || strings.HasSuffix(word, "sh") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
