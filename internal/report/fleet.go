package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

// Config is one configuration a test ran in: what the forum's table has a row for.
type Config struct {
	Test      string `json:"test"`
	Server    string `json:"server,omitempty"` // "llama.cpp", "vllm"; "" for results recorded before servers were
	Mode      string `json:"mode"`
	Build     string `json:"build,omitempty"` // the server's version, else the builds the host had applied
	Kernel    string `json:"kernel"`
	ReadAhead string `json:"read_ahead_kb"` // as in Row; "" when not managed
}

// HostValue is one host's figure in a configuration: the median of its results there.
type HostValue struct {
	Host string `json:"host"`
	// Seconds is nil when none of its results there timed a load.
	Seconds *float64 `json:"seconds"`
	Failed  bool     `json:"failed"`           // its latest result there failed
	Reason  string   `json:"reason,omitempty"` // that failure's first line
	last    time.Time
	secs    []float64
}

// Summary is one configuration across the fleet: median, min and max of the hosts' figures.
type Summary struct {
	Config
	Hosts       int      `json:"hosts"`
	FailedHosts int      `json:"failed_hosts"`
	Median      *float64 `json:"median_seconds"`
	Min         *float64 `json:"min_seconds"`
	Max         *float64 `json:"max_seconds"`
	// Limit is the test's max_seconds for the mode (the latest recorded; nil: none).
	Limit  *float64     `json:"limit_seconds"`
	Reason string       `json:"reason,omitempty"` // the latest failure's first line
	Values []*HostValue `json:"values"`
	first  time.Time
	last   time.Time
}

// Fleet summarises the hosts' results by configuration (test, server and mode, build, kernel,
// read-ahead), in order of test, mode, then when the configuration was first seen.
func Fleet(st *state.State, hosts []string) []*Summary {
	byCfg := map[Config]*Summary{}
	var out []*Summary
	for _, name := range hosts {
		h := st.Hosts[name]
		if h == nil {
			continue
		}
		vals := map[Config]*HostValue{}
		for _, tr := range h.Tests {
			if tr == nil {
				continue
			}
			c := configOf(tr)
			s := byCfg[c]
			if s == nil {
				s = &Summary{Config: c, first: tr.Time}
				byCfg[c] = s
				out = append(out, s)
			}
			if tr.Time.Before(s.first) {
				s.first = tr.Time
			}
			if tr.MaxSeconds > 0 && !tr.Time.Before(s.last) {
				l := tr.MaxSeconds
				s.Limit = &l
				s.last = tr.Time
			}
			v := vals[c]
			if v == nil {
				v = &HostValue{Host: name}
				vals[c] = v
				s.Values = append(s.Values, v)
			}
			if tr.Seconds > 0 {
				v.secs = append(v.secs, tr.Seconds)
			}
			if !tr.Time.Before(v.last) {
				v.last = tr.Time
				v.Failed = !tr.Passed
				v.Reason = ""
				if !tr.Passed {
					v.Reason = firstLine(tr.Message)
				}
			}
		}
	}
	for _, s := range out {
		var figures []float64
		var lastFail time.Time
		for _, v := range s.Values {
			if m, ok := resources.Median(v.secs); ok {
				v.Seconds = &m
				figures = append(figures, m)
			}
			if v.Failed {
				s.FailedHosts++
				if v.last.After(lastFail) || s.Reason == "" {
					s.Reason, lastFail = v.Reason, v.last
				}
			}
		}
		s.Hosts = len(s.Values)
		if m, ok := resources.Median(figures); ok {
			lo, hi := figures[0], figures[0]
			for _, f := range figures {
				lo, hi = min(lo, f), max(hi, f)
			}
			s.Median, s.Min, s.Max = &m, &lo, &hi
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Test != b.Test {
			return a.Test < b.Test
		}
		if a.Server+a.Mode != b.Server+b.Mode {
			return a.Server+" "+a.Mode < b.Server+" "+b.Mode
		}
		return a.first.Before(b.first)
	})
	return out
}

// configOf is the configuration a result ran in.
func configOf(tr *state.TestRun) Config {
	c := Config{Test: tr.Test, Server: tr.Server, Mode: tr.Mode, Build: tr.Build, Kernel: tr.Kernel, ReadAhead: readAheadOf(tr)}
	if c.Build == "" && tr.Setup != nil && len(tr.Setup.Builds) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(tr.Setup.Builds)) {
			parts = append(parts, tr.Setup.Builds[k])
		}
		c.Build = strings.Join(parts, ",")
	}
	return c
}

// Label is the configuration on one line: "gpt-oss · llama.cpp no-mmap · 6800 (19a5a3ed) ·
// 6.17.0-1014-nvidia · read-ahead 8192 KB".
func (c Config) Label() string {
	mode := c.Mode
	if c.Server != "" {
		mode = c.Server + " " + c.Mode
	}
	ra := "read-ahead unmanaged"
	if c.ReadAhead != "" {
		ra = "read-ahead " + c.ReadAhead + " KB"
	}
	parts := []string{testName(c.Test), mode}
	if c.Build != "" {
		parts = append(parts, c.Build)
	}
	return strings.Join(append(parts, dash(c.Kernel), ra), " · ")
}

func secs(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', 2, 64)
}

// FleetFormats are the renderers of the fleet summary by format name.
var FleetFormats = map[string]func(io.Writer, []*Summary) error{
	"table": WriteFleetTable,
	"csv":   WriteFleetCSV,
	"json":  WriteFleetJSON,
	"svg":   WriteFleetSVG,
}

// WriteFleetTable writes one line per configuration.
func WriteFleetTable(w io.Writer, ss []*Summary) error {
	var cells [][]string
	for _, s := range ss {
		failed := "0"
		if s.FailedHosts > 0 {
			failed = strconv.Itoa(s.FailedHosts)
			if s.Reason != "" {
				failed += ": " + shorten(s.Reason, 60)
			}
		}
		cells = append(cells, []string{testName(s.Test), dash(s.Server), dash(s.Mode), dash(s.Build), dash(s.Kernel), dash(s.ReadAhead),
			strconv.Itoa(s.Hosts), secs(s.Median), secs(s.Min), secs(s.Max), failed})
	}
	return writeTable(w, NoResults, "TEST\tSERVER\tMODE\tBUILD\tKERNEL\tREAD_AHEAD\tHOSTS\tMEDIAN_S\tMIN_S\tMAX_S\tFAILED", cells)
}

func WriteFleetCSV(w io.Writer, ss []*Summary) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"test", "server", "mode", "build", "kernel", "read_ahead_kb", "hosts", "median_seconds", "min_seconds", "max_seconds",
		"failed_hosts", "limit_seconds", "reason"})
	num := func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f, 'f', 3, 64)
	}
	for _, s := range ss {
		csvRecord(cw, []string{s.Test, s.Server, s.Mode, s.Build, s.Kernel, s.ReadAhead, strconv.Itoa(s.Hosts), num(s.Median), num(s.Min), num(s.Max),
			strconv.Itoa(s.FailedHosts), num(s.Limit), s.Reason})
	}
	cw.Flush()
	return cw.Error()
}

func WriteFleetJSON(w io.Writer, ss []*Summary) error { return writeJSONList(w, ss) }

// ChangeSummary is the fleet's view of a comparison: per test and mode and pair of contexts,
// how much the hosts' figures changed.
type ChangeSummary struct {
	Test  string `json:"test"`
	Mode  string `json:"mode"`
	From  string `json:"from"` // "6.11.0-1016-nvidia ra=unmanaged"
	To    string `json:"to"`
	Hosts int    `json:"hosts"`
	// Median, Min and Max of the hosts' changes in percent (nil when no host had both figures).
	Median     *float64 `json:"median_change_pct"`
	Min        *float64 `json:"min_change_pct"`
	Max        *float64 `json:"max_change_pct"`
	FromMedian *float64 `json:"from_median_seconds"` // median of the hosts' from-figures
	ToMedian   *float64 `json:"to_median_seconds"`
}

// SummarizeChanges groups deltas by test, mode and the pair of contexts.
func SummarizeChanges(ds []*Delta) []*ChangeSummary {
	type key struct{ test, mode, from, to string }
	by := map[key]*ChangeSummary{}
	pcts := map[key][]float64{}
	froms := map[key][]float64{}
	tos := map[key][]float64{}
	var out []*ChangeSummary
	for _, d := range ds {
		k := key{d.Test, d.Mode, d.From.context(), d.To.context()}
		cs := by[k]
		if cs == nil {
			cs = &ChangeSummary{Test: d.Test, Mode: d.Mode, From: k.from, To: k.to}
			by[k] = cs
			out = append(out, cs)
		}
		cs.Hosts++
		if d.ChangePct != nil {
			pcts[k] = append(pcts[k], *d.ChangePct)
		}
		if d.From.MedianSeconds != nil {
			froms[k] = append(froms[k], *d.From.MedianSeconds)
		}
		if d.To.MedianSeconds != nil {
			tos[k] = append(tos[k], *d.To.MedianSeconds)
		}
	}
	for k, cs := range by {
		if m, ok := resources.Median(pcts[k]); ok {
			lo, hi := pcts[k][0], pcts[k][0]
			for _, p := range pcts[k] {
				lo, hi = min(lo, p), max(hi, p)
			}
			cs.Median, cs.Min, cs.Max = &m, &lo, &hi
		}
		if m, ok := resources.Median(froms[k]); ok {
			cs.FromMedian = &m
		}
		if m, ok := resources.Median(tos[k]); ok {
			cs.ToMedian = &m
		}
	}
	return out
}

// WriteChangeTable writes the fleet's comparison, one line per test, mode and pair of contexts.
func WriteChangeTable(w io.Writer, cs []*ChangeSummary) error {
	pct := func(f *float64) string {
		if f == nil {
			return "-"
		}
		return fmt.Sprintf("%+.0f%%", *f)
	}
	var cells [][]string
	for _, c := range cs {
		cells = append(cells, []string{testName(c.Test), c.Mode, c.From, c.To, strconv.Itoa(c.Hosts), secs(c.FromMedian), secs(c.ToMedian), pct(c.Median), pct(c.Min), pct(c.Max)})
	}
	return writeTable(w, NoComparison, "TEST\tMODE\tFROM\tTO\tHOSTS\tFROM_S\tTO_S\tCHANGE\tMIN\tMAX", cells)
}

// WriteJSONValue writes any report value as indented JSON.
// Host strings in it are escaped as in the -json stream (termsafe.JSON).
func WriteJSONValue(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termsafe.JSON(b.Bytes()))
	return err
}

// writeJSONList writes a list as an indented JSON array; an empty list is [], never null.
func writeJSONList[T any](w io.Writer, list []T) error {
	if list == nil {
		list = []T{}
	}
	return WriteJSONValue(w, list)
}
