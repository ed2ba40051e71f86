package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/state"
)

func TestReplaceStateKeepsOneHistoryBacksUpAndNeverGoesBackwards(t *testing.T) {
	dir := t.TempDir()
	dst := state.NewStore(filepath.Join(dir, "sparkform.state.json"))
	first := state.New()
	first.Serial = 3
	first.Host("spark-01")

	r, err := ReplaceState(dst, first, "first.json", false, "")
	if err != nil || r.BackedUp != "" || r.Serial != 3 || r.Lineage != first.Lineage {
		t.Fatalf("into an empty destination: %+v %v, want serial 3 and no backup", r, err)
	}
	if r, err = ReplaceState(dst, first, "first.json", false, ""); err != nil || !r.Unchanged {
		t.Fatalf("the same hosts again: %+v %v, want unchanged", r, err)
	}

	older := first.Clone()
	older.Host("spark-02")
	if _, err := ReplaceState(dst, older, "older.json", false, ""); err == nil || !strings.Contains(err.Error(), "not older than serial 3") {
		t.Fatalf("a serial that is not newer: %v, want a refusal naming both serials", err)
	}
	backup := filepath.Join(dir, "backup.json")
	r, err = ReplaceState(dst, older, "older.json", true, backup)
	if err != nil || r.Serial != 4 || r.OldSerial != 3 || r.BackedUp != backup {
		t.Fatalf("-force: %+v %v, want serial 4 over 3, backed up to %s", r, err, backup)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup: %v %v, want mode 0600", fi, err)
	}
	if b, err := state.NewStore(backup).Load(); err != nil || b.Serial != 3 || b.Hosts["spark-02"] != nil {
		t.Fatalf("backup holds %+v %v, want the replaced serial 3", b, err)
	}

	other := state.New()
	other.Serial = 9
	if _, err := ReplaceState(dst, other, "other.json", true, ""); err == nil || !strings.Contains(err.Error(), "lineage") {
		t.Fatalf("another lineage, even with force: %v, want a refusal", err)
	}
	if st, _ := dst.Load(); st.Serial != 4 || st.Lineage != first.Lineage {
		t.Fatalf("after the refusals the destination holds serial %d lineage %s", st.Serial, st.Lineage)
	}
}
