// Package report turns the smoke-test results recorded in state into the fleet's view (one
// line per configuration across hosts), per-host rows, or two points side by side (Compare),
// rendered as a table, CSV, JSON or an SVG chart.
package report

import (
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

// NoResults is what the table says when the state holds no smoke-test result yet.
const NoResults = "No smoke-test results yet: they are recorded by apply (after changes) and by `sparkform test`."

// Formats are the renderers by name: table, csv, json and svg.
var Formats = map[string]func(io.Writer, []*Row) error{
	"table": WriteTable,
	"csv":   WriteCSV,
	"json":  WriteJSON,
	"svg":   WriteSVG,
}

// Row is one line of the report: every TestRun of one host with the same generation,
// kernel, read-ahead, mode and test.
type Row struct {
	Host       string `json:"host"`
	Generation int    `json:"generation"` // 0 when the result named none
	// Before: results measured before an apply changed the host (Generation is the one it was at).
	Before bool   `json:"before,omitempty"`
	Kernel string `json:"kernel"`
	// ReadAhead is the read-ahead in KB the results ran with ("8192"); with several devices of
	// different values "nvme0n1=8192,nvme1n1=4096"; "" when none was recorded.
	ReadAhead string `json:"read_ahead_kb"`
	Mode      string `json:"mode"`
	Test      string `json:"test"`
	// MedianSeconds is the median of the results' Seconds (each already the median of its
	// repeats), over the results that timed a load; nil when none did.
	MedianSeconds *float64  `json:"median_seconds"`
	Runs          int       `json:"runs"`    // timed repeats, all results together
	Results       int       `json:"results"` // TestRuns aggregated
	Passed        int       `json:"passed"`
	Failed        int       `json:"failed"`
	Result        string    `json:"result"`            // "ok" or "failed" (any result failed)
	Message       string    `json:"message,omitempty"` // first line of the latest failure
	FirstTime     time.Time `json:"first_time"`
	LastTime      time.Time `json:"last_time"`

	seconds []float64 // figures the median is taken over
}

type rowKey struct {
	gen                          int
	before                       bool
	kernel, readAhead, mode, tst string
}

// Rows aggregates the hosts' results, sorted by host, then time of the first result.
func Rows(st *state.State, hosts []string) []*Row {
	var rows []*Row
	for _, name := range hosts {
		h := st.Hosts[name]
		if h == nil {
			continue
		}
		byKey := map[rowKey]*Row{}
		var hostRows []*Row
		for _, tr := range h.Tests {
			if tr == nil {
				continue
			}
			k := rowKey{tr.Generation, tr.Before, tr.Kernel, readAheadOf(tr), tr.Mode, tr.Test}
			r := byKey[k]
			if r == nil {
				r = &Row{Host: name, Generation: k.gen, Before: k.before, Kernel: k.kernel, ReadAhead: k.readAhead, Mode: k.mode,
					Test: k.tst, FirstTime: tr.Time.UTC(), LastTime: tr.Time.UTC()}
				byKey[k] = r
				hostRows = append(hostRows, r)
			}
			r.add(tr)
		}
		for _, r := range hostRows {
			r.finish()
		}
		sort.SliceStable(hostRows, func(i, j int) bool { return hostRows[i].less(hostRows[j]) })
		rows = append(rows, hostRows...)
	}
	return rows
}

func (r *Row) add(tr *state.TestRun) {
	t := tr.Time.UTC()
	if t.Before(r.FirstTime) {
		r.FirstTime = t
	}
	if !t.Before(r.LastTime) {
		r.LastTime = t
		if !tr.Passed {
			r.Message = firstLine(tr.Message)
		}
	}
	r.Results++
	r.Runs += len(tr.Runs)
	if tr.Passed {
		r.Passed++
	} else {
		r.Failed++
		if r.Message == "" {
			r.Message = firstLine(tr.Message)
		}
	}
	// Seconds is 0 when no repeat became ready: a missing figure, not a fast load.
	if tr.Seconds > 0 {
		r.seconds = append(r.seconds, tr.Seconds)
	}
}

func (r *Row) finish() {
	if m, ok := resources.Median(r.seconds); ok {
		r.MedianSeconds = &m
	}
	r.Result = "ok"
	if r.Failed > 0 {
		r.Result = "failed"
	}
}

func (r *Row) less(o *Row) bool {
	if !r.FirstTime.Equal(o.FirstTime) {
		return r.FirstTime.Before(o.FirstTime)
	}
	if r.Generation != o.Generation {
		return r.Generation < o.Generation
	}
	a := []string{r.Test, r.Kernel, r.ReadAhead, r.Mode}
	b := []string{o.Test, o.Kernel, o.ReadAhead, o.Mode}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// readAheadOf is the read-ahead a result ran with (its Setup): one value when the devices
// agree, else device=kb pairs in device order; "" when none was recorded.
func readAheadOf(tr *state.TestRun) string {
	if tr.Setup == nil {
		return legacyReadAhead(tr.Context)
	}
	devs := slices.Sorted(maps.Keys(tr.Setup.ReadAheadKB))
	if len(devs) == 0 {
		return ""
	}
	parts := make([]string, len(devs))
	same := true
	for i, d := range devs {
		kb := tr.Setup.ReadAheadKB[d]
		same = same && kb == tr.Setup.ReadAheadKB[devs[0]]
		parts[i] = d + "=" + strconv.FormatInt(kb, 10)
	}
	if same {
		return strconv.FormatInt(tr.Setup.ReadAheadKB[devs[0]], 10)
	}
	return strings.Join(parts, ",")
}

// legacyReadAhead reads the read-ahead of a result recorded before results carried a Setup,
// from its one-line summaries: the kb= of every "readahead.*" entry. One value when the
// devices agree, else device=kb pairs in address order.
func legacyReadAhead(ctx map[string]string) string {
	type dev struct{ name, kb string }
	var devs []dev
	for _, addr := range slices.Sorted(maps.Keys(ctx)) {
		if !strings.HasPrefix(addr, "readahead.") {
			continue
		}
		d := dev{name: strings.TrimPrefix(addr, "readahead.")}
		for _, f := range strings.Fields(ctx[addr]) {
			if v, ok := strings.CutPrefix(f, "kb="); ok {
				d.kb = v
			} else if v, ok := strings.CutPrefix(f, "device="); ok && v != "" {
				d.name = v
			}
		}
		if d.kb != "" {
			devs = append(devs, d)
		}
	}
	if len(devs) == 0 {
		return ""
	}
	same := true
	for _, d := range devs[1:] {
		same = same && d.kb == devs[0].kb
	}
	if same {
		return devs[0].kb
	}
	parts := make([]string, len(devs))
	for i, d := range devs {
		parts[i] = d.name + "=" + d.kb
	}
	return strings.Join(parts, ",")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// shorten cuts s to at most n runes, marking the cut with "…".
// shorten cuts s to n characters at a word boundary, ending with "…", so a figure is never
// cut in the middle ("load took 0.0…" read as a time).
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := n - 1
	for i := cut; i > n/2; i-- {
		if r[i] == ' ' {
			cut = i
			break
		}
	}
	return strings.TrimRight(string(r[:cut]), " ,;:") + "…"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (r *Row) genText() string {
	if r.Before {
		return "before"
	}
	if r.Generation == 0 {
		return "-"
	}
	return strconv.Itoa(r.Generation)
}

func (r *Row) secondsText() string {
	if r.MedianSeconds == nil {
		return ""
	}
	return strconv.FormatFloat(*r.MedianSeconds, 'f', 2, 64)
}

// testName is a test's address (TYPE.NAME) without its type, for the table: "gpt-oss".
func testName(addr string) string {
	if _, n, ok := strings.Cut(addr, "."); ok && n != "" {
		return n
	}
	return addr
}
