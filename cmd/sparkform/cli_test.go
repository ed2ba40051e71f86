package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/state"
)

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

// -v streams tool output: only the commands that run tools (apply, test, rollback) take it;
// plan and drift listed it and ignored it.
func TestOnlyCommandsThatRunToolsTakeV(t *testing.T) {
	for name, want := range map[string]bool{"plan": false, "drift": false, "apply": true, "test": true, "rollback": true} {
		_, out, _ := cli(t, name, "-h")
		if got := strings.Contains(out, "\n  -v\t"); got != want {
			t.Errorf("%s -h lists -v: %v, want %v", name, got, want)
		}
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
		{[]string{"completion", "zhs"}, `completion: "zhs" is not a shell sparkform completes: bash or zsh. Did you mean zsh?`},
		{[]string{"report", "-format", "cvs"}, `unknown report format "cvs": use table, csv, json or svg. Did you mean csv?`},
		{[]string{"version", "extra"}, "version takes no arguments: extra"},
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
	writeFiles(t, dir, map[string]string{"main.hcl": unreachableHost})
	code, _, errOut := cli(t, "plan", dir, "-connect-timeout", "2")
	if code != 1 || !strings.HasPrefix(errOut, "Error: spark-01 (127.0.0.1:1): ") || strings.Contains(errOut, "spark-01: spark-01") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestStateAddressTyposGetTheClosestAddress(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(t.TempDir()) // -chdir changes the process's directory: t.Chdir puts it back
	st := state.New()
	st.Set("spark-01", sysctlLoading(map[string]string{"vm.swappiness": "10"}))
	saveState(t, dir, st)
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

func TestUnknownCommandFails(t *testing.T) {
	code, _, stderr := cli(t, "frobnicate")
	if code != 1 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestSavedPlanOneByteOverTheLimitIsRefusedNamingFileAndLimit(t *testing.T) {
	old := maxPlanBytes
	maxPlanBytes = 100
	t.Cleanup(func() { maxPlanBytes = old })
	dir := t.TempDir()
	p := filepath.Join(dir, "p.plan")
	if err := os.WriteFile(p, []byte("{"+strings.Repeat(" ", 99)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "plan file " + p + " is larger than 100 bytes: refusing to read it"
	for _, args := range [][]string{{"apply", p}, {"show", p}} {
		if code, _, errOut := cli(t, args...); code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", args, code, errOut, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files written beside the refused plan: %v", entries)
	}
	os.WriteFile(p, []byte("{"+strings.Repeat(" ", 98)+"\n"), 0o600) // exactly at the limit: read, then judged
	if code, _, errOut := cli(t, "show", p); code != 1 || strings.Contains(errOut, "larger than") || !strings.Contains(errOut, "is not a sparkform plan file") {
		t.Errorf("plan at the limit: exit %d, stderr %q", code, errOut)
	}
}

func TestPushedStateOneByteOverTheLimitIsRefusedAndTheStateLeftAsItWas(t *testing.T) {
	work := t.TempDir()
	writeState(t, work)
	statePath := filepath.Join(work, "sparkform.state.json")
	before, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	old := state.MaxStateBytes
	state.MaxStateBytes = int64(len(before))
	t.Cleanup(func() { state.MaxStateBytes = old })
	big := filepath.Join(t.TempDir(), "big.json")
	os.WriteFile(big, append(before, '\n'), 0o600) // one byte over
	want := "state " + big + " is larger than " + strconv.Itoa(len(before)) + " bytes: refusing to read it"
	if code, _, errOut := cli(t, "-chdir="+work, "state", "push", big); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr %q, want %q", code, errOut, want)
	}
	if after, _ := os.ReadFile(statePath); string(after) != string(before) {
		t.Error("the state changed")
	}
	entries, _ := os.ReadDir(work)
	for _, e := range entries {
		if n := e.Name(); n != "sparkform.state.json" && n != "sparkform.state.json.lock" {
			t.Errorf("left behind by a refused push: %s", n)
		}
	}
	release, err := state.NewStore(statePath).Lock(context.Background(), "test", 0)
	if err != nil {
		t.Fatalf("the state is locked afterwards: %v", err)
	}
	release()
}
