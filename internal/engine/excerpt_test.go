package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// loudResource runs one command and, when it fails, quotes all of its stderr in its error, as a
// resource quoting a tool's output does (the engine, not the resource, bounds it).
type loudResource struct{}

func (loudResource) Type() string                             { return "enginetest_loud" }
func (loudResource) Spec() hcldec.Spec                        { return &hcldec.ObjectSpec{} }
func (loudResource) Validate(cty.Value) []resources.AttrError { return nil }
func (loudResource) Probe(resources.Instance) string          { return ":" }
func (loudResource) Read(resources.Instance, []byte) (cty.Value, error) {
	return cty.EmptyObjectVal, nil
}
func (loudResource) Diff(resources.Instance, cty.Value) (resources.Diff, error) {
	return resources.Diff{Action: resources.Create}, nil
}
func (loudResource) Apply(ctx context.Context, h provider.Host, in resources.Instance, _ cty.Value, _ resources.Diff, _ func(string)) (resources.Prior, error) {
	res, err := h.Run(ctx, "make")
	if err != nil {
		return in.Prior, err
	}
	return in.Prior, fmt.Errorf("%s: make failed (exit %d): %s", in.Addr(), res.ExitCode, res.Stderr)
}

// loudTest is a smoke test whose failure message quotes all of the server's stderr.
type loudTest struct{ loudResource }

func (loudTest) Type() string { return "enginetest_loudtest" }
func (loudTest) Diff(resources.Instance, cty.Value) (resources.Diff, error) {
	return resources.Diff{Action: resources.NoOp}, nil
}
func (loudTest) Test(ctx context.Context, h provider.Host, in resources.Instance, _ resources.TestContext, _ func(string)) ([]resources.TestOutcome, error) {
	res, err := h.Run(ctx, "serve")
	if err != nil {
		return nil, err
	}
	return []resources.TestOutcome{{Mode: "mmap", Message: "the server exited before it was ready: " + string(res.Stderr)}}, nil
}
func (loudTest) RollbackOnFailure(cty.Value) bool     { return false }
func (loudTest) BaselineBeforeChanges(cty.Value) bool { return false }

func init() {
	resources.Register(loudResource{})
	resources.Register(loudTest{})
}

// megabyteOfStderr is what a failing tool might print: 1 MiB of numbered lines, the telling one last.
func megabyteOfStderr() string {
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "warning %07d: something noisy the host printed\n", i)
	}
	b.WriteString("error: the line that explains it")
	return b.String()
}

type nopStore struct{}

func (nopStore) Persist(*state.State) error { return nil }

func TestHostOutputInErrorsIsShownAndStoredAsAnExcerptWithTheWholeInTheRunLog(t *testing.T) {
	loud := megabyteOfStderr()
	plan := func(host, typ string) *HostPlan {
		return &HostPlan{Name: host, Connection: &config.Host{Name: host}, Changes: []*Change{{Addr: typ + ".x", Type: typ, Name: "x",
			Diff: resources.Diff{Action: resources.Create}, Desired: state.Value{Value: cty.EmptyObjectVal}}}}
	}
	p := &Plan{Hosts: []*HostPlan{plan("spark-01", "enginetest_loud"), plan("spark-02", "enginetest_loudtest")}}
	p.Hosts[1].Changes[0].Action = resources.NoOp
	p.Hosts[1].Pending = "its tests have not passed since the last apply"
	dial := func(_ context.Context, h *config.Host, _ string) (provider.Host, error) {
		return &providertest.Scripted{HostName: h.Name, Replies: []providertest.Reply{{Stderr: loud, ExitCode: 2}}}, nil
	}
	var mu sync.Mutex
	var events []Event
	st := state.New()
	res := Apply(context.Background(), p, st, nopStore{}, Options{Dial: dial,
		RunLog: func(host string) string { return "/proj/.sparkform/logs/apply-1/" + host + ".log" },
		Events: func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() }})

	bounded := func(what, s, host string) {
		t.Helper()
		if len(s) > excerptBytes+excerptHeadline+300 || strings.Count(s, "\n") > excerptLines+3 {
			t.Errorf("%s: %d bytes, %d lines; want an excerpt", what, len(s), strings.Count(s, "\n"))
		}
		if !strings.HasSuffix(s, "error: the line that explains it") || !strings.Contains(s, "warning 0000000") {
			t.Errorf("%s: the excerpt does not keep the first and last lines:\n%s", what, s)
		}
		if !strings.Contains(s, "of host output left out; the full text is in the run log /proj/.sparkform/logs/apply-1/"+host+".log]") {
			t.Errorf("%s: the excerpt does not say what was left out and where the whole is:\n%s", what, s)
		}
	}
	for _, hr := range res.Hosts {
		if hr.Status != StatusFailed {
			t.Fatalf("%s: %s; want failed", hr.Name, hr.Status)
		}
		bounded(hr.Name+" result", hr.Error, hr.Name)
	}
	tests := st.Host("spark-02").Tests
	if len(tests) != 1 {
		t.Fatalf("spark-02's test runs in state: %d", len(tests))
	}
	bounded("the test run in state", tests[0].Message, "spark-02")

	details := map[string]int{}
	for _, ev := range events {
		if len(ev.Message) > excerptBytes+excerptHeadline+300 {
			t.Errorf("%s %s event: %d bytes shown", ev.Host, ev.Kind, len(ev.Message))
		}
		if ev.Test != nil {
			bounded("the test_done event's result", ev.Test.Message, ev.Host)
		}
		if ev.Detail != "" {
			if !strings.Contains(ev.Detail, loud) {
				t.Errorf("%s %s: Detail is not the whole text (%d bytes)", ev.Host, ev.Kind, len(ev.Detail))
			}
			details[ev.Host]++
		}
	}
	// The whole text reaches the log once per host (a step's error also ends its host).
	if details["spark-01"] != 1 || details["spark-02"] < 1 {
		t.Errorf("events carrying the whole text: %v; want spark-01's once and spark-02's", details)
	}
}

func TestExcerptKeepsShortTextAndBoundsOneEndlessLine(t *testing.T) {
	short := "python_venv.v: pip failed (exit 1):\nERROR: no matching distribution"
	if got := excerpt(short, "x.log"); got != short {
		t.Errorf("short text changed: %q", got)
	}
	endless := "sysctl.s: failed (exit 1): " + strings.Repeat("é", 1<<20)
	got := excerpt(endless, "")
	if len(got) > excerptHeadline+200 || !strings.Contains(got, "bytes of host output left out; this command keeps no run log]") {
		t.Errorf("one endless line: %d bytes: %.300q", len(got), got)
	}
	if !strings.HasPrefix(got, "sysctl.s: failed (exit 1): é") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("the headline is not cut on a character boundary: %.100q", got)
	}
}

// Whatever a host prints, its excerpt is bounded, keeps valid UTF-8 valid, and is never cut again.
func FuzzExcerpt(f *testing.F) {
	f.Add("a\nb", 1, 100)
	f.Add("é", 3000, 1)
	f.Add("\n", 40, 200)
	f.Fuzz(func(t *testing.T, line string, lines, width int) {
		lines, width = lines%500, width%2000
		if lines < 0 || width < 0 {
			return
		}
		text := strings.Repeat(strings.Repeat(line, max(1, width/max(1, len(line))))+"\n", lines) + line
		got := excerpt(text, "/p/x.log")
		if !withinBounds(got) {
			t.Fatalf("excerpt of %d bytes in %d lines is %d bytes in %d lines", len(text), strings.Count(text, "\n"), len(got), strings.Count(got, "\n"))
		}
		if utf8.ValidString(text) && !utf8.ValidString(got) {
			t.Fatalf("valid text became invalid: %q", got)
		}
		if excerpt(got, "/p/x.log") != got {
			t.Fatalf("an excerpt was cut again")
		}
	})
}

// The line saying what was left out counts as people read: "1 line", not "1 lines".
func TestExcerptOfOneLeftOutLineSaysOneLine(t *testing.T) {
	// 22 lines: the headline, one long line the byte budget leaves out, the last 20 kept.
	text := "llama_cpp.cuda: cmake failed (exit 2):\n" + strings.Repeat("x", 5000) + strings.Repeat("\nmake: error", 20)
	got := excerpt(text, "x.log")
	if !strings.Contains(got, "[... 1 line (5002 bytes) of host output left out;") {
		t.Errorf("excerpt:\n%s", got)
	}
}
