package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

// A host's changes that end together (sysctl and read-ahead run in one exec) share a line, as
// the same change ending on many hosts does; a host's results of all its tests are one line.
func TestStepsEndingTogetherAndAHostsTestsShareALine(t *testing.T) {
	v, b := plainView()
	for _, h := range []string{"spark-01", "spark-02"} {
		for _, a := range []string{"sysctl.loading", "readahead.nvme"} {
			v.event(engine.Event{Host: h, Addr: a, Kind: "apply_start", Message: "create"})
		}
	}
	for _, h := range []string{"spark-01", "spark-02"} {
		for _, a := range []string{"sysctl.loading", "readahead.nvme"} {
			v.event(engine.Event{Host: h, Addr: a, Kind: "apply_done", Message: "create after 0s", Elapsed: 300 * time.Millisecond})
		}
	}
	if got := strings.TrimSpace(b.String()); got != "spark-[01-02]: sysctl.loading, readahead.nvme: created (0.3s)" {
		t.Errorf("got:\n%s", got)
	}
	b.Reset()
	for _, tc := range []struct {
		addr, mode string
		seconds    float64
		passed     bool
	}{{"smoke_test.a", "mmap", 2, true}, {"smoke_test.a", "no-mmap", 1, true}, {"smoke_test.b", "eager", 3, false}} {
		v.event(engine.Event{Host: "spark-01", Addr: tc.addr, Kind: "test_start"})
		v.event(engine.Event{Host: "spark-01", Addr: tc.addr, Kind: "test_done", Test: &state.TestRun{Mode: tc.mode, Seconds: tc.seconds, Passed: tc.passed}, Elapsed: 2 * time.Second})
	}
	time.Sleep(coalesceWindow + 100*time.Millisecond)
	v.beat(time.Now())
	if b.Len() != 0 {
		t.Errorf("a host's test line was printed before the host moved on:\n%s", b.String())
	}
	v.mu.Lock()
	got := v.running(time.Now().Add(time.Minute), style{}, func(*step) bool { return true })
	v.mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "spark-01: smoke_test.b: testing") {
		t.Errorf("running after smoke_test.b started: %q, want smoke_test.b only", got)
	}
	v.event(engine.Event{Host: "spark-01", Kind: "host_failed", Message: "smoke_test.b: eager over max_seconds"})
	v.close()
	want := "spark-01: smoke_test.a: mmap 2.0s, no-mmap 1.0s; smoke_test.b: eager 3.0s (medians): FAILED (4.0s)\nspark-01: failed: smoke_test.b: eager over max_seconds\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// On a terminal, steps still running are one status line rewritten in place and cleared before
// the next line, so heartbeats never add lines; elsewhere (a file, a pipe, CI) they are lines.
func TestOnATerminalRunningStepsAreOneStatusLineNotScrollingHeartbeats(t *testing.T) {
	t.Setenv("TERM", "xterm")
	m, tty := openPTYPair(t)
	v := newApplyView(tty, style{}, false, nil, nil)
	if !v.live {
		t.Fatal("a terminal gets the status line")
	}
	v.event(engine.Event{Host: "spark-03", Addr: "python_venv.vllm", Kind: "apply_start", Message: "create"})
	v.event(engine.Event{Host: "spark-03", Addr: "python_venv.vllm", Kind: "progress", Message: "sparkform: creating venv"})
	for i := 2; i <= 40; i += 2 {
		v.beat(time.Now().Add(time.Duration(i) * time.Second))
	}
	v.event(engine.Event{Host: "spark-03", Addr: "python_venv.vllm", Kind: "apply_done", Message: "create after 40s", Elapsed: 40 * time.Second})
	v.close()
	tty.Close()
	raw, _ := io.ReadAll(m) // ends with EIO once the slave side is closed
	out := strings.ReplaceAll(string(raw), "\r\n", "\n")
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d lines on the terminal, want 1 (the step's line):\n%q", n, out)
	}
	if !strings.Contains(out, "spark-03: python_venv.vllm: creating venv (40s)") {
		t.Errorf("the status line did not count up:\n%q", out)
	}
	if !regexp.MustCompile("\r\x1b\\[Kspark-03: python_venv.vllm: created \\(40s\\)\n$").MatchString(out) {
		t.Errorf("the status line is not cleared before the step's line:\n%q", out)
	}
}

// Hosts of a batch doing the same change a few seconds apart still share its line, and a host's
// next step does not overtake it: two lines for two hosts' venv and llama.cpp build, in order.
// A host -parallelism has not started yet (spark-03) holds no line back.
func TestBatchMatesFinishingAStepSecondsApartShareItsLineInOrder(t *testing.T) {
	p := &engine.Plan{}
	for _, h := range []string{"spark-01", "spark-02", "spark-03"} {
		p.Hosts = append(p.Hosts, &engine.HostPlan{Name: h, Changes: []*engine.Change{
			{Addr: "python_venv.vllm", Diff: resources.Diff{Action: resources.Create}},
			{Addr: "llama_cpp.cuda", Diff: resources.Diff{Action: resources.Create}},
		}})
	}
	var b bytes.Buffer
	v := newApplyView(&b, style{}, false, nil, p)
	step := func(h, addr string, elapsed time.Duration) {
		v.event(engine.Event{Host: h, Addr: addr, Kind: "apply_start", Message: "create"})
		v.event(engine.Event{Host: h, Addr: addr, Kind: "apply_done", Message: "create after 0s", Elapsed: elapsed})
	}
	v.event(engine.Event{Kind: "rollout_batch", Message: "batch 1 of 1: 3 hosts", Hosts: []string{"spark-01", "spark-02", "spark-03"}})
	v.event(engine.Event{Host: "spark-02", Addr: "python_venv.vllm", Kind: "apply_start", Message: "create"})
	step("spark-01", "python_venv.vllm", 6*time.Second)
	step("spark-01", "llama_cpp.cuda", time.Second)
	if got := b.String(); got != "rollout: batch 1 of 1: spark-[01-03]\n" {
		t.Errorf("printed before spark-02 finished its venv:\n%s", got)
	}
	v.event(engine.Event{Host: "spark-02", Addr: "python_venv.vllm", Kind: "apply_done", Message: "create after 8s", Elapsed: 8 * time.Second})
	if !strings.HasSuffix(b.String(), "spark-[01-02]: python_venv.vllm: created (8.0s)\n") {
		t.Errorf("the venv line waits for spark-03, which has not started:\n%s", b.String())
	}
	step("spark-02", "llama_cpp.cuda", 2*time.Second)
	v.close()
	want := "rollout: batch 1 of 1: spark-[01-03]\nspark-[01-02]: python_venv.vllm: created (8.0s)\nspark-[01-02]: llama_cpp.cuda: created (2.0s)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// testFleetEvents feeds v 100 hosts' results of smoke_test.gpt-oss in two modes, as an apply's
// tests end: every host tests, then each ends in turn. spark-010 is over max_seconds and
// spark-020 regressed; the others passed, mmap in 20.1 s to 30 s. An apply ends a host whose
// tests failed with host_failed, `sparkform test` with host_done (its errors come at the end).
func testFleetEvents(v *applyView, apply bool) {
	host := func(i int) string { return fmt.Sprintf("spark-%03d", i) }
	for i := 1; i <= 100; i++ {
		v.event(engine.Event{Host: host(i), Addr: "smoke_test.gpt-oss", Kind: "test_start"})
	}
	for i := 1; i <= 100; i++ {
		mmap, passed, why := 20+float64(i)/10, true, ""
		switch i {
		case 10:
			mmap, passed, why = 31, false, "smoke_test.gpt-oss on spark-010, mode mmap: load took 31s, over max_seconds 30"
		case 20:
			mmap, passed, why = 29, false, "smoke_test.gpt-oss on spark-020, mode mmap: load took 29s, 8s (38%) slower than 21s"
		}
		v.event(engine.Event{Host: host(i), Addr: "smoke_test.gpt-oss", Kind: "test_done", Test: &state.TestRun{Mode: "mmap", Seconds: mmap, Passed: passed}, Elapsed: 70 * time.Second})
		v.event(engine.Event{Host: host(i), Addr: "smoke_test.gpt-oss", Kind: "test_done", Test: &state.TestRun{Mode: "no-mmap", Seconds: 22, Passed: true}, Elapsed: 70 * time.Second})
		if passed || !apply {
			v.event(engine.Event{Host: host(i), Kind: "host_done"})
		} else {
			v.event(engine.Event{Host: host(i), Kind: "host_failed", Message: why})
		}
	}
	v.close()
}

// At 100 hosts, hosts whose tests all passed share one line with the spread of their load
// times; each failed or regressed host still has its own line and its reason.
func TestHostsWhoseTestsPassedShareALineWithTheSpreadOfTheirLoadTimes(t *testing.T) {
	p := &engine.Plan{}
	for i := 1; i <= 100; i++ {
		p.Hosts = append(p.Hosts, &engine.HostPlan{Name: fmt.Sprintf("spark-%03d", i), Changes: []*engine.Change{
			{Addr: "sysctl.loading", Type: "sysctl", Diff: resources.Diff{Action: resources.Create}},
			{Addr: "smoke_test.gpt-oss", Type: "smoke_test", Diff: resources.Diff{Action: resources.NoOp}},
		}})
	}
	var b bytes.Buffer
	testFleetEvents(newApplyView(&b, style{}, false, nil, p), true)
	failed := `spark-010: smoke_test.gpt-oss: mmap 31s, no-mmap 22s (medians): FAILED (1m10s)
spark-010: failed: smoke_test.gpt-oss on spark-010, mode mmap: load took 31s, over max_seconds 30
spark-020: smoke_test.gpt-oss: mmap 29s, no-mmap 22s (medians): FAILED (1m10s)
spark-020: failed: smoke_test.gpt-oss on spark-020, mode mmap: load took 29s, 8s (38%) slower than 21s
`
	passed := "spark-[001-009,011-019,021-100]: smoke_test.gpt-oss: mmap 20s–30s (median 25s), no-mmap 22s (hosts' medians): passed (1m10s)\n"
	if got := b.String(); got != failed+passed {
		t.Errorf("apply: got:\n%s\nwant:\n%s", got, failed+passed)
	}
	// sparkform test: the same lines, the reasons come after the run (testSummary's errors).
	b.Reset()
	testFleetEvents(newApplyView(&b, style{}, false, nil, nil), false)
	want := regexp.MustCompile(`(?m)^spark-0.0: failed: .*\n`).ReplaceAllString(failed, "") + passed
	if got := b.String(); got != want {
		t.Errorf("test: got:\n%s\nwant:\n%s", got, want)
	}
}

// A line of passed results waits for other hosts' only while one is still at work, and at most
// joinWindow: a host still testing after it does not hold the others' line back.
func TestPassedResultsWaitForOtherHostsAtMostTheJoinWindow(t *testing.T) {
	defer func(w time.Duration) { joinWindow = w }(joinWindow)
	joinWindow = 100 * time.Millisecond
	v, b := plainView()
	done := func(h string, secs float64) {
		v.event(engine.Event{Host: h, Addr: "smoke_test.x", Kind: "test_done", Test: &state.TestRun{Mode: "mmap", Seconds: secs, Passed: true}, Elapsed: time.Second})
		v.event(engine.Event{Host: h, Kind: "host_done"})
	}
	for _, h := range []string{"spark-01", "spark-02", "spark-03"} {
		v.event(engine.Event{Host: h, Addr: "smoke_test.x", Kind: "test_start"})
	}
	done("spark-01", 2)
	done("spark-02", 4)
	v.beat(time.Now())
	if b.Len() != 0 {
		t.Errorf("printed while spark-03 still tests, within the window:\n%s", b.String())
	}
	time.Sleep(150 * time.Millisecond)
	v.beat(time.Now())
	if got := b.String(); got != "spark-[01-02]: smoke_test.x: mmap 2.0s–4.0s (median 3.0s) (hosts' medians): passed (1.0s)\n" {
		t.Errorf("after the window: %q", got)
	}
	b.Reset()
	done("spark-03", 3)
	v.close()
	if got := b.String(); got != "spark-03: smoke_test.x: mmap 3.0s (medians): passed (1.0s)\n" {
		t.Errorf("the last host: %q", got)
	}
}
