package state

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// ignoredBy reports whether a file named base, in a subdirectory, matches a pattern of the
// .gitignore text (the simple patterns it holds: no negation, no directory-only match).
func ignoredBy(gitignore, base string) bool {
	for _, line := range strings.Split(gitignore, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "/") {
			continue
		}
		if ok, _ := path.Match(line, base); ok {
			return true
		}
	}
	return false
}

// plan and apply leave sparkform.state.json.lock beside the state (the lock file is never
// deleted: that would race), and the state and its backup hold host keys: a configuration kept
// in this repository (examples/) must not get them committed.
func TestTheStateAndItsLockAndBackupBesideAConfigurationAreIgnoredByGit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(filepath.Join("examples", "quickstart", "sparkform.state.json"))
	for _, p := range []string{s.path, s.lockPath, s.BackupPath(), filepath.Join("x", "prod.state.json.lock")} {
		if !ignoredBy(string(b), filepath.Base(p)) {
			t.Errorf("%s is not ignored by .gitignore", p)
		}
	}
}
