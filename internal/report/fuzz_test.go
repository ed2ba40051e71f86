package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// FuzzReport: smoke-test results come from a state file and their strings from hosts (kernel,
// build, failure message, test and mode names, host names): every format of every report (by
// host, by configuration, compared) renders them without a character a terminal would act on
// (the output may go to one), as a CSV a spreadsheet reads no formula from, JSON that parses
// and SVG that is well-formed XML.
func FuzzReport(f *testing.F) {
	f.Add("spark-01", "smoke_test.load", "no-mmap", "6.17.0-1014-nvidia", "6800 (19a5a3ed)", "", 21.9, uint8(2), true)
	f.Add("h\x1b[2J", "=cmd|' /C calc'!A0", "\u009b31m", "6.17\u202e", "@SUM(1)", "line\r\nnext\t\x07", -3.5, uint8(0), false)
	f.Fuzz(func(t *testing.T, host, test, mode, kernel, build, msg string, secs float64, gen uint8, passed bool) {
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		run := func(before bool, g int, s float64, dt time.Duration) *state.TestRun {
			return &state.TestRun{Time: t0.Add(dt), Test: test, Mode: mode, Generation: g, Seconds: s, Runs: []float64{s}, Passed: passed,
				Message: msg, Kernel: kernel, Server: "llama.cpp", Build: build, Before: before, MaxSeconds: s / 2,
				Setup: &state.TestSetup{ReadAheadKB: map[string]int64{kernel: int64(gen) - 1}, Sysctl: map[string]string{mode: msg}}}
		}
		st := state.New()
		for i, name := range []string{host, host + "2"} {
			st.Hosts[name] = &state.Host{Resources: map[string]*state.Resource{}, Tests: []*state.TestRun{
				run(true, int(gen), secs, time.Duration(i)), run(false, int(gen)+1, secs*2, time.Hour), run(false, int(gen)+2, -secs, 2*time.Hour)}}
		}
		hosts := []string{host, host + "2"}
		check := func(name, format string, render func(io.Writer) error) {
			var b bytes.Buffer
			if err := render(&b); err != nil {
				return // refusing to render is allowed; rendering something unsafe is not
			}
			out := b.String()
			if termsafe.Text(out) != out {
				t.Fatalf("%s %s output holds characters a terminal acts on:\n%q", name, format, out)
			}
			switch format {
			case "csv":
				recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
				if err != nil {
					t.Fatalf("%s csv does not parse: %v\n%q", name, err, out)
				}
				for _, rec := range recs[1:] {
					for _, c := range rec {
						if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) && !csvNumberRe.MatchString(c) {
							t.Fatalf("%s csv cell %q is a formula to a spreadsheet", name, c)
						}
					}
				}
			case "json":
				if !json.Valid(b.Bytes()) {
					t.Fatalf("%s json is not JSON:\n%s", name, out)
				}
			case "svg":
				d := xml.NewDecoder(&b)
				for {
					_, err := d.Token()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("%s svg is not well-formed XML: %v\n%s", name, err, out)
					}
				}
			}
		}
		rows := Rows(st, hosts)
		for format, render := range Formats {
			check("by host", format, func(w io.Writer) error { return render(w, rows) })
		}
		sums := Fleet(st, hosts)
		for format, render := range FleetFormats {
			check("by configuration", format, func(w io.Writer) error { return render(w, sums) })
		}
		for _, against := range []string{"before", "1"} {
			ds, err := Compare(st, hosts, against)
			if err != nil {
				continue
			}
			for format, render := range CompareFormats {
				check("compare "+against, format, func(w io.Writer) error { return render(w, ds) })
			}
			cs := SummarizeChanges(ds)
			check("changes "+against, "table", func(w io.Writer) error { return WriteChangeTable(w, cs) })
			check("changes "+against, "json", func(w io.Writer) error { return WriteJSONValue(w, cs) })
		}
	})
}
