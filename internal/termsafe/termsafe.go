// Package termsafe makes strings that came from hosts, files or packages safe to print on a
// terminal: control characters are shown escaped, so no host can move the cursor, recolor,
// retitle or rewrite what the operator reads (a plan before its "yes" prompt, for one).
package termsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s safe for display in text output. Every control character (C0 and C1, DEL,
// carriage return, ESC), bidirectional-override and line/paragraph-separator character, and every
// byte that is not valid UTF-8 is shown escaped the way Go writes it in a string literal
// (`\x1b`, `\u202e`, `\xff`); newlines and tabs are kept, so multi-line error text keeps its shape.
// Every view calls Text (or Line) on each string a host, state file, plan file or package supplied.
func Text(s string) string { return sanitize(s, true) }

// Line is Text for a value printed on one line (a table cell, a field of a plan): newlines and
// tabs are escaped as well (`\n`, `\t`), so a host value can never start a line of its own that
// would look like part of the plan.
func Line(s string) string { return sanitize(s, false) }

// Safe reports whether s would be printed unchanged by Line.
func Safe(s string) bool { return firstUnsafe(s, false) < 0 }

func sanitize(s string, keepLines bool) string {
	i := firstUnsafe(s, keepLines)
	if i < 0 {
		return s // the common case: nothing to escape, no allocation
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unsafeRune(r, keepLines):
			b.WriteString(s[i : i+size])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// firstUnsafe is the byte offset of the first character sanitize would change, or -1.
func firstUnsafe(s string, keepLines bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f { // printable ASCII: the fast path
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || unsafeRune(r, keepLines) {
			return i
		}
		i += size
	}
	return -1
}

func unsafeRune(r rune, keepLines bool) bool {
	switch {
	case keepLines && (r == '\n' || r == '\t'):
		return false
	case unicode.IsControl(r): // C0, DEL, C1 (U+0080..U+009F, which includes the 8-bit CSI)
		return true
	case unicode.Is(unicode.Bidi_Control, r), r == '\u2028', r == '\u2029':
		return true
	}
	return false
}

// JSON returns the JSON document b (as encoding/json writes it: valid UTF-8) with every
// character Text would escape and encoding/json leaves raw — C1 controls such as the 8-bit CSI,
// DEL, bidirectional controls — written as a \uXXXX escape. Outside strings a JSON document holds
// only ASCII, so only string contents change, and the document decodes to the same values.
func JSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] >= 0x20 && b[i] < 0x7f {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError && r >= 0x7f && unsafeRune(r, false) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
