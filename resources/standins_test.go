package resources

// Stand-ins for what a host has (its programs, files recorded on one) for the tests that run
// scripts on this machine.

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// readTestdata is the content of testdata/name.
func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeProgram writes an executable (mode 0755) at path, making its directory: a stand-in for
// a host's tool or server.
func writeProgram(t *testing.T, path, script string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// needProgram skips the test where the program is not installed, and fails it under CI, which
// installs them all (dash, Debian's and Ubuntu's
// sh, is what hosts run scripts with).
func needProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI (scripts/install-deps.sh installs it)", name)
		}
		t.Skip(name + " not installed")
	}
}
