package main

import (
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/report"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

var reportT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// reportState saves a state holding test results for the given hosts and returns its path.
func reportState(t *testing.T, tests map[string][]*state.TestRun) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sparkform.state.json")
	st := state.New()
	for host, runs := range tests {
		h := st.Host(host)
		for _, r := range runs {
			h.AddTestRun(r)
		}
	}
	if err := state.NewStore(path).Persist(st); err != nil {
		t.Fatal(err)
	}
	return path
}

// raSetup is a result's setup with read-ahead kb on nvme0n1.
func raSetup(kb string) *state.TestSetup {
	n, _ := strconv.ParseInt(kb, 10, 64)
	return &state.TestSetup{ReadAheadKB: map[string]int64{"nvme0n1": n}, Sysctl: map[string]string{"vm.swappiness": "10"}}
}

func raContext(kb string) map[string]string {
	return map[string]string{
		"readahead.nvme":  "device=nvme0n1 kb=" + kb,
		"sysctl.loading":  "vm.swappiness=10",
		"kernel.nvidia":   "line=6.17",
		"readaheadx.junk": "kb=1", // not a readahead.* resource
	}
}

// fleetResults: 2 hosts × 2 kernels (generation 1: 6.11, read-ahead 128; generation 2: 6.17,
// read-ahead 8192) × 2 modes, each result the median of 3 runs. spark-02's no-mmap on 6.17 failed.
func fleetResults() map[string][]*state.TestRun {
	out := map[string][]*state.TestRun{}
	for hi, host := range []string{"spark-01", "spark-02"} {
		off := float64(hi) // spark-02 is one second slower everywhere
		at := reportT0
		for gi, k := range []struct {
			kernel, kb string
			mmap, nomm []float64
		}{
			{"6.11.0-1016-nvidia", "128", []float64{40.2, 38.5, 39.1}, []float64{21.7, 22.9, 22.3}},
			{"6.17.0-1004-nvidia", "8192", []float64{19.9, 18.2, 18.8}, []float64{12.6, 11.9, 12.1}},
		} {
			for _, m := range []struct {
				mode string
				runs []float64
			}{{"mmap", k.mmap}, {"no-mmap", k.nomm}} {
				runs := make([]float64, len(m.runs))
				for i, r := range m.runs {
					runs[i] = r + off
				}
				sorted := append([]float64(nil), runs...)
				med, _ := resources.Median(sorted)
				tr := &state.TestRun{Time: at, Test: "smoke_test.gpt-oss", Mode: m.mode, Generation: gi + 1,
					Seconds: med, Runs: runs, Passed: true, Kernel: k.kernel, Context: raContext(k.kb), Setup: raSetup(k.kb)}
				if host == "spark-02" && gi == 1 && m.mode == "no-mmap" {
					tr.Passed = false
					tr.Message = "spark-02: no-mmap took 13.1 s, more than max_seconds 13\nlast output:\nllama_model_loader: ..."
				}
				out[host] = append(out[host], tr)
				at = at.Add(time.Minute)
			}
		}
	}
	return out
}

func TestReportTableShowsMedianOfThreeRunsPerHostKernelModeWithReadAhead(t *testing.T) {
	path := reportState(t, fleetResults())
	code, out, stderr := cli(t, "report", "-by", "host", "-state", path)
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 9 {
		t.Fatalf("want header + 8 rows, got %d lines:\n%s", len(lines), out)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "HOST GEN KERNEL READ_AHEAD MODE MEDIAN_S RUNS RESULT" {
		t.Fatalf("header %q", lines[0])
	}
	// Columns are aligned: every column starts at the same offset as its header.
	col := strings.Index(lines[0], "MEDIAN_S")
	want := [][]string{
		{"spark-01", "1", "6.11.0-1016-nvidia", "128", "mmap", "39.10", "3", "ok"},
		{"spark-01", "1", "6.11.0-1016-nvidia", "128", "no-mmap", "22.30", "3", "ok"},
		{"spark-01", "2", "6.17.0-1004-nvidia", "8192", "mmap", "18.80", "3", "ok"},
		{"spark-01", "2", "6.17.0-1004-nvidia", "8192", "no-mmap", "12.10", "3", "ok"},
		{"spark-02", "1", "6.11.0-1016-nvidia", "128", "mmap", "40.10", "3", "ok"},
		{"spark-02", "1", "6.11.0-1016-nvidia", "128", "no-mmap", "23.30", "3", "ok"},
		{"spark-02", "2", "6.17.0-1004-nvidia", "8192", "mmap", "19.80", "3", "ok"},
		{"spark-02", "2", "6.17.0-1004-nvidia", "8192", "no-mmap", "13.10", "3", "FAILED:"},
	}
	for i, w := range want {
		line := lines[i+1]
		f := strings.Fields(line)
		if len(f) < len(w) {
			t.Fatalf("row %d: %q", i, line)
		}
		for j := range w {
			if f[j] != w[j] {
				t.Errorf("row %d column %d: got %q, want %q in %q", i, j, f[j], w[j], line)
			}
		}
		if !strings.HasPrefix(line[col:], w[5]) {
			t.Errorf("row %d: MEDIAN_S not aligned under its header: %q", i, line)
		}
	}
	// A failure shows the first line of its message, not the server output after it.
	last := lines[8]
	if !strings.Contains(last, "no-mmap took 13.1 s") || strings.Contains(out, "llama_model_loader") {
		t.Errorf("failure row %q", last)
	}
}

func TestReportAggregatesSeveralResultsOfOneGroupIntoTheMedianOfTheirSeconds(t *testing.T) {
	ctx, setup := raContext("4096"), raSetup("4096")
	var runs []*state.TestRun
	for i, s := range []float64{20, 10, 12} {
		runs = append(runs, &state.TestRun{Time: reportT0.Add(time.Duration(i) * time.Hour), Test: "smoke_test.gpt-oss",
			Mode: "mmap", Generation: 3, Seconds: s, Runs: []float64{s, s, s}, Passed: true, Kernel: "6.17", Context: ctx, Setup: setup})
	}
	// A result that never became ready (Seconds 0) is a failure, not a fast load.
	runs = append(runs, &state.TestRun{Time: reportT0.Add(4 * time.Hour), Test: "smoke_test.gpt-oss", Mode: "mmap",
		Generation: 3, Seconds: 0, Passed: false, Message: "not ready within 5m0s", Kernel: "6.17", Context: ctx, Setup: setup})
	path := reportState(t, map[string][]*state.TestRun{"spark-01": runs})
	code, out, stderr := cli(t, "report", "-by", "host", "-state", path, "-format", "json")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("want one group, got %d: %s", len(rows), out)
	}
	r := rows[0]
	if r["median_seconds"] != 12.0 || r["runs"] != 9.0 || r["results"] != 4.0 || r["passed"] != 3.0 || r["failed"] != 1.0 ||
		r["result"] != "failed" || r["message"] != "not ready within 5m0s" || r["read_ahead_kb"] != "4096" {
		t.Fatalf("row %v", r)
	}
	code, out, _ = cli(t, "report", "-by", "host", "-state", path)
	if code != 0 || !strings.Contains(out, "12.00") || !strings.Contains(out, "FAILED 1 of 4: not ready within 5m0s") {
		t.Fatalf("table:\n%s", out)
	}
}

// Results carry their read-ahead as data (Setup); results recorded before that only have their
// one-line summaries (Context), which the report still reads.
func TestReportReadAheadColumnJoinsDevicesAndShowsDashWhenAbsent(t *testing.T) {
	withSetup := func(kb map[string]int64) func(*state.TestRun) {
		return func(r *state.TestRun) { r.Setup = &state.TestSetup{ReadAheadKB: kb} }
	}
	withContext := func(ctx map[string]string) func(*state.TestRun) {
		return func(r *state.TestRun) { r.Context = ctx }
	}
	for _, c := range []struct {
		name       string
		diff, same func(*state.TestRun)
	}{
		{"setup", withSetup(map[string]int64{"nvme0n1": 8192, "nvme1n1": 4096}), withSetup(map[string]int64{"nvme0n1": 8192, "nvme1n1": 8192})},
		{"summaries of results recorded before setup",
			withContext(map[string]string{"readahead.a": "device=nvme0n1 kb=8192", "readahead.b": "device=nvme1n1 kb=4096"}),
			withContext(map[string]string{"readahead.a": "device=nvme0n1 kb=8192", "readahead.b": "device=nvme1n1 kb=8192"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs := []*state.TestRun{
				{Time: reportT0, Test: "smoke_test.a", Mode: "mmap", Seconds: 5, Runs: []float64{5}, Passed: true, Kernel: "6.17"},
				{Time: reportT0.Add(time.Minute), Test: "smoke_test.a", Mode: "mmap", Seconds: 6, Runs: []float64{6}, Passed: true, Kernel: "6.17"},
				{Time: reportT0.Add(2 * time.Minute), Test: "smoke_test.a", Mode: "mmap", Seconds: 7, Runs: []float64{7}, Passed: true},
			}
			c.diff(runs[0])
			c.same(runs[1])
			path := reportState(t, map[string][]*state.TestRun{"spark-01": runs})
			code, out, stderr := cli(t, "report", "-by", "host", "-state", path)
			if code != 0 {
				t.Fatalf("code %d: %s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 4 {
				t.Fatalf("output:\n%s", out)
			}
			for i, want := range []string{"nvme0n1=8192,nvme1n1=4096", "8192", "-"} {
				if f := strings.Fields(lines[i+1]); f[3] != want {
					t.Errorf("row %d read-ahead %q, want %q", i, f[3], want)
				}
			}
			// Generation 0 (not recorded) and an empty kernel show as "-".
			if f := strings.Fields(lines[3]); f[1] != "-" || f[2] != "-" {
				t.Errorf("row %q", lines[3])
			}
		})
	}
}

func TestReportCSVParsesWithOneRowPerGroupAndTwoDecimalSeconds(t *testing.T) {
	path := reportState(t, fleetResults())
	code, out, stderr := cli(t, "report", "-by", "host", "-state", path, "-format", "csv")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 9 {
		t.Fatalf("want header + 8 rows, got %d", len(recs))
	}
	idx := map[string]int{}
	for i, h := range recs[0] {
		idx[h] = i
	}
	for _, h := range []string{"host", "generation", "kernel", "read_ahead_kb", "mode", "median_seconds", "runs", "result", "message"} {
		if _, ok := idx[h]; !ok {
			t.Fatalf("header %v lacks %q", recs[0], h)
		}
	}
	first, last := recs[1], recs[8]
	if first[idx["host"]] != "spark-01" || first[idx["mode"]] != "mmap" || first[idx["median_seconds"]] != "39.10" ||
		first[idx["read_ahead_kb"]] != "128" || first[idx["runs"]] != "3" || first[idx["generation"]] != "1" {
		t.Errorf("first row %v", first)
	}
	if last[idx["host"]] != "spark-02" || last[idx["result"]] != "failed" || last[idx["median_seconds"]] != "13.10" ||
		last[idx["message"]] != "spark-02: no-mmap took 13.1 s, more than max_seconds 13" {
		t.Errorf("last row %v", last)
	}
	for _, r := range recs[1:] {
		if !regexp.MustCompile(`^\d+\.\d\d$`).MatchString(r[idx["median_seconds"]]) {
			t.Errorf("seconds %q not with 2 decimals", r[idx["median_seconds"]])
		}
	}
}

func TestReportJSONRoundTripsRows(t *testing.T) {
	path := reportState(t, fleetResults())
	code, out, stderr := cli(t, "report", "-by", "host", "-state", path, "-format", "json", "-host", "spark-01")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	var rows []*report.Row
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("-host spark-01: want 4 rows, got %d", len(rows))
	}
	r := rows[3]
	if r.Host != "spark-01" || r.Generation != 2 || r.Kernel != "6.17.0-1004-nvidia" || r.ReadAhead != "8192" || r.Mode != "no-mmap" ||
		r.Test != "smoke_test.gpt-oss" || r.MedianSeconds == nil || *r.MedianSeconds != 12.1 || r.Runs != 3 || r.Result != "ok" ||
		!r.FirstTime.Equal(reportT0.Add(3*time.Minute)) {
		t.Fatalf("row %+v", r)
	}
	// Re-encoding what was decoded gives the same document: field names are stable.
	var again strings.Builder
	if err := report.WriteJSON(&again, rows); err != nil {
		t.Fatal(err)
	}
	if again.String() != out {
		t.Fatalf("round trip differs:\n%s\nvs\n%s", again.String(), out)
	}
}

// svgDoc is what a real XML parser sees of the chart.
type svgDoc struct {
	root       xml.StartElement
	bars       []xml.StartElement
	texts      []string
	maxDepth   int
	elements   int
	hasTitle   bool
	hasPattern bool
}

func parseSVG(t *testing.T, s string) svgDoc {
	t.Helper()
	var doc svgDoc
	dec := xml.NewDecoder(strings.NewReader(s))
	depth := 0
	var text strings.Builder
	inText := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, s)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if doc.elements > 0 {
					t.Fatal("more than one root element")
				}
				doc.root = tk.Copy()
			}
			doc.elements++
			depth++
			doc.maxDepth = max(doc.maxDepth, depth)
			switch tk.Name.Local {
			case "rect":
				if attr(tk, "class") == "bar" {
					doc.bars = append(doc.bars, tk.Copy())
				}
			case "text":
				inText++
				text.Reset()
			case "title":
				doc.hasTitle = true
			case "pattern":
				doc.hasPattern = true
			case "script", "style", "image", "foreignObject":
				t.Errorf("SVG must be self-contained, found <%s>", tk.Name.Local)
			}
		case xml.CharData:
			if inText > 0 {
				text.Write(tk)
			}
		case xml.EndElement:
			depth--
			if tk.Name.Local == "text" {
				inText--
				doc.texts = append(doc.texts, text.String())
			}
		}
	}
	if depth != 0 {
		t.Fatal("unbalanced elements")
	}
	return doc
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestReportSVGIsWellFormedWithOneBarPerGroupAndModeAndEscapedNames(t *testing.T) {
	results := fleetResults()
	results["lab <&> \"quoted\""] = results["spark-02"]
	delete(results, "spark-02")
	path := reportState(t, results)
	code, out, stderr := cli(t, "report", "-by", "host", "-state", path, "-format", "svg")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	doc := parseSVG(t, out)
	if doc.root.Name.Local != "svg" || doc.root.Name.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root %v", doc.root.Name)
	}
	vb := strings.Fields(attr(doc.root, "viewBox"))
	if len(vb) != 4 || attr(doc.root, "width") != vb[2] || attr(doc.root, "height") != vb[3] {
		t.Fatalf("viewBox %q width %q height %q", attr(doc.root, "viewBox"), attr(doc.root, "width"), attr(doc.root, "height"))
	}
	// 2 hosts × 2 (kernel, read-ahead) groups × 2 modes.
	if len(doc.bars) != 8 {
		t.Fatalf("want 8 bars, got %d", len(doc.bars))
	}
	modes := map[string]int{}
	fills := map[string]string{}
	for _, b := range doc.bars {
		m := attr(b, "data-mode")
		modes[m]++
		if !strings.HasPrefix(attr(b, "fill"), "url(") {
			if f, ok := fills[m]; ok && f != attr(b, "fill") {
				t.Errorf("mode %s drawn in %s and %s", m, f, attr(b, "fill"))
			}
			fills[m] = attr(b, "fill")
		}
	}
	if modes["mmap"] != 4 || modes["no-mmap"] != 4 || fills["mmap"] == fills["no-mmap"] {
		t.Errorf("bars per mode %v, colours %v", modes, fills)
	}
	// The failed group is hatched and labelled.
	hatched := 0
	for _, b := range doc.bars {
		if strings.HasPrefix(attr(b, "fill"), "url(#hatch-") {
			hatched++
		}
	}
	if hatched != 1 || !doc.hasPattern {
		t.Errorf("hatched bars %d", hatched)
	}
	joined := "\n" + strings.Join(doc.texts, "\n") + "\n"
	for _, want := range []string{"\nlab <&> \"quoted\"\n", "\nspark-01\n", "\nmmap\n", "\nno-mmap\n", "failed",
		"6.17.0-1004-nvidia · read-ahead 8192 KB", "seconds (median model load)", "\n13.1 s · failed\n"} {
		if !strings.Contains(joined, want) {
			t.Errorf("SVG texts lack %q:%s", want, joined)
		}
	}
	if !strings.Contains(out, "lab &lt;&amp;&gt;") || strings.Contains(out, "lab <&>") {
		t.Error("host name not escaped in the raw SVG")
	}
	// Bar lengths follow the medians: the longest (40.1 s) is 40.1/12.1 times the shortest (12.1 s).
	minW, maxW := math.Inf(1), 0.0
	for _, b := range doc.bars {
		w, err := strconv.ParseFloat(attr(b, "width"), 64)
		if err != nil {
			t.Fatal(err)
		}
		minW, maxW = math.Min(minW, w), math.Max(maxW, w)
	}
	if ratio := maxW / minW; math.Abs(ratio-40.1/12.1) > 0.05 {
		t.Errorf("longest/shortest bar %.2f, want %.2f", ratio, 40.1/12.1)
	}
	// Same state, same bytes.
	_, again, _ := cli(t, "report", "-by", "host", "-state", path, "-format", "svg")
	if again != out {
		t.Error("SVG differs between two runs on the same state")
	}
}

func TestReportOnEmptyStateSaysHowResultsAreRecorded(t *testing.T) {
	path := reportState(t, map[string][]*state.TestRun{"spark-01": nil})
	code, out, stderr := cli(t, "report", "-by", "host", "-state", path)
	if code != 0 || strings.TrimSpace(out) != report.NoResults || stderr != "" {
		t.Fatalf("code %d out %q stderr %q", code, out, stderr)
	}
	// Machine formats stay well-formed.
	code, out, _ = cli(t, "report", "-by", "host", "-state", path, "-format", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("json: code %d %q", code, out)
	}
	code, out, _ = cli(t, "report", "-by", "host", "-state", path, "-format", "svg")
	if code != 0 || len(parseSVG(t, out).bars) != 0 {
		t.Fatalf("svg: code %d", code)
	}
}

func TestReportFailsOnUnknownFormatMissingOrCorruptState(t *testing.T) {
	path := reportState(t, fleetResults())
	code, out, stderr := cli(t, "report", "-by", "host", "-state", path, "-format", "pdf")
	if code != 1 || out != "" || !strings.Contains(stderr, `unknown report format "pdf"`) {
		t.Fatalf("unknown format: code %d out %q stderr %q", code, out, stderr)
	}
	dir := t.TempDir()
	code, _, stderr = cli(t, "report", dir)
	if code != 1 || !strings.Contains(stderr, "no state at "+filepath.Join(dir, "sparkform.state.json")) {
		t.Fatalf("missing state: code %d stderr %q", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "sparkform.state.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, "report", dir)
	if code != 1 || !strings.Contains(stderr, "is not valid") {
		t.Fatalf("corrupt state: code %d stderr %q", code, stderr)
	}
	code, _, stderr = cli(t, "report", "-by", "host", "-state", path, "-host", "spark-99")
	if code != 1 || !strings.Contains(stderr, `no host "spark-99"`) {
		t.Fatalf("unknown host: code %d stderr %q", code, stderr)
	}
}

func TestReportOutputFlagWritesTheFileAtomically(t *testing.T) {
	path := reportState(t, fleetResults())
	dir := t.TempDir()
	target := filepath.Join(dir, "load-times.svg")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Flags after the positional DIR work too.
	code, out, stderr := cli(t, "report", "-by", "host", filepath.Dir(path), "-format", "svg", "-o", target)
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	if !strings.Contains(out, "Wrote "+target) {
		t.Errorf("stdout %q", out)
	}
	b, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if len(parseSVG(t, string(b)).bars) != 8 {
		t.Error("written SVG lacks its bars")
	}
	fi, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}
