package resources

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The scripts that run on hosts are POSIX sh that shellcheck finds nothing in (.ci/run checks
// them too; this keeps `go test` honest where shellcheck is installed).
func TestScriptsAreShellcheckClean(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck is required under CI (scripts/install-deps.sh installs it)")
		}
		t.Skip("shellcheck not installed (scripts/install-deps.sh installs it)")
	}
	files, _ := filepath.Glob("scripts/*.sh")
	if len(files) == 0 {
		t.Fatal("no scripts found")
	}
	if out, err := exec.Command(sc, append([]string{"-s", "sh"}, files...)...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s: %v\n%s", strings.Join(files, " "), err, out)
	}
}
