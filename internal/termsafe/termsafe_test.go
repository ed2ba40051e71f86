package termsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTextEscapesTerminalControlAndKeepsLines(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain text is unchanged", "vm.swappiness = 10", "vm.swappiness = 10"},
		{"ESC sequence that clears the screen is shown escaped", "1\x1b[2J\x1b[H", `1\x1b[2J\x1b[H`},
		{"carriage return cannot overwrite the line", "ok\rFAKE", `ok\rFAKE`},
		{"8-bit CSI (C1) is escaped", "a\u009b31mred", `a\u009b31mred`},
		{"bidi override is escaped", "abc\u202edcb", `abc\u202edcb`},
		{"invalid UTF-8 byte is escaped", "a\xffb", `a\xffb`},
		{"newline and tab kept in text", "line1\n\tline2", "line1\n\tline2"},
		{"OSC title change with BEL", "\x1b]0;owned\x07", `\x1b]0;owned\x07`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"non-ASCII printable kept", "größe µs ✓", "größe µs ✓"},
	}
	for _, c := range cases {
		if got := Text(c.in); got != c.want {
			t.Errorf("%s: Text(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestLineEscapesNewlinesSoAValueCannotStartAPlanLine(t *testing.T) {
	in := "10\n  + kernel \"evil\" {"
	if got, want := Line(in), `10\n  + kernel "evil" {`; got != want {
		t.Fatalf("Line(%q) = %q, want %q", in, got, want)
	}
	if Line("a\tb") != `a\tb` {
		t.Fatalf("tab not escaped on a line: %q", Line("a\tb"))
	}
	if !Safe("plain") || Safe("a\nb") || Safe("\x1b") {
		t.Fatal("Safe disagrees with Line")
	}
}

// FuzzSanitize: whatever a host sends, the result holds no control character except, for Text,
// newline and tab; it is valid UTF-8; and safe input is returned unchanged.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31mred\x1b[0m", "a\r\nb", "\xff\xfe", "\u202e\u2028", "\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, keep := range []bool{true, false} {
			out := sanitize(s, keep)
			if !utf8.ValidString(out) {
				t.Fatalf("sanitize(%q) = %q is not valid UTF-8", s, out)
			}
			if i := firstUnsafe(out, keep); i >= 0 {
				t.Fatalf("sanitize(%q) = %q still unsafe at %d", s, out, i)
			}
			if firstUnsafe(s, keep) < 0 && out != s {
				t.Fatalf("safe input changed: %q -> %q", s, out)
			}
			if !keep && strings.ContainsAny(out, "\n\t\x1b") {
				t.Fatalf("Line(%q) = %q", s, out)
			}
		}
	})
}
