package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// writeState writes a state with one host and one resource into dir (unit tests: no lab).
func writeState(t *testing.T, dir string) {
	t.Helper()
	st := state.New()
	st.Set("spark-01", &state.Resource{Type: "sysctl", Name: "loading", AppliedAt: time.Now(),
		Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"values": cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("10")})})}})
	st.Host("spark-01").AddGeneration(time.Now(), "abc", "")
	if err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Persist(st); err != nil {
		t.Fatal(err)
	}
}

func TestEveryCommandFindsTheStateByOneRule(t *testing.T) {
	work := t.TempDir()
	writeState(t, work)
	elsewhere := t.TempDir()
	t.Chdir(elsewhere)

	for _, args := range [][]string{
		{"show", work},
		{"-chdir=" + work, "show"},
		{"-chdir", work, "state", "list"},
		{"state", "list", "-state", filepath.Join(work, "sparkform.state.json")},
		{"history", work},
		{"-chdir=" + work, "history"},
	} {
		t.Chdir(elsewhere)
		code, out, errOut := cli(t, args...)
		if code != 0 || !strings.Contains(out, "spark-01") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

func TestMissingStateIsSaidPlainly(t *testing.T) {
	empty := t.TempDir()
	t.Chdir(empty)
	for _, args := range [][]string{
		{"show"}, {"show", empty}, {"state", "list"}, {"state", "show", "spark-01/sysctl.loading"},
		{"history"}, {"report", empty}, {"-chdir=" + empty, "report"},
	} {
		code, out, errOut := cli(t, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "no state at "+filepath.Join(".", "sparkform.state.json")) && !strings.Contains(errOut, "no state at "+filepath.Join(empty, "sparkform.state.json")) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(empty, "sparkform.state.json")); err == nil {
		t.Error("reading a missing state created one")
	}
}

func TestChdirToMissingDirectoryFails(t *testing.T) {
	code, _, errOut := cli(t, "-chdir=/nonexistent/sparkform", "plan")
	if code != 1 || !strings.Contains(errOut, "-chdir") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestHelpPrintsTheSynopsisToStdoutAndExitsZeroForEveryCommand(t *testing.T) {
	for _, c := range commandTable() {
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}} {
			code, out, errOut := cli(t, args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: sparkform "+c.name) {
				t.Errorf("%v: exit %d, stdout %.80q, stderr %.80q", args, code, out, errOut)
			}
		}
	}
	for _, sub := range []string{"list", "show", "rm", "pull", "push", "migrate", "versions"} {
		code, out, errOut := cli(t, "state", sub, "-h")
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: sparkform state "+sub) {
			t.Errorf("state %s -h: exit %d, stdout %.80q, stderr %.80q", sub, code, out, errOut)
		}
	}
	for _, args := range [][]string{{"help", "plan"}, {"help", "state", "list"}} {
		code, out, errOut := cli(t, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: sparkform "+strings.Join(args[1:], " ")) {
			t.Errorf("%v: exit %d, stdout %.80q, stderr %.80q", args, code, out, errOut)
		}
	}
	code, out, _ := cli(t, "-h")
	if code != 0 || !strings.Contains(out, "  version    ") || !strings.Contains(out, "  completion ") {
		t.Errorf("sparkform -h: exit %d, lists no version or completion:\n%s", code, out)
	}
}

func TestUnknownCommandsAndFlagsGetTheClosestName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"paln"}, `unknown command "paln". Did you mean plan?`},
		{[]string{"plan", "-hots", "spark-01"}, "-hots. Did you mean -host?"},
		{[]string{"apply", "--auto-aprove"}, "Did you mean -auto-approve?"},
		{[]string{"plan", "-zzzzzz"}, "usage: sparkform plan [DIR] [flags]"},
		{[]string{"state", "lst"}, `unknown state subcommand "lst". Did you mean list?`},
		{[]string{"report", "-json"}, "-json. Did you mean -format json?"},
		{[]string{"state", "list", "-chdir=work"}, "-chdir is a global option: it goes before the command (sparkform -chdir=DIR state list)"},
		{[]string{"plan", "-parallelism", "0"}, `invalid value "0" for flag -parallelism: give a whole number of at least 1`},
	} {
		code, _, errOut := cli(t, c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

func TestLabSubcommandsHelpAndMistakesAreAnsweredAsEveryOtherCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nolab")
	for _, sub := range []string{"up", "down", "status"} {
		code, out, errOut := cli(t, "lab", sub, "-h")
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: sparkform lab "+sub+" [") || !strings.Contains(out, "-dir") {
			t.Errorf("lab %s -h: exit %d, stdout %q, stderr %q", sub, code, out, errOut)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"lab"}, "usage: sparkform lab up"},
		{[]string{"lab", "upp"}, `unknown lab subcommand "upp". Did you mean up?`},
		{[]string{"lab", "status", "-dri", dir}, "-dri. Did you mean -dir?"},
		{[]string{"lab", "status", dir}, "unexpected arguments"},
		{[]string{"lab", "up", "-dir", dir, "-latency", "25"}, "give a unit: 25ms or 25s"},
		{[]string{"lab", "status", "-dir", dir}, "Error: lab: no lab in " + dir},
	} {
		// Usage errors exit 1 as for every command: 2 means "changes present".
		code, out, errOut := cli(t, c.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q, want %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a refused lab command created its directory")
	}
}

func TestAnUnreachableHostsErrorNamesItOnce(t *testing.T) {
	dir := t.TempDir()
	// Port 1 on loopback refuses at once.
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("host \"spark-01\" {\n  address = \"127.0.0.1\"\n  port = 1\n  user = \"root\"\n}\n"), 0o644)
	code, _, errOut := cli(t, "plan", dir, "-connect-timeout", "2")
	if code != 1 || !strings.HasPrefix(errOut, "Error: spark-01 (127.0.0.1:1): ") || strings.Contains(errOut, "spark-01: spark-01") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestStateAddressTyposGetTheClosestAddress(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(t.TempDir()) // -chdir changes the process's directory: t.Chdir puts it back
	st := state.New()
	st.Set("spark-01", &state.Resource{Type: "sysctl", Name: "loading", AppliedAt: time.Now(), Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"values": cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("10")})})}})
	if err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Persist(st); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"state", "show", "sysctl.loadin"}, "no resource sysctl.loadin in sparkform.state.json. Did you mean sysctl.loading?"},
		{[]string{"state", "rm", "spark-02/sysctl.loading"}, "no resource matches spark-02/sysctl.loading. Did you mean spark-01/sysctl.loading?"},
		{[]string{"state", "list", "spark-09"}, "no host or resource spark-09 in sparkform.state.json. Did you mean spark-01?"},
		{[]string{"state", "list", "spark-01", "sysctl.loadin"}, "no host or resource sysctl.loadin in sparkform.state.json. Did you mean sysctl.loading?"},
	} {
		code, _, errOut := cli(t, append([]string{"-chdir=" + dir}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

func TestReportMistakesAreNamed(t *testing.T) {
	dir := t.TempDir()
	writeState(t, dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", dir, "-by", "hots"}, `-by is configuration or host, not "hots". Did you mean host?`},
		{[]string{"report", dir, "-compare", "7"}, "-compare 7: no host has generation 7"},
	} {
		code, _, errOut := cli(t, c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

func TestApplyOfAMissingPlanFileSaysSo(t *testing.T) {
	code, _, errOut := cli(t, "apply", filepath.Join(t.TempDir(), "p.plan"))
	if code != 1 || !strings.Contains(errOut, "p.plan: no such saved plan or configuration directory") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestDurationFlagsTakeABareNumberAsSeconds(t *testing.T) {
	var d time.Duration
	f := durationFlag{d: &d}
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "0.5": 500 * time.Millisecond, "5s": 5 * time.Second, "2m": 2 * time.Minute} {
		if err := f.Set(in); err != nil || d != want {
			t.Errorf("%q: %v, %v; want %v", in, d, err, want)
		}
	}
	for d, want := range map[time.Duration]string{10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "1h30m", 10 * time.Second: "10s", 0: "0s", 90 * time.Second: "1m30s"} {
		if got := (durationFlag{d: &d}).String(); got != want {
			t.Errorf("%v is shown as %q, want %q", d, got, want)
		}
	}
	if _, out, _ := cli(t, "plan", "-h"); !strings.Contains(out, "(default 10m)") || strings.Contains(out, "10m0s") {
		t.Errorf("plan -h shows -step-timeout's default in Go's form:\n%s", out)
	}
	for _, bad := range []string{"five", "-3", "5x"} {
		if err := f.Set(bad); err == nil || bad != "-3" && !strings.Contains(err.Error(), "write e.g. 5s") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDebugLogRecordsTheCommandAndEachConnection(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "debug.log")
	// Port 1 on loopback refuses at once: the dial fails fast, and the log must say so.
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("variable \"secret\" {\n  type = string\n  default = \"\"\n}\nhost \"spark-01\" {\n  address = \"127.0.0.1\"\n  port = 1\n  user = \"root\"\n}\n"), 0o644)
	t.Setenv("SPARKFORM_LOG", "debug")
	t.Setenv("SPARKFORM_LOG_PATH", logFile)
	code, _, _ := cli(t, "plan", dir, "-var", "secret=hunter2", "-connect-timeout", "2")
	if code != 1 {
		t.Errorf("plan of an unreachable host: exit %d", code)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{"sparkform start", "command=plan", "msg=dial host=spark-01", "connect_timeout=2s", "msg=dialed host=spark-01", "error=", "sparkform end"} {
		if !strings.Contains(log, want) {
			t.Errorf("debug log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "hunter2") {
		t.Errorf("debug log holds a -var value:\n%s", log)
	}
}

func TestHistoryLinesStayShort(t *testing.T) {
	dir := t.TempDir()
	st := state.New()
	long := map[string]cty.Value{}
	for i := 0; i < 30; i++ {
		long[fmt.Sprintf("vm.key_number_%02d", i)] = cty.StringVal("1234567")
	}
	st.Set("spark-01", &state.Resource{Type: "sysctl", Name: "loading", AppliedAt: time.Now(), Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"values": cty.MapVal(long)})}})
	st.Set("spark-01", &state.Resource{Type: "readahead", Name: "nvme", AppliedAt: time.Now(), Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"kb": cty.NumberIntVal(8192)})}})
	st.Host("spark-01").AddGeneration(time.Now(), "abcdef0123456789", "rollback to generation 1")
	if err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Persist(st); err != nil {
		t.Fatal(err)
	}
	code, out, _ := cli(t, "history", dir)
	if code != 0 || !strings.Contains(out, "readahead.nvme") || !strings.Contains(out, "kb=8192") || !strings.Contains(out, "(rollback to generation 1)") {
		t.Fatalf("history: %d\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^ +1  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z0-9+-]+  config abcdef012345`).MatchString(out) {
		t.Errorf("a generation's time does not name its zone:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > historyWidth {
			t.Errorf("a history line of %d characters:\n%s", n, l)
		}
	}
}

func TestHistoryListsWhatEachGenerationChanged(t *testing.T) {
	dir := t.TempDir()
	st := state.New()
	sysctl := func(v string) *state.Resource {
		return &state.Resource{Type: "sysctl", Name: "loading", AppliedAt: time.Now(), Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"values": cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal(v)})})}}
	}
	st.Set("spark-01", sysctl("10"))
	st.Set("spark-01", &state.Resource{Type: "readahead", Name: "nvme", AppliedAt: time.Now(), Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"kb": cty.NumberIntVal(8192)})}})
	st.Host("spark-01").AddGeneration(time.Now(), "aaaa", "")
	st.Set("spark-01", sysctl("7"))
	st.Host("spark-01").AddGeneration(time.Now(), "bbbb", "")
	delete(st.Host("spark-01").Resources, "readahead.nvme")
	st.Host("spark-01").AddGeneration(time.Now(), "cccc", "")
	if err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Persist(st); err != nil {
		t.Fatal(err)
	}
	code, out, _ := cli(t, "history", dir)
	_, gen2, _ := strings.Cut(out, "config bbbb")
	gen2, gen3, _ := strings.Cut(gen2, "config cccc")
	if code != 0 || !strings.Contains(gen2, "sysctl.loading  vm.swappiness=7\n         (1 other resource as in generation 1)\n") || strings.Contains(gen2, "kb=8192") ||
		!strings.Contains(gen3, "readahead.nvme  (removed)\n") || strings.Contains(gen3, "swappiness") {
		t.Errorf("history: %d\n%s", code, out)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	code, _, stderr := cli(t, "frobnicate")
	if code != 1 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestParseInterleavedAcceptsFlagsAfterPositionalsAndDoubleDash(t *testing.T) {
	fs := newFlagSet("t", &bytes.Buffer{})
	out := fs.String("out", "", "")
	var hosts multiFlag
	fs.Var(&hosts, "host", "")
	pos, err := parseInterleaved(fs, []string{"dir", "--out", "p.json", "-host", "a", "--host=b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pos) != 1 || pos[0] != "dir" || *out != "p.json" || hosts.String() != "a,b" {
		t.Fatalf("pos %v out %q hosts %v", pos, *out, hosts)
	}
}
