package provider

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestQuoteAllPassesEachWordAsOneOperandToTheLocalShell(t *testing.T) {
	words := []string{"plain", "", "two words", "it's", "$(touch /tmp/pwned)", "-n", "a\nb", "*", "`id`", `\`}
	out, err := exec.Command("sh", "-c", `for a in `+QuoteAll(words...)+`; do printf '%s\0' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, words) {
		t.Fatalf("the shell saw %q, want %q", got, words)
	}
	if QuoteAll() != "" {
		t.Fatalf("no words: %q", QuoteAll())
	}
}
