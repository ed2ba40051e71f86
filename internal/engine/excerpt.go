package engine

// Bounding host-produced text where it is shown and stored.

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sparkform/sparkform/internal/english"
)

// emitter serialises event delivery so a renderer never sees two events at once, and bounds the
// host text events carry: a long Message is shown as its excerpt, the whole in Detail (for the
// run log only).
type emitter struct {
	mu     sync.Mutex
	f      func(Event)
	runLog func(host string) string
	logged map[string][32]byte // host → a hash of the last Detail delivered (a step's error ends its host too; the text itself is not kept)
}

func newEmitter(opts Options) *emitter {
	return &emitter{f: opts.Events, runLog: opts.RunLog, logged: map[string][32]byte{}}
}

func (e *emitter) emit(ev Event) {
	if e == nil || e.f == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if cut := e.excerpt(ev.Host, ev.Message); cut != ev.Message {
		ev.Detail, ev.Message = ev.Message, cut
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.Detail != "" {
		sum := sha256.Sum256([]byte(ev.Detail))
		if e.logged[ev.Host] == sum {
			ev.Detail = "" // already in the log: the excerpt stands
		} else {
			e.logged[ev.Host] = sum
		}
	}
	e.f(ev)
}

// excerpt is text from host bounded for where it is shown and stored: its excerpt, naming the
// host's run log.
func (e *emitter) excerpt(host, text string) string {
	if withinBounds(text) {
		return text
	}
	where := ""
	if e != nil && e.runLog != nil && host != "" {
		where = e.runLog(host)
	}
	return excerpt(text, where)
}

// A message quoting a host's output (an error with a tool's stderr, a smoke test's output) is
// shown and stored as an excerpt: its first line (the headline) and its last lines. The whole
// text, itself bounded by the host's max_output, goes to the host's run log.
const (
	excerptLines    = 20      // last lines kept
	excerptBytes    = 4 << 10 // bytes kept in all
	excerptHeadline = 512     // bytes of the first line kept
)

// withinBounds reports whether text may be shown and stored as it is: an excerpt is (so one
// is never cut again), with room for the line saying what was left out.
func withinBounds(text string) bool {
	return len(text) <= excerptBytes+1024 && strings.Count(text, "\n") <= excerptLines+2
}

// excerpt is text bounded to its first line and its last excerptLines lines within about
// excerptBytes, with a line saying how much was left out and where the full text is (where, e.g.
// the run log's path; "" when it is not kept). Text within the bounds is returned unchanged.
func excerpt(text, where string) string {
	if withinBounds(text) {
		return text
	}
	lines := strings.Count(text, "\n") + 1
	head, rest, _ := strings.Cut(text, "\n")
	head = cutTo(head, excerptHeadline, false)
	// The tail: the last excerptLines lines of the rest, as many as fit the byte budget (the
	// last line alone keeps its end when it is longer).
	budget := excerptBytes - len(head)
	tailLines := strings.Split(rest, "\n")
	tailLines = tailLines[max(0, len(tailLines)-excerptLines):]
	var kept []string
	size := 0
	for i := len(tailLines) - 1; i >= 0; i-- {
		l := tailLines[i]
		if size+len(l)+1 > budget {
			if len(kept) == 0 {
				kept = append(kept, cutTo(l, budget, true))
			}
			break
		}
		kept = append(kept, l)
		size += len(l) + 1
	}
	tail := make([]string, 0, len(kept))
	for i := len(kept) - 1; i >= 0; i-- {
		tail = append(tail, kept[i])
	}
	tailText := strings.Join(tail, "\n")
	left := len(text) - len(head) - len(tailText)
	leftLines := lines - 1 - len(tail)
	full := "the full text is in the run log " + where
	if where == "" {
		full = "this command keeps no run log"
	}
	amount := fmt.Sprintf("%d bytes", left)
	if leftLines > 0 {
		amount = fmt.Sprintf("%s (%d bytes)", english.Plural(leftLines, "line"), left)
	}
	return fmt.Sprintf("%s\n[... %s of host output left out; %s]\n%s", head, amount, full, tailText)
}

// cutTo is s bounded to n bytes on a character boundary, keeping its end (fromEnd) or its start,
// marked with "…" where it was cut.
func cutTo(s string, n int, fromEnd bool) string {
	if len(s) <= n {
		return s
	}
	if fromEnd {
		i := len(s) - n
		for i < len(s) && !utf8.RuneStart(s[i]) {
			i++
		}
		return "…" + s[i:]
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// fullIfCut is full when it was cut to excerpt, for an event's Detail.
func fullIfCut(full, excerpt string) string {
	if full == excerpt {
		return ""
	}
	return full
}
