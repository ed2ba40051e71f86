package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

func TestCompactHostsWritesRangesOfNumberedNames(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"spark-01", "spark-01"},
		{"spark-01 spark-02 spark-03", "spark-[01-03]"},
		{"spark-03 spark-01 spark-02 spark-05 spark-07 spark-08", "spark-[01-03,05,07-08]"},
		{"spark-99 spark-100 spark-98", "spark-[98-99],spark-100"},
		{"gpu-1 spark-01 spark-02 login", "gpu-1,spark-[01-02],login"},
		{"a b", "a,b"},
	} {
		if got := compactHosts(strings.Fields(c.in)); got != c.want {
			t.Errorf("compactHosts(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// Every other host of 100 is 50 ranges of one: 200+ characters in full. Heads and table cells
// show the leading hosts, … and (where no count stands beside the list) the count; the exact list
// stays available where it must be exact.
func TestAHostListOfEveryOtherHostOf100IsCutShortWithItsCount(t *testing.T) {
	var names []string
	for i := 1; i <= 100; i += 2 {
		names = append(names, fmt.Sprintf("spark-%03d", i))
	}
	full := allHosts(names)
	if len(full) < 200 || !strings.HasPrefix(full, "spark-[001,003,") || !strings.HasSuffix(full, ",097,099]") {
		t.Fatalf("allHosts = %q, want all 50 hosts", full)
	}
	got := compactHosts(names)
	if len(got) > 80 || !strings.HasPrefix(got, "spark-[001,003,005,") || !strings.HasSuffix(got, ",…] (50 hosts)") {
		t.Errorf("compactHosts = %q (%d characters), want ≤ 80: the leading hosts, … and the count", got, len(got))
	}
	if !strings.HasPrefix(full, strings.TrimSuffix(got, ",…] (50 hosts)")) {
		t.Errorf("compactHosts = %q is not the start of the full list %q", got, full)
	}
	if got := countedHosts(names); strings.Count(got, "50 hosts") != 1 || !strings.HasSuffix(got, ",…] (50 hosts)") {
		t.Errorf("countedHosts = %q, want the count once", got)
	}
	if got := shortHosts(names); !strings.HasSuffix(got, ",…]") || len(got) > 80 {
		t.Errorf("shortHosts = %q, want a cut list without a count", got)
	}
	// A list that fits is whole, with no count added; one long name is never cut to nothing.
	if got := compactHosts(names[:5]); got != "spark-[001,003,005,007,009]" {
		t.Errorf("compactHosts of 5 = %q", got)
	}
	long := strings.Repeat("x", 100)
	if got := compactHosts([]string{long, "y"}); got != long+",… (2 hosts)" {
		t.Errorf("compactHosts of a long name = %q", got)
	}
}

func TestDurationsHaveOneFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		40 * time.Millisecond: "0.04s", 234 * time.Millisecond: "0.23s", 400 * time.Millisecond: "0.4s", 0: "0s", 9500 * time.Millisecond: "9.5s", 12 * time.Second: "12s",
		130 * time.Second: "2m10s", 3900 * time.Second: "1h05m",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %s, want %s", d, got, want)
		}
	}
	if plural(1, "host") != "1 host" || plural(3, "host") != "3 hosts" || plural(0, "result") != "0 results" {
		t.Error("plural")
	}
}

// fleetPlan is a plan of n hosts; hosts named in differ get a different sysctl value.
func fleetPlan(n int, differ ...string) *engine.Plan {
	p := &engine.Plan{}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("spark-%03d", i)
		after := "10"
		for _, d := range differ {
			if d == name {
				after = "5"
			}
		}
		p.Hosts = append(p.Hosts, &engine.HostPlan{Name: name, Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250), Kernel: "6.11.0-1016-nvidia",
			Changes: []*engine.Change{
				{Addr: "sysctl.loading", Type: "sysctl", Name: "loading", Diff: resources.Diff{Action: resources.Create, Fields: []resources.FieldChange{
					{Path: `values["vm.swappiness"]`, Before: "60", After: after}, {Path: "file", BeforeNull: true, After: "/etc/sysctl.d/90-sparkform-loading.conf"}}}},
				{Addr: "kernel.nvidia", Type: "kernel", Name: "nvidia", Diff: resources.Diff{Action: resources.Update, RequiresReboot: true, Summary: "6.11 → 6.17",
					Fields: []resources.FieldChange{{Path: "kernel", Before: "6.11.0-1016-nvidia", After: "linux-nvidia-6.17"}}}},
			}})
	}
	return p
}

func TestPlanShowsIdenticalHostsOnceWithACompactHostList(t *testing.T) {
	var b bytes.Buffer
	renderPlan(&b, fleetPlan(100), style{})
	out := b.String()
	if n := strings.Count(out, "\n"); n > 40 {
		t.Errorf("a plan of 100 identical hosts takes %d lines, want <= 40:\n%s", n, out)
	}
	if strings.Count(out, `+ sysctl "loading"`) != 1 || !strings.Contains(out, "spark-[001-100] (100 hosts, kernel 6.11.0-1016-nvidia)") {
		t.Errorf("identical hosts not shown once:\n%s", out)
	}
	if !strings.Contains(out, "Plan: 100 to add, 100 to change, 0 to destroy, on 100 hosts.") {
		t.Errorf("totals:\n%s", out)
	}
}

func TestPlanGroupsDifferVisibly(t *testing.T) {
	var b bytes.Buffer
	renderPlan(&b, fleetPlan(20, "spark-007", "spark-008"), style{})
	out := b.String()
	wantAll(t, "plan", out,
		"spark-[001-006,009-020] (18 hosts, kernel",
		"spark-[007-008] (2 hosts, kernel",
		`values["vm.swappiness"] = 60 -> 10`,
		`values["vm.swappiness"] = 60 -> 5`,
		"HOSTS                    COUNT",
		"spark-[001-006,009-020]     18    1       1        0  changes, reboot",
	)
	if strings.Count(out, `+ sysctl "loading"`) != 2 {
		t.Errorf("two groups should show two sysctl blocks:\n%s", out)
	}
}

func TestFinishedStepsOfManyHostsShareOneLineWithTheSlowestTime(t *testing.T) {
	v, b := plainView()
	for i := 1; i <= 50; i++ {
		v.event(engine.Event{Host: fmt.Sprintf("spark-%02d", i), Addr: "sysctl.loading", Kind: "apply_start", Message: "create"})
	}
	for i := 1; i <= 50; i++ {
		v.event(engine.Event{Host: fmt.Sprintf("spark-%02d", i), Addr: "sysctl.loading", Kind: "apply_done", Message: "create after 0s", Elapsed: time.Duration(i) * 10 * time.Millisecond})
	}
	if got := strings.TrimSpace(b.String()); got != "spark-[01-50]: sysctl.loading: created (0.5s)" {
		t.Errorf("got:\n%s", got)
	}
	// A host alone in its step is shown at once, not held back.
	b.Reset()
	v.event(engine.Event{Host: "spark-07", Addr: "readahead.nvme", Kind: "apply_start", Message: "create"})
	v.event(engine.Event{Host: "spark-07", Addr: "readahead.nvme", Kind: "apply_done", Message: "create after 0s", Elapsed: time.Second})
	if got := strings.TrimSpace(b.String()); got != "spark-07: readahead.nvme: created (1.0s)" {
		t.Errorf("a lone step waited: %q", got)
	}
	// Test results of one host's modes share a line once its tests end.
	b.Reset()
	v.event(engine.Event{Host: "spark-07", Addr: "smoke_test.x", Kind: "test_start"})
	v.event(engine.Event{Host: "spark-07", Addr: "smoke_test.x", Kind: "test_done", Test: &state.TestRun{Mode: "mmap", Seconds: 2, Passed: true}, Elapsed: 3 * time.Second})
	v.event(engine.Event{Host: "spark-07", Addr: "smoke_test.x", Kind: "test_done", Test: &state.TestRun{Mode: "no-mmap", Seconds: 1, Passed: true}, Elapsed: 3 * time.Second})
	v.event(engine.Event{Host: "spark-07", Kind: "host_done"})
	v.close()
	if got := strings.TrimSpace(b.String()); got != "spark-07: smoke_test.x: mmap 2.0s, no-mmap 1.0s (medians): passed (3.0s)" {
		t.Errorf("test line: %q", got)
	}
}

// plainView is an apply view without colour, -v or logs writing to b, fed events.
func plainView(events ...engine.Event) (v *applyView, b *bytes.Buffer) {
	b = new(bytes.Buffer)
	v = newApplyView(b, style{}, false, nil, nil)
	for _, ev := range events {
		v.event(ev)
	}
	return v, b
}

func TestLongStepsGetAHeartbeatWithTheBuildPercentage(t *testing.T) {
	const llama = "llama_cpp.cuda"
	v, b := plainView(
		engine.Event{Host: "spark-03", Addr: llama, Kind: "apply_start", Message: "create"},
		engine.Event{Host: "spark-03", Addr: llama, Kind: "progress", Message: "sparkform: building llama-server with 2 jobs"},
		engine.Event{Host: "spark-03", Addr: llama, Kind: "progress", Message: "[ 45%] Building CXX object ggml/src/ggml.cpp.o"},
		engine.Event{Host: "spark-01", Kind: "reboot_start", Addr: "kernel.nvidia", Message: "rebooting into 6.17"})
	defer v.close()
	if strings.Contains(b.String(), "45%") || strings.Contains(b.String(), "Building CXX") {
		t.Errorf("tool output reached the screen without -v:\n%s", b.String())
	}
	v.beat(time.Now().Add(130 * time.Second))
	out := b.String()
	wantAll(t, "heartbeat", out,
		"spark-03: llama_cpp.cuda: building llama-server with 2 jobs 45% (2m10s)",
		"spark-01: kernel.nvidia: waiting for the host (2m10s)",
	)
	b.Reset()
	v.beat(time.Now().Add(131 * time.Second))
	if b.Len() != 0 {
		t.Errorf("a heartbeat again one second later:\n%s", b.String())
	}
}

func TestKernelStepLineWaitsForTheVerifiedReboot(t *testing.T) {
	var b bytes.Buffer
	p := fleetPlan(1)
	v := newApplyView(&b, style{}, false, nil, p)
	v.event(engine.Event{Host: "spark-001", Addr: "kernel.nvidia", Kind: "apply_start", Message: "update"})
	v.event(engine.Event{Host: "spark-001", Addr: "kernel.nvidia", Kind: "apply_done", Message: "update after 2s", Elapsed: 2 * time.Second})
	v.event(engine.Event{Host: "spark-001", Addr: "kernel.nvidia", Kind: "reboot_start"})
	if b.Len() != 0 {
		t.Errorf("kernel step shown as done before the reboot was verified:\n%s", b.String())
	}
	v.event(engine.Event{Host: "spark-001", Addr: "kernel.nvidia", Kind: "reboot_done", Message: "now running 6.17.0-1014-nvidia, the default boot entry", Elapsed: 5 * time.Second})
	v.close()
	if got := strings.TrimSpace(b.String()); got != "spark-001: kernel.nvidia: updated, rebooted: now running 6.17.0-1014-nvidia, the default boot entry (7.0s)" {
		t.Errorf("got %q", got)
	}
}

func TestDriftShowsHostsThatDriftedAlikeOnce(t *testing.T) {
	moved := []engine.DriftItem{{Addr: "sysctl.loading", Path: `values["vm.swappiness"]`, Live: "33", Wanted: "10", Outside: true, Kind: "changed"}}
	rep := engine.DriftReport{}
	for i := 1; i <= 100; i++ {
		h := engine.DriftHost{Name: fmt.Sprintf("spark-%03d", i)}
		switch {
		case i <= 60:
			h.Items = moved
		case i == 61:
			h.Items = []engine.DriftItem{{Addr: "readahead.nvme", Path: `read_ahead_kb["nvme0n1"]`, Live: "128", Wanted: "8192", Kind: "changed"}}
		case i == 62:
			h.Error = "spark-062 (10.0.0.62:22): connecting: connection refused"
		}
		rep.Hosts = append(rep.Hosts, h)
	}
	var b bytes.Buffer
	renderDrift(&b, rep)
	want := `spark-[063-100]: in sync
spark-[001-060] (60 hosts): 1 attribute drifted
  sysctl.loading values["vm.swappiness"]: live 33, wanted 10 (changed outside sparkform)
spark-061: 1 attribute drifted
  readahead.nvme read_ahead_kb["nvme0n1"]: live 128, wanted 8192 (configuration changed, not applied yet)
spark-062: could not be read: spark-062 (10.0.0.62:22): connecting: connection refused

61 of 100 hosts drifted, 1 could not be read.
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestNoChangesAgreesWithTheNumberOfHosts(t *testing.T) {
	for n, want := range map[int]string{1: "No changes. 1 host matches the configuration.\n", 3: "No changes. 3 hosts match the configuration.\n"} {
		p := fleetPlan(n)
		for _, h := range p.Hosts {
			h.Changes = nil
		}
		var b bytes.Buffer
		renderPlan(&b, p, style{})
		if got := b.String(); got != want {
			t.Errorf("%d hosts: %q, want %q", n, got, want)
		}
	}
}

func TestALongErrorLineIsCutBetweenCharacters(t *testing.T) {
	for n := 110; n < 125; n++ {
		got := firstLine(strings.Repeat("x", n) + "→ 6.17.0-1014-nvidia → 6.11.0-1016-nvidia\nsecond line")
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > 120 || strings.Contains(got, "second") {
			t.Errorf("%d: %q (%d characters)", n, got, utf8.RuneCountInString(got))
		}
	}
}

func TestOnlyTheFirstKindsOfFailureAreShownAndTheRestCounted(t *testing.T) {
	p := fleetPlan(8)
	logs := newRunLogs(t.TempDir(), "apply")
	res := &engine.Result{}
	for i := 1; i <= 8; i++ {
		name := fmt.Sprintf("spark-%03d", i)
		logs.write(name, engine.Event{Host: name, Addr: "kernel.nvidia", Kind: "output", Message: "E: Unable to locate package linux-nvidia-6.17"})
		msg := fmt.Sprintf("kernel.nvidia: apt failed (exit %d)", min(i, 7))
		if i == 1 {
			msg = name + " (10.0.0.1:22): connection lost"
		}
		res.Hosts = append(res.Hosts, &engine.HostResult{Name: name, Status: engine.StatusFailed, Error: msg})
	}
	logs.close()
	var b bytes.Buffer
	renderResult(&b, p, res, style{}, logs)
	out := b.String()
	if n := strings.Count(out, "last lines of "); n != maxFailureGroups {
		t.Errorf("%d log tails, want %d:\n%s", n, maxFailureGroups, out)
	}
	wantAll(t, "output", out, "Error: spark-001 (10.0.0.1:22): connection lost\n", "Error: spark-002: kernel.nvidia: apt failed (exit 2)\n",
		"\n… and 2 more kinds of failure, on 3 hosts: spark-[006-008]; their logs are in "+logs.dir+"/\n")
}

func TestAFailedStepIsOneLineNamingItsAddressOnce(t *testing.T) {
	var b bytes.Buffer
	v := newApplyView(&b, style{}, false, nil, fleetPlan(2))
	msg := "sysctl.loading: failed (exit 1): cannot create /etc/sysctl.d/x: Read-only file system"
	v.event(engine.Event{Host: "spark-001", Addr: "sysctl.loading", Kind: "apply_start", Message: "update"})
	v.event(engine.Event{Host: "spark-001", Addr: "sysctl.loading", Kind: "apply_error", Message: msg, Elapsed: 100 * time.Millisecond})
	v.event(engine.Event{Host: "spark-001", Kind: "host_failed", Message: msg})
	// A host failing for another reason than its step's error still gets its line.
	v.event(engine.Event{Host: "spark-002", Kind: "host_failed", Message: "spark-002 (10.0.0.2:22): connecting: connection refused"})
	v.close()
	want := "spark-001: sysctl.loading: failed after 0.1s (exit 1): cannot create /etc/sysctl.d/x: Read-only file system\n" +
		"spark-002: failed: spark-002 (10.0.0.2:22): connecting: connection refused\n"
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestApplyTotalsCountWhatHappenedOnEveryHost(t *testing.T) {
	p := fleetPlan(3)
	res := &engine.Result{Hosts: []*engine.HostResult{
		{Name: "spark-001", Status: engine.StatusApplied, Applied: []string{"sysctl.loading", "kernel.nvidia"}, Generation: 2},
		{Name: "spark-002", Status: engine.StatusInterrupted, Applied: []string{"sysctl.loading", "kernel.nvidia"}, Error: "interrupted before the smoke tests"},
		{Name: "spark-003", Status: engine.StatusFailed, Applied: []string{"sysctl.loading"}, Error: "kernel.nvidia: apt failed"},
	}}
	var b bytes.Buffer
	renderResult(&b, p, res, style{}, nil)
	out := b.String()
	wantAll(t, "result", out, "Apply finished with errors on 2 hosts. Resources: 3 added, 2 changed, 0 destroyed, on 3 hosts.",
		"spark-002  1      interrupted  1 added, 1 changed, 0 destroyed; interrupted before the smoke tests")
}

func TestHostsThatDidTheSameShareARowWhateverTheirGenerationNumbers(t *testing.T) {
	p := fleetPlan(4)
	res := &engine.Result{}
	for i, gen := range []int{5, 5, 4, 3} {
		res.Hosts = append(res.Hosts, &engine.HostResult{Name: fmt.Sprintf("spark-%03d", i+1), Status: engine.StatusApplied, Applied: []string{"sysctl.loading"}, Generation: gen})
	}
	var b bytes.Buffer
	renderResult(&b, p, res, style{}, nil)
	if out := b.String(); !strings.Contains(out, "Apply complete! Resources: 4 added, 0 changed, 0 destroyed, on 4 hosts, generations 3–5.") || strings.Contains(out, "HOSTS") {
		t.Errorf("one outcome on every host is the totals line:\n%s", out)
	}
	res.Hosts = append(res.Hosts, &engine.HostResult{Name: "spark-005", Status: engine.StatusFailed, Error: "boom"})
	b.Reset()
	renderResult(&b, fleetPlan(5), res, style{}, nil)
	if out := b.String(); !strings.Contains(out, "spark-[001-004]  4      applied  1 added, 0 changed, 0 destroyed; generations 3–5") {
		t.Errorf("hosts applied alike are one row:\n%s", out)
	}
}

func TestInterruptedHostsWithOneMessageAreOneErrorWithoutLogTails(t *testing.T) {
	p := fleetPlan(4)
	logs := newRunLogs(t.TempDir(), "apply")
	msg := "interrupted before llama_cpp.cuda: 3 of 5 changes applied; run apply again to finish"
	res := &engine.Result{}
	for i, status := range []string{engine.StatusInterrupted, engine.StatusInterrupted, engine.StatusFailed, engine.StatusInterrupted} {
		name := fmt.Sprintf("spark-%03d", i+1)
		logs.write(name, engine.Event{Host: name, Addr: "python_venv.vllm", Kind: "output", Message: "Successfully installed vllm-0.11.0"})
		h := &engine.HostResult{Name: name, Status: status, Error: msg}
		if status == engine.StatusFailed {
			h.Error = "kernel.nvidia: apt failed"
		}
		res.Hosts = append(res.Hosts, h)
	}
	logs.close()
	var b bytes.Buffer
	renderResult(&b, p, res, style{}, logs)
	out := b.String()
	_, errs, _ := strings.Cut(out, "Apply finished with errors on 4 hosts.")
	if strings.Count(errs, "Error: ") != 2 || !strings.Contains(errs, "Error: spark-[001-002,004] (3 hosts): "+msg+"\n") ||
		strings.Count(errs, "last lines of ") != 1 || !strings.Contains(errs, "Error: spark-003: kernel.nvidia: apt failed\n  last lines of ") {
		t.Errorf("want one error for the interrupted hosts, without tails, and the failed host's with its tail:\n%s", out)
	}
}

func TestTestSummaryNamesTheHostsResultsCameFromAndThoseThatFailed(t *testing.T) {
	ok := &state.TestRun{Test: "smoke_test.gpt-oss", Mode: "mmap", Seconds: 0.03, Passed: true}
	bad := &state.TestRun{Test: "smoke_test.gpt-oss", Mode: "no-mmap", Seconds: 31, Message: "slower than 30 s"}
	results := []*engine.TestResult{
		{Name: "spark-07", Runs: []*state.TestRun{ok, ok}},
		{Name: "spark-08", Error: "spark-08 (10.0.0.8:22): connecting: connection refused"},
		{Name: "spark-09", Runs: []*state.TestRun{ok, bad}},
	}
	if got, want := testSummary(results), "4 results from 2 hosts; failed on 2 hosts: spark-[08-09] (see the errors above)."; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got, want := testSummary(results[:1]), "2 results from 1 host."; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// A configuration without smoke_test blocks says so: "0 results from 0 hosts." on a fleet of 12
// read as if the hosts had been lost.
func TestTestWithoutSmokeTestsSaysThereAreNone(t *testing.T) {
	results := []*engine.TestResult{{Name: "spark-01"}, {Name: "spark-02"}}
	if got, want := testSummary(results), "No smoke tests: no smoke_test block applies to 2 selected hosts."; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// openPTY opens a pseudo-terminal pair: a real terminal for x/term, without a controlling tty.
func openPTY(t *testing.T) *os.File {
	_, s := openPTYPair(t)
	return s
}

// openPTYPair is openPTY with the master side too, to read what was written to the terminal.
func openPTYPair(t *testing.T) (master, slave *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestColorFollowsTheTerminalNoColorAndTheFlag(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	if styleFor(devnull, false).on {
		t.Error("/dev/null is a character device but not a terminal: no colour")
	}
	if styleFor(&bytes.Buffer{}, false).on {
		t.Error("a buffer (pipe, file) gets no colour")
	}
	tty := openPTY(t)
	if !styleFor(tty, false).on {
		t.Error("a terminal gets colour")
	}
	if styleFor(tty, true).on {
		t.Error("-no-color is honoured")
	}
	t.Setenv("NO_COLOR", "1")
	if styleFor(tty, false).on {
		t.Error("NO_COLOR is honoured")
	}
	var b bytes.Buffer
	renderPlan(&b, fleetPlan(2), style{on: true})
	if !strings.Contains(b.String(), "\x1b[32m+\x1b[0m sysctl") || !strings.Contains(b.String(), "\x1b[33m~\x1b[0m kernel") {
		t.Errorf("plan colours + green and ~ yellow as Terraform does:\n%q", b.String())
	}
	b.Reset()
	renderPlan(&b, fleetPlan(2), style{})
	if regexp.MustCompile("\x1b").MatchString(b.String()) {
		t.Error("plain output holds an escape")
	}
}

func TestPlanSaysSparkformsOwnRollbackIsNotAChangeOutsideIt(t *testing.T) {
	p := fleetPlan(1)
	p.Hosts[0].RolledBack = "at 2026-12-01 04:30:00 UTC: back on 6.11 after the smoke test failed on 6.17"
	p.Hosts[0].Changes[1].Fields[0].Drift = true
	var b bytes.Buffer
	renderPlan(&b, p, style{})
	out := b.String()
	if strings.Contains(out, "changed outside sparkform") || !strings.Contains(out, "(rolled back by sparkform)") ||
		!strings.Contains(out, "# sparkform rolled this host back at 2026-12-01 04:30:00 UTC: back on 6.11 after the smoke test failed on 6.17") {
		t.Errorf("plan after an automatic rollback:\n%s", out)
	}
	b.Reset()
	ui := newJSONUI(&b, "plan")
	ui.plan(p, "plan")
	if c := ofType(checkJSONUI(t, b.String()), "planned_change"); len(c) != 2 || c[1]["change"].(map[string]any)["rolled_back"] == nil {
		t.Errorf("JSON: %v", c)
	}
}

// A resource the host already has, which apply only records in state, is one line and is not
// counted as a change (it used to be an empty "~ llama_cpp {}" block counted in "to change").
func TestAResourceOnlyRecordedInStateIsNotAChange(t *testing.T) {
	p := fleetPlan(3)
	for _, h := range p.Hosts {
		h.Changes = []*engine.Change{{Addr: "llama_cpp.cuda", Type: "llama_cpp", Name: "cuda",
			Diff: resources.Diff{Action: resources.Update, StateOnly: true, Summary: "build d5a78435d96f already matches; recorded in state"}}}
	}
	var b bytes.Buffer
	renderPlan(&b, p, style{})
	out := b.String()
	if strings.Contains(out, `~ llama_cpp "cuda" {`) || !strings.Contains(out, "# llama_cpp.cuda: build d5a78435d96f already matches; recorded in state (nothing changes on the host)") ||
		!strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to destroy, 3 to record in state, on 3 hosts.") {
		t.Errorf("plan:\n%s", out)
	}
}

func TestASkippedBaselineTestGetsNoHeartbeat(t *testing.T) {
	v, b := plainView(
		engine.Event{Host: "spark-01", Addr: "smoke_test.gpt-oss", Kind: "test_start", Message: "before the changes, kernel 6.11"},
		engine.Event{Host: "spark-01", Kind: "test_skipped", Message: "no result from before the changes: command not found"})
	defer v.close()
	v.beat(time.Now().Add(time.Minute))
	if b.Len() != 0 {
		t.Errorf("a test that ended is still reported running:\n%s", b.String())
	}
}

// Groups that differ in one attribute keep their complete blocks, and each but the largest says
// what sets it apart, so the one differing value need not be found by reading blocks side by side.
func TestPlanGroupsSayWhatSetsThemApartFromTheLargest(t *testing.T) {
	p := fleetPlan(100, "spark-007", "spark-008")
	p.Hosts[41].Kernel = "6.17.0-1014-nvidia"
	var b bytes.Buffer
	renderPlan(&b, p, style{})
	out := b.String()
	wantAll(t, "plan", out,
		"spark-[007-008] (2 hosts, kernel 6.11.0-1016-nvidia)\n  # differs from spark-[001-006,009-041,043-100] in sysctl.loading values[\"vm.swappiness\"]\n",
		"spark-042 (10.0.0.42, kernel 6.17.0-1014-nvidia)\n  # differs from spark-[001-006,009-041,043-100] in the running kernel\n",
	)
	if n := strings.Count(out, "# differs from"); n != 2 {
		t.Errorf("%d notes, want one per group but the largest:\n%s", n, out)
	}
	if strings.Count(out, `+ sysctl "loading"`) != 3 || strings.Count(out, `~ kernel "nvidia"`) != 3 {
		t.Errorf("every group's block is complete:\n%s", out)
	}
}

// A host whose resource differs in its reason line and in a field is named by the field alone:
// "sysctl.loading, sysctl.loading values[...]" said the same resource twice.
func TestAGroupNoteNamesAResourceOnceWhenItsFieldsDiffer(t *testing.T) {
	p := fleetPlan(12, "spark-009")
	p.Hosts[8].Changes[0].Summary = "the boot configuration does not set vm.swappiness to the desired value"
	var b bytes.Buffer
	renderPlan(&b, p, style{})
	want := "# differs from spark-[001-008,010-012] in sysctl.loading values[\"vm.swappiness\"]\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("plan lacks %q:\n%s", want, b.String())
	}
	p.Hosts[8].Changes[0].Fields[0].After = "10" // now only the reason line differs
	b.Reset()
	renderPlan(&b, p, style{})
	if want := "# differs from spark-[001-008,010-012] in sysctl.loading\n"; !strings.Contains(b.String(), want) {
		t.Errorf("plan lacks %q:\n%s", want, b.String())
	}
}
