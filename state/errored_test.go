package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tinyFS mounts a small tmpfs on a new directory (root only) and unmounts it when the test ends.
func tinyFS(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes zeros into dir until the filesystem is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

func TestPersistOnAFullDiskFailsAndKeepsThePreviousFileIntact(t *testing.T) {
	dir := tinyFS(t, "64k")
	s := NewStore(filepath.Join(dir, "sparkform.state.json"))
	st := New()
	st.Host("spark-01").HostKey = "ssh-ed25519 AAAA"
	if err := s.Persist(st); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.Path())
	fill(t, dir)
	// Big enough not to fit into what a full disk has left.
	st.Host("spark-02").HostKey = "ssh-ed25519 " + strings.Repeat("B", 8192)
	err := s.Persist(st)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Persist on a full disk: %v, want ENOSPC", err)
	}
	after, _ := os.ReadFile(s.Path())
	if !bytes.Equal(before, after) {
		t.Fatalf("the state file changed although the write failed")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}

	// The unsaved state goes to the first directory that takes it, whole.
	other := t.TempDir()
	p, err := WriteErrored(st, dir, other)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(p) != other {
		t.Fatalf("errored state written to %s, want it in %s (the first directory is full)", p, other)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("errored state mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := NewStore(p).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Lineage != st.Lineage || got.Hosts["spark-02"] == nil || got.Serial != st.Serial+1 {
		t.Fatalf("errored state lacks what could not be saved: %+v", got)
	}
	ents, _ = os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "sparkform.errored-state") {
			t.Errorf("a partial errored state %s was left in the full directory", e.Name())
		}
	}
}
