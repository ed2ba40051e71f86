package main

import (
	"os"
	"path/filepath"
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
