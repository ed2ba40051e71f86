package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

// Side is one end of a comparison: the results of one host, test and mode at one point.
type Side struct {
	// Label says which point: "before gen 1" (measured before the apply that made generation 1)
	// or "gen 3".
	Label      string `json:"label"`
	Generation int    `json:"generation"`
	Kernel     string `json:"kernel"`
	ReadAhead  string `json:"read_ahead_kb"`
	Build      string `json:"build,omitempty"`
	// MedianSeconds is the median of the results' seconds; nil when none timed a load.
	MedianSeconds *float64 `json:"median_seconds"`
	Results       int      `json:"results"`
	Failed        int      `json:"failed"`
	Message       string   `json:"message,omitempty"` // the latest failure's first line
}

// Delta is one host's test and mode at two points, side by side.
type Delta struct {
	Host string `json:"host"`
	Test string `json:"test"`
	Mode string `json:"mode"`
	From Side   `json:"from"`
	To   Side   `json:"to"`
	// ChangePct is (to - from) / from in percent; nil unless both sides have a figure.
	ChangePct *float64 `json:"change_pct"`
}

// Compare pairs each host's results at two points. Against "before": the results measured
// before an apply changed the host (state.TestRun.Before) with the first results after them,
// per test and mode. Against a generation number N: the results of generation N with those of
// the host's latest generation after N.
func Compare(st *state.State, hosts []string, against string) ([]*Delta, error) {
	gen := -1
	if against != "before" {
		n, err := strconv.Atoi(against)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-compare takes \"before\" or a generation number, not %q", against)
		}
		gen = n
		if n > 0 && !anyHasGeneration(st, hosts, n) {
			return nil, fmt.Errorf("-compare %d: no host has generation %d (sparkform history lists them)", n, n)
		}
	}
	var out []*Delta
	for _, name := range hosts {
		h := st.Hosts[name]
		if h == nil {
			continue
		}
		if gen < 0 {
			out = append(out, compareBefore(name, h.Tests)...)
		} else {
			out = append(out, compareGenerations(name, h.Tests, gen)...)
		}
	}
	return out, nil
}

// anyHasGeneration reports whether one of the hosts recorded generation n.
func anyHasGeneration(st *state.State, hosts []string, n int) bool {
	for _, name := range hosts {
		if h := st.Hosts[name]; h != nil {
			for _, g := range h.Generations {
				if g.N == n {
					return true
				}
			}
		}
	}
	return false
}

type testMode struct{ test, mode string }

func compareBefore(host string, runs []*state.TestRun) []*Delta {
	var out []*Delta
	for i, b := range runs {
		if b == nil || !b.Before {
			continue
		}
		// the latest "before" of its test and mode counts: an earlier one was superseded
		later := false
		for _, o := range runs[i+1:] {
			if o != nil && o.Before && o.Test == b.Test && o.Mode == b.Mode {
				later = true
				break
			}
		}
		if later {
			continue
		}
		for _, a := range runs[i+1:] {
			if a != nil && !a.Before && a.Test == b.Test && a.Mode == b.Mode {
				to := side([]*state.TestRun{a}, fmt.Sprintf("gen %d", a.Generation))
				from := side([]*state.TestRun{b}, fmt.Sprintf("before gen %d", a.Generation))
				out = append(out, newDelta(host, b.Test, b.Mode, from, to))
				break
			}
		}
	}
	return out
}

func compareGenerations(host string, runs []*state.TestRun, gen int) []*Delta {
	from := map[testMode][]*state.TestRun{}
	latest := map[testMode]int{}
	var order []testMode
	for _, r := range runs {
		if r == nil || r.Before {
			continue
		}
		k := testMode{r.Test, r.Mode}
		if r.Generation == gen {
			if from[k] == nil {
				order = append(order, k)
			}
			from[k] = append(from[k], r)
		}
		if r.Generation > gen && r.Generation > latest[k] {
			latest[k] = r.Generation
		}
	}
	var out []*Delta
	for _, k := range order {
		if latest[k] == 0 {
			continue
		}
		var to []*state.TestRun
		for _, r := range runs {
			if r != nil && !r.Before && r.Test == k.test && r.Mode == k.mode && r.Generation == latest[k] {
				to = append(to, r)
			}
		}
		out = append(out, newDelta(host, k.test, k.mode, side(from[k], fmt.Sprintf("gen %d", gen)), side(to, fmt.Sprintf("gen %d", latest[k]))))
	}
	return out
}

// side summarises results of one point; the context is the latest result's.
func side(runs []*state.TestRun, label string) Side {
	last := runs[len(runs)-1]
	s := Side{Label: label, Generation: last.Generation, Kernel: last.Kernel, ReadAhead: readAheadOf(last), Build: last.Build, Results: len(runs)}
	var secs []float64
	for _, r := range runs {
		if r.Seconds > 0 {
			secs = append(secs, r.Seconds)
		}
		if !r.Passed {
			s.Failed++
			s.Message = firstLine(r.Message)
		}
	}
	if m, ok := resources.Median(secs); ok {
		s.MedianSeconds = &m
	}
	return s
}

func newDelta(host, test, mode string, from, to Side) *Delta {
	d := &Delta{Host: host, Test: test, Mode: mode, From: from, To: to}
	if from.MedianSeconds != nil && to.MedianSeconds != nil && *from.MedianSeconds > 0 {
		p := (*to.MedianSeconds / *from.MedianSeconds - 1) * 100
		d.ChangePct = &p
	}
	return d
}

// NoComparison is what the comparison table says when nothing pairs up.
const NoComparison = "Nothing to compare: no host has results at both points (results from before an apply are recorded when it changes a host that had none, if the test's program was there before the apply)."

func (s Side) secondsText() string {
	if s.MedianSeconds == nil {
		if s.Failed > 0 {
			return "FAILED"
		}
		return "-"
	}
	t := strconv.FormatFloat(*s.MedianSeconds, 'f', 2, 64)
	if s.Failed > 0 {
		t += " (failed)"
	}
	return t
}

func (s Side) context() string {
	ra := s.ReadAhead
	if ra == "" {
		ra = "unmanaged"
	}
	return dash(s.Kernel) + " ra=" + ra
}

func (d *Delta) changeText() string {
	if d.ChangePct == nil {
		return "-"
	}
	return fmt.Sprintf("%+.0f%%", *d.ChangePct)
}

// Compare renderers by format name (no SVG: a chart of pairs would be a table drawn badly).
var CompareFormats = map[string]func(io.Writer, []*Delta) error{
	"table": WriteCompareTable,
	"csv":   WriteCompareCSV,
	"json":  WriteCompareJSON,
}

// WriteCompareTable puts each host's two points side by side.
func WriteCompareTable(w io.Writer, ds []*Delta) error {
	var cells [][]string
	for _, d := range ds {
		cells = append(cells, []string{d.Host, testName(d.Test), d.Mode, d.From.Label, d.From.context(), d.From.secondsText(),
			d.To.Label, d.To.context(), d.To.secondsText(), d.changeText()})
	}
	return writeTable(w, NoComparison, "HOST\tTEST\tMODE\tFROM\tCONTEXT\tSECONDS\tTO\tCONTEXT\tSECONDS\tCHANGE", cells)
}

func WriteCompareCSV(w io.Writer, ds []*Delta) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"host", "test", "mode", "from", "from_kernel", "from_read_ahead_kb", "from_seconds", "from_failed",
		"to", "to_kernel", "to_read_ahead_kb", "to_seconds", "to_failed", "change_pct"})
	num := func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f, 'f', 3, 64)
	}
	for _, d := range ds {
		csvRecord(cw, []string{d.Host, d.Test, d.Mode, d.From.Label, d.From.Kernel, d.From.ReadAhead, num(d.From.MedianSeconds), strconv.Itoa(d.From.Failed),
			d.To.Label, d.To.Kernel, d.To.ReadAhead, num(d.To.MedianSeconds), strconv.Itoa(d.To.Failed), num(d.ChangePct)})
	}
	cw.Flush()
	return cw.Error()
}

func WriteCompareJSON(w io.Writer, ds []*Delta) error { return writeJSONList(w, ds) }
