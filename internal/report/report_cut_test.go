package report

import (
	"strings"
	"testing"
)

func TestShortenNeverCutsAFigureInTwo(t *testing.T) {
	msg := "load took 0.0423 s, over max_seconds 0.001 (mode no-mmap, 3 runs, median of the three)"
	got := shorten(msg, 60)
	if len([]rune(got)) > 60 || !strings.HasSuffix(got, "…") {
		t.Fatalf("shorten = %q", got)
	}
	body := strings.TrimSuffix(got, "…")
	if !strings.HasPrefix(msg, body) || msg[len(body)] != ' ' && msg[len(body)] != ',' {
		t.Errorf("cut inside a word or figure: %q", got)
	}
	if shorten("short", 60) != "short" {
		t.Error("short text changed")
	}
}
