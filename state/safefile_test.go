package state

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// victim is a file elsewhere that a link in the state directory points at; it must stay intact.
func victim(t *testing.T) (string, []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	content := []byte("precious\n")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, content
}

func assertIntact(t *testing.T, path string, want []byte) {
	t.Helper()
	if got, err := os.ReadFile(path); err != nil || string(got) != string(want) {
		t.Fatalf("%s was changed through the link: %q %v", path, got, err)
	}
}

func TestLockThroughASymlinkIsRefusedAndItsTargetNotTruncated(t *testing.T) {
	v, content := victim(t)
	path := filepath.Join(t.TempDir(), "sparkform.state.json")
	if err := os.Symlink(v, path+".lock"); err != nil {
		t.Fatal(err)
	}
	release, err := NewStore(path).Lock(context.Background(), "apply", 0)
	if err == nil {
		release()
		t.Fatal("lock through a symlink was taken")
	}
	if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("error does not say why: %v", err)
	}
	assertIntact(t, v, content)
}

func TestLockFileWithASecondHardLinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	v := filepath.Join(dir, "victim")
	os.WriteFile(v, []byte("precious\n"), 0o600)
	path := filepath.Join(dir, "sparkform.state.json")
	if err := os.Link(v, path+".lock"); err != nil {
		t.Skip("no hard links here:", err)
	}
	if release, err := NewStore(path).Lock(context.Background(), "apply", 0); err == nil {
		release()
		t.Fatal("lock on a hard-linked file was taken")
	} else if !strings.Contains(err.Error(), "hard links") {
		t.Errorf("error does not say why: %v", err)
	}
	assertIntact(t, v, []byte("precious\n"))
}

func TestStateAndBackupThroughSymlinksAreRefused(t *testing.T) {
	v, content := victim(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "sparkform.state.json")

	// The state file itself is a link: neither read nor replaced.
	os.Symlink(v, path)
	s := NewStore(path)
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Load through a symlink: %v", err)
	}
	if _, err := s.Exists(); err == nil {
		t.Error("Exists through a symlink did not refuse")
	}
	if err := s.Persist(New()); err == nil {
		t.Error("Persist over a symlink succeeded")
	}
	assertIntact(t, v, content)
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}

	// The backup is a link: the first change refuses rather than writing through or over it.
	os.Remove(path)
	s = NewStore(path)
	st := New()
	if err := s.Persist(st); err != nil {
		t.Fatal(err)
	}
	os.Symlink(v, path+".backup")
	st.Hosts["h"] = &Host{Resources: map[string]*Resource{}}
	if err := NewStore(path).Persist(st); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Persist with a symlinked backup: %v", err)
	}
	assertIntact(t, v, content)
}

func TestStateDirectoryWritableByOthersWithoutStickyBitWarns(t *testing.T) {
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o700, false}, {0o755, false}, {0o775, true}, {0o777, true}, {0o777 | os.ModeSticky, false}} {
		dir := filepath.Join(t.TempDir(), "d")
		os.Mkdir(dir, 0o700)
		if err := os.Chmod(dir, c.mode); err != nil {
			t.Fatal(err)
		}
		w := NewStore(filepath.Join(dir, "sparkform.state.json")).DirWarning()
		if (w != "") != c.warn {
			t.Errorf("mode %v: warning %q, want warning=%v", c.mode, w, c.warn)
		}
		if c.warn && !strings.Contains(w, dir) {
			t.Errorf("warning does not name the directory: %q", w)
		}
	}
}

func lowerMaxStateBytes(t *testing.T, n int64) {
	old := MaxStateBytes
	MaxStateBytes = n
	t.Cleanup(func() { MaxStateBytes = old })
}

func TestStateFileOneByteOverTheLimitIsRefusedAndLeftAsItWas(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sparkform.state.json")
	s := NewStore(path)
	if err := s.Persist(sample()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s = NewStore(path)
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	lowerMaxStateBytes(t, int64(len(raw))-1)
	want := "state file " + path + " is larger than " + strconv.Itoa(len(raw)-1) + " bytes: refusing to read it"
	if _, err := NewStore(path).Load(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("load: err = %v, want %q", err, want)
	}
	st.Hosts["spark-01"].HostKey = "changed"
	if err := s.Persist(st); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("persist over an oversized file: err = %v, want %q", err, want)
	}
	if err := s.Replace(st); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("replace over an oversized file: err = %v, want %q", err, want)
	}
	if after, _ := os.ReadFile(path); string(after) != string(raw) {
		t.Error("the state file changed")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != "sparkform.state.json" && n != "sparkform.state.json.lock" {
			t.Errorf("left behind: %s", n)
		}
	}
	release, err := s.Lock(context.Background(), "test", 0)
	if err != nil {
		t.Fatalf("the state is locked afterwards: %v", err)
	}
	release()
	lowerMaxStateBytes(t, int64(len(raw)))
	if _, err := NewStore(path).Load(); err != nil {
		t.Fatalf("a file exactly at the limit: %v", err)
	}
}
