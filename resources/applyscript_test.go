package resources

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// runFragment runs a fragment as the engine does (a subshell of its own) and returns its status.
func runFragment(t *testing.T, script string) int {
	t.Helper()
	out, err := exec.Command("sh", "-c", "(\n"+script+"\n) 2>&1").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sh: %v: %s", err, out)
	}
	return 0
}

// A fragment whose first write fails exits ExitUnchanged (the host is as it was, so state keeps
// the step's record); one that fails after a write succeeded exits 1 (changed in part).
func TestAFragmentFailingBeforeItsFirstChangeSaysItChangedNothing(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing", "f") // a directory that cannot be written into
	good := filepath.Join(dir, "good")
	values := func(k string) string {
		if k == "bad" {
			return missing
		}
		return good
	}
	for _, tc := range []struct {
		name   string
		script string
		want   int
	}{
		{"file write fails first", writeFileScript(missing, "x\n", true) + writeValuesScript("sysctl", map[string]string{"ok": "1"}, values, false), ExitUnchanged},
		{"file write fails after a change", writeFileScript(good, "x\n", true) + writeFileScript(missing, "x\n", false), 1},
		{"removal fails first", removeFileScript(dir, true), ExitUnchanged},
		{"every value fails first", writeValuesScript("sysctl", map[string]string{"bad": "1"}, values, true), ExitUnchanged},
		{"one value of two fails first", writeValuesScript("sysctl", map[string]string{"bad": "1", "ok": "2"}, values, true), 1},
		{"values fail after the file", writeFileScript(good, "x\n", true) + writeValuesScript("sysctl", map[string]string{"bad": "1"}, values, false), 1},
		{"all succeed", writeFileScript(good, "x\n", true) + writeValuesScript("sysctl", map[string]string{"ok": "1"}, values, false), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runFragment(t, tc.script); got != tc.want {
				t.Errorf("exit %d, want %d", got, tc.want)
			}
		})
	}
	if b, err := os.ReadFile(good); err != nil || len(b) == 0 {
		t.Fatalf("the writes that could succeed did not: %q %v", b, err)
	}
}
