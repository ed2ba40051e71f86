package state

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// marshalIndent is the reference layout of the state file: encoding/json's.
func marshalIndent(t testing.TB, st *State, serial uint64) []byte {
	c := *st
	c.Version, c.Serial = FormatVersion, serial
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// history is a state with every kind of record, odd characters and empty and nil entries.
func history() *State {
	st := sample()
	at := time.Date(2026, 11, 30, 12, 0, 0, 5, time.UTC)
	h := st.Host("spark-01")
	h.AddGeneration(at, "h<1>&", "rollback to generation 2 \u2028")
	h.AddGeneration(at.Add(time.Hour), "h2", "")
	h.Incidents = append(h.Incidents, &Incident{Time: at, Kind: "rolled_back", Message: "kernel \"6.17\" <did not boot>"}, nil)
	h.AddTestRun(&TestRun{Time: at, Test: "smoke_test.a", Mode: "mmap", Seconds: 21.5, Runs: []float64{21, 22}, Passed: true,
		Kernel: "6.17", Context: map[string]string{"b": "2", "a": "1"}, Setup: &TestSetup{Sysctl: map[string]string{"vm.x": "1"}}})
	h.AddTestRun(nil)
	st.Host("spark-00") // no key, no resources, no history
	st.Hosts["spark-03"] = &Host{Resources: nil, Tests: []*TestRun{}}
	st.Hosts["spark-04"] = nil
	return st
}

func TestEncodingIsEncodingJSONsIndentedLayoutByteForByte(t *testing.T) {
	for name, st := range map[string]*State{"empty": New(), "sample": sample(), "history": history()} {
		got, err := encode(st, 7)
		if err != nil {
			t.Fatal(err)
		}
		if want := marshalIndent(t, st, 7); !bytes.Equal(got, want) {
			t.Fatalf("%s: encoding differs from json.MarshalIndent:\n%s\n---\n%s", name, got, want)
		}
	}
}

// A persist reuses the encodings of history records from the one before: it encodes what
// changed, and the file is still exactly what a full encoding gives.
func TestPersistReusesHistoryEncodingsAndWritesTheFullEncoding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s := NewStore(path)
	st := history()
	delete(st.Hosts, "spark-04") // a null host does not load back
	if err := s.Persist(st); err != nil {
		t.Fatal(err)
	}
	if n := len(s.enc.cache); n != 4 { // spark-01's 2 generations, incident and test run (nil ones are not cached)
		t.Fatalf("%d history records cached, want 4", n)
	}
	g := st.Hosts["spark-01"].Generations[0]
	first := s.enc.cache[g]
	st.Host("spark-02").HostKey = "ssh-ed25519 CCCC"
	st.Host("spark-01").AddTestRun(&TestRun{Test: "smoke_test.a", Mode: "no-mmap", Runs: []float64{}})
	if err := s.Persist(st); err != nil {
		t.Fatal(err)
	}
	if again := s.enc.cache[g]; len(again) == 0 || &again[0] != &first[0] {
		t.Fatal("a generation was encoded again instead of reused")
	}
	disk, _ := os.ReadFile(path)
	if want := marshalIndent(t, st, 2); !bytes.Equal(disk, want) {
		t.Fatalf("file after a cached persist differs from the full encoding:\n%s\n---\n%s", disk, want)
	}
}

// A file laid out otherwise (by hand, by another tool) that holds the same state is the same
// state: persisting what was loaded from it leaves it untouched.
func TestPersistOfLoadedStateLeavesAnOtherwiseLaidOutFileUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	st := history()
	delete(st.Hosts, "spark-04") // a null host does not load back, nor a null history record
	h := st.Hosts["spark-01"]
	h.Incidents, h.Tests = h.Incidents[:len(h.Incidents)-1], h.Tests[:len(h.Tests)-1]
	st.Serial = 4
	var compact bytes.Buffer
	if err := json.Compact(&compact, marshalIndent(t, st, 4)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, compact.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewStore(path)
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	if err := s.Persist(got); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) || got.Serial != 4 {
		t.Fatalf("persisting the loaded state rewrote the file (serial now %d)", got.Serial)
	}
	got.Host("spark-01").HostKey = "changed"
	if err := s.Persist(got); err != nil || got.Serial != 5 {
		t.Fatalf("a change after load: serial %d, %v", got.Serial, err)
	}
}

// A file another writer replaced since this Store wrote it is read again: its serial counts,
// and another lineage is refused.
func TestPersistSeesAFileReplacedSinceItsLastWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s := NewStore(path)
	st := sample()
	if err := s.Persist(st); err != nil { // serial 1
		t.Fatal(err)
	}
	other := st.Clone()
	other.Serial = 9
	other.Host("spark-01").HostKey = "other"
	if err := NewStore(path).Replace(other); err != nil {
		t.Fatal(err)
	}
	st.Host("spark-02").HostKey = "mine"
	if err := s.Persist(st); err != nil || st.Serial != 10 {
		t.Fatalf("persist over a newer file: serial %d, %v; want 10", st.Serial, err)
	}
	foreign := sample()
	foreign.Serial = 20
	if err := NewStore(path).Replace(foreign); err != nil {
		t.Fatal(err)
	}
	st.Host("spark-02").HostKey = "mine again"
	if err := s.Persist(st); err == nil {
		t.Fatal("persist over a file of another lineage succeeded")
	}
}
