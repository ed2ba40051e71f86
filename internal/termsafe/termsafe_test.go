package termsafe

import (
	"bytes"
	"encoding/json"
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
		// JSON: the document decodes to the same value and holds nothing unsafe raw.
		raw, _ := json.Marshal(s)
		esc := JSON(raw)
		var want, back string
		json.Unmarshal(raw, &want)
		if err := json.Unmarshal(esc, &back); err != nil || back != want {
			t.Fatalf("JSON(%s) = %s decodes to %q (%v), want %q", raw, esc, back, err, want)
		}
		if i := firstUnsafe(string(esc), false); i >= 0 {
			t.Fatalf("JSON(%s) = %s still unsafe at %d", raw, esc, i)
		}
	})
}

// JSON output is JSON-escaped, but encoding/json writes C1 controls (the 8-bit CSI U+009B),
// DEL and bidirectional overrides as they are: a host string in a -json stream read on a
// terminal could still drive it. JSON escapes them as \uXXXX; the document decodes the same.
func TestJSONEscapesWhatEncodingJSONLeavesRaw(t *testing.T) {
	host := "vm.x=\u009b2J\u202eevil\x7f \u00e9 ok"
	raw, err := json.Marshal(map[string]string{"value": host})
	if err != nil {
		t.Fatal(err)
	}
	got := JSON(raw)
	for _, bad := range []string{"\u009b", "\u202e", "\x7f"} {
		if bytes.Contains(got, []byte(bad)) {
			t.Errorf("JSON output holds %q raw: %s", bad, got)
		}
	}
	if !bytes.Contains(got, []byte(`\u009b`)) || !bytes.Contains(got, []byte(`\u202e`)) || !bytes.Contains(got, []byte("\u00e9")) {
		t.Errorf("JSON output: %s", got)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["value"] != host {
		t.Errorf("escaped JSON does not decode to the same value: %v %q", err, back["value"])
	}
	if safe := []byte(`{"a":"plain é"}`); !bytes.Equal(JSON(safe), safe) {
		t.Errorf("JSON changed a document with nothing to escape")
	}
}
