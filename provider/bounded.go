package provider

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// DefaultMaxOutput bounds what one command may print on each of stdout and stderr, and the size
// of a file ReadFile returns, unless the host sets max_output. A host's output is untrusted: a
// 256 MiB file in /etc/sysctl.d must cost the controller a clear error, not gigabytes.
const DefaultMaxOutput = 16 << 20

// maxStreamLine bounds one line delivered to RunStream's onLine; the rest of the line is counted
// and cut, so a build printing megabytes without a newline costs bounded memory and linear time.
const maxStreamLine = 64 << 10

// OutputTooLargeError is returned when a command printed more than the host's bound (or a file
// was larger than it): the command was killed and its output is not used.
type OutputTooLargeError struct {
	Host   string // "spark-01 (127.0.0.1:22)"
	What   string // "stdout", "stderr", or "file /etc/x"
	Limit  int64
	Result Result // the output up to the bound, for callers that name what printed it
}

func (e *OutputTooLargeError) Error() string {
	return fmt.Sprintf("%s: %s is larger than %s (max_output; output from hosts is bounded)", e.Host, e.What, FormatSize(e.Limit))
}

// FormatSize writes a byte count the way max_output is written ("16MiB", "1536KiB", "100B").
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// ParseSize reads a size written with a binary unit: "16MiB", "512KiB", "1GiB" or "65536B".
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 0 || num == "" || num[0] == '+' || n > (1<<40)>>u.shift {
			break
		}
		return n << u.shift, nil
	}
	return 0, fmt.Errorf("%q is not a size such as \"16MiB\", \"512KiB\" or \"1GiB\"", s)
}

// boundedBuffer keeps at most limit bytes; the first write past it signals over (once) and
// everything after is discarded, so the copier never blocks while the session is being killed.
type boundedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	limit    int
	exceeded bool
	name     string
	over     chan<- string
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exceeded {
		return len(p), nil
	}
	if room := b.limit - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:room])
		b.exceeded = true
		select {
		case b.over <- b.name:
		default:
		}
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *boundedBuffer) result() ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes(), b.exceeded
}

// tailBuffer keeps the last limit bytes written (a build log's end is what explains it), in
// amortised linear time: the kept part is moved down only when the buffer reaches twice the limit.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte
	limit int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > t.limit {
		p = p[len(p)-t.limit:]
	}
	if len(t.buf)+len(p) > 2*t.limit {
		keep := t.limit - len(p)
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-keep:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > t.limit {
		return t.buf[len(t.buf)-t.limit:]
	}
	return t.buf
}

// lineWriters serialises line delivery across stdout and stderr.
type lineWriters struct {
	mu     sync.Mutex
	onLine func(stream, line string)
	parts  []*lineWriter
}

// lineWriter splits a stream into lines in linear time: each byte is looked at once (only the
// new chunk is searched for a newline) and a line longer than maxStreamLine keeps its start and
// says how much was cut.
type lineWriter struct {
	lw      *lineWriters
	stream  string
	partial []byte
	cut     int
	joined  bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.lw.mu.Lock()
	defer w.lw.mu.Unlock()
	if !w.joined {
		w.joined = true
		w.lw.parts = append(w.lw.parts, w)
	}
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.add(p)
			return n, nil
		}
		w.add(p[:i])
		w.emit()
		p = p[i+1:]
	}
}

func (w *lineWriter) add(b []byte) {
	take := min(len(b), maxStreamLine-len(w.partial))
	w.partial = append(w.partial, b[:take]...)
	w.cut += len(b) - take
}

func (w *lineWriter) emit() {
	line := string(w.partial)
	if w.cut > 0 {
		line += fmt.Sprintf(" [... %d bytes of this line cut]", w.cut)
	}
	w.lw.onLine(w.stream, line)
	w.partial, w.cut = w.partial[:0], 0
}

// flush delivers the last line of each stream when it did not end in a newline.
func (lw *lineWriters) flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	for _, w := range lw.parts {
		if len(w.partial) > 0 || w.cut > 0 {
			w.emit()
		}
	}
}
