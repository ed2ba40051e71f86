package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/state"
)

// fleetState is n hosts measured before their first apply (6.11, read-ahead unmanaged) and
// after it (6.17, read-ahead 8192) with llama.cpp in two modes, plus vLLM in three modes after;
// every 10th host fails no-mmap after the change, over its max_seconds.
func fleetState(n int) *state.State {
	st := state.New()
	t0 := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("spark-%03d", i)
		h := st.Host(name)
		add := func(tr *state.TestRun) {
			tr.Time = t0.Add(time.Duration(len(h.Tests)) * time.Minute)
			h.AddTestRun(tr)
		}
		jit := float64(i%7) / 10
		for _, m := range []struct {
			mode          string
			before, after float64
		}{{"mmap", 104 + jit, 50 + jit}, {"no-mmap", 56 + jit, 22 + jit}} {
			add(&state.TestRun{Test: "smoke_test.gpt-oss", Mode: m.mode, Seconds: m.before, Runs: []float64{m.before}, Passed: true, Before: true,
				Kernel: "6.11.0-1016-nvidia", Server: "llama.cpp", Build: "6800 (19a5a3ed)", Setup: &state.TestSetup{}})
			after := &state.TestRun{Test: "smoke_test.gpt-oss", Mode: m.mode, Seconds: m.after, Runs: []float64{m.after}, Passed: true, Generation: 1,
				Kernel: "6.17.0-1014-nvidia", Server: "llama.cpp", Build: "6800 (19a5a3ed)", Setup: &state.TestSetup{ReadAheadKB: map[string]int64{"nvme0n1": 8192}}}
			if m.mode == "no-mmap" {
				after.MaxSeconds = 30
				if i%10 == 0 {
					after.Seconds, after.Passed = 31+jit, false
					after.Message = "smoke_test.gpt-oss on " + name + ", mode no-mmap: load took 31.00 s, over max_seconds 30; last output:\n    ..."
				}
			}
			add(after)
		}
		for _, m := range []struct {
			mode string
			s    float64
		}{{"default", 510 + jit}, {"eager", 88 + jit}, {"fastsafetensors", 24 + jit}} {
			add(&state.TestRun{Test: "smoke_test.qwen3-next", Mode: m.mode, Seconds: m.s, Runs: []float64{m.s}, Passed: true, Generation: 1,
				Kernel: "6.17.0-1014-nvidia", Server: "vllm", Build: "0.11.0", Setup: &state.TestSetup{ReadAheadKB: map[string]int64{"nvme0n1": 8192}}})
		}
	}
	return st
}

func hostNames(st *state.State) []string { return slices.Sorted(maps.Keys(st.Hosts)) }

func TestFleetSummaryHasMedianMinMaxAndHostCountPerConfiguration(t *testing.T) {
	st := fleetState(100)
	ss := Fleet(st, hostNames(st))
	if len(ss) != 7 {
		t.Fatalf("%d configurations, want 7 (llama.cpp 2 modes × before/after, vLLM 3 modes)", len(ss))
	}
	var b bytes.Buffer
	if err := WriteFleetTable(&b, ss); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		// 100 hosts at 22.0 .. 22.6: median 22.30, min 22.00, max 22.60 over the 90 that passed and the 10 that did not
		"gpt-oss  llama.cpp  no-mmap  6800 (19a5a3ed)  6.17.0-1014-nvidia  8192",
		"10: smoke_test.gpt-oss on spark-010, mode no-mmap: load took",
		"qwen3-next  vllm       fastsafetensors  0.11.0           6.17.0-1014-nvidia  8192        100    24.30",
		"gpt-oss     llama.cpp  mmap             6800 (19a5a3ed)  6.11.0-1016-nvidia  -           100    104.30    104.00  104.60  0",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines != 8 {
		t.Errorf("%d lines for 100 hosts, want a header and 7", lines)
	}
}

// The chart: 100 hosts made a 12,954-pixel-tall per-host chart with its axis at the
// bottom only. By configuration it is one row each, a dot per host, axes top and bottom.
func TestFleetSVGOf100HostsIsOneRowPerConfigurationWithADotPerHost(t *testing.T) {
	st := fleetState(100)
	ss := Fleet(st, hostNames(st))
	var b bytes.Buffer
	if err := WriteFleetSVG(&b, ss); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	var height, width float64
	titles := map[string]bool{}
	counts := map[string]int{}
	var inTitle bool
	var stack []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			stack = append(stack, e.Name.Local)
			for _, a := range e.Attr {
				switch {
				case e.Name.Local == "svg" && a.Name.Local == "height":
					height, _ = strconv.ParseFloat(a.Value, 64)
				case e.Name.Local == "svg" && a.Name.Local == "width":
					width, _ = strconv.ParseFloat(a.Value, 64)
				case a.Name.Local == "class":
					counts[e.Name.Local+"."+a.Value]++
				}
			}
			inTitle = e.Name.Local == "title"
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			inTitle = false
		case xml.CharData:
			if inTitle {
				titles[string(e)] = true
			}
		}
	}
	perHost := new(bytes.Buffer)
	WriteSVG(perHost, Rows(st, hostNames(st)))
	oldHeight := 0.0
	fmt.Sscanf(perHost.String()[strings.Index(perHost.String(), `height="`)+8:], "%g", &oldHeight)
	t.Logf("100 hosts: by configuration %gx%g px; the per-host chart is %g px tall", width, height, oldHeight)
	if height > 400 || width > 1300 {
		t.Errorf("chart is %gx%g px for 7 configurations", width, height)
	}
	for _, s := range ss {
		found := false
		for ti := range titles {
			found = found || strings.HasPrefix(ti, s.Label()+":")
		}
		if !found {
			t.Errorf("configuration %q has no row", s.Label())
		}
	}
	if counts["g.config"] != 7 {
		t.Errorf("%d rows, want 7", counts["g.config"])
	}
	// 7 configurations × 100 hosts, of which 10 failed (crosses instead of dots)
	if counts["circle.host"] != 690 || counts["text.failed"] != 10 {
		t.Errorf("%d host dots and %d failure marks, want 690 and 10", counts["circle.host"], counts["text.failed"])
	}
	if counts["line.limit"] != 1 || counts["line.median"] != 7 {
		t.Errorf("%d max_seconds lines (want 1: after the change, no-mmap) and %d medians (want 7)", counts["line.limit"], counts["line.median"])
	}
	if !titles["spark-010: failed: smoke_test.gpt-oss on spark-010, mode no-mmap: load took 31.00 s, over max_seconds 30; last output:"] {
		t.Error("a failed host's mark does not give its reason")
	}
	if counts["text.tick"] < 8 {
		t.Errorf("%d tick labels: the axis belongs at the top and the bottom", counts["text.tick"])
	}
}

// -compare before by configuration: the forum's table across the fleet.
func TestCompareBeforeSummarizesEachChangeAcrossHosts(t *testing.T) {
	st := fleetState(20)
	ds, err := Compare(st, hostNames(st), "before")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 40 {
		t.Fatalf("%d host deltas, want 40 (20 hosts × 2 modes)", len(ds))
	}
	cs := SummarizeChanges(ds)
	var b bytes.Buffer
	WriteChangeTable(&b, cs)
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"gpt-oss mmap 6.11.0-1016-nvidia ra=unmanaged 6.17.0-1014-nvidia ra=8192 20 104.30 50.30 -52%",
		"gpt-oss no-mmap 6.11.0-1016-nvidia ra=unmanaged 6.17.0-1014-nvidia ra=8192 20 56.30 22.35 -60%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := Compare(st, hostNames(st), "yesterday"); err == nil {
		t.Error("-compare yesterday accepted")
	}
	if _, err := Compare(st, hostNames(st), "7"); err == nil || !strings.Contains(err.Error(), "no host has generation 7") {
		t.Errorf("-compare 7 of a state without generation 7: %v", err)
	}
	ds, _ = Compare(st, hostNames(st), "0")
	if len(ds) != 0 {
		t.Errorf("generation 0 has only before results, which -compare GEN leaves out: %d deltas", len(ds))
	}
}
