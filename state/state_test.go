package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

func TestNewHasRandomV4LineageAndCurrentVersion(t *testing.T) {
	a, b := New(), New()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !re.MatchString(a.Lineage) {
		t.Fatalf("lineage %q is not a UUID v4", a.Lineage)
	}
	if a.Lineage == b.Lineage {
		t.Fatal("two new states share a lineage")
	}
	if a.Version != FormatVersion || a.Serial != 0 || a.Hosts == nil {
		t.Fatalf("new state = %+v", a)
	}
}

func TestValueRoundTripsThroughJSONWithItsType(t *testing.T) {
	tests := []struct {
		name string
		v    cty.Value
	}{
		{"string", cty.StringVal("10")},
		{"number", cty.NumberIntVal(8192)},
		{"fraction", cty.NumberFloatVal(0.25)},
		{"bool", cty.True},
		{"map of string", cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("10"), "vm.dirty_ratio": cty.StringVal("5")})},
		{"list of number", cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)})},
		{"empty list keeps element type", cty.ListValEmpty(cty.String)},
		{"set", cty.SetVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{"object with null attribute", cty.ObjectVal(map[string]cty.Value{
			"device": cty.StringVal("nvme0n1"), "kb": cty.NumberIntVal(8192), "prev": cty.NullVal(cty.Number),
			"nested": cty.ObjectVal(map[string]cty.Value{"l": cty.ListVal([]cty.Value{cty.StringVal("x")})}),
		})},
		{"typed null", cty.NullVal(cty.Map(cty.String))},
		{"tuple", cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(1)})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(Value{tc.v})
			if err != nil {
				t.Fatal(err)
			}
			var got Value
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("unmarshal %s: %v", b, err)
			}
			if !got.Type().Equals(tc.v.Type()) || !got.RawEquals(tc.v) {
				t.Fatalf("round trip of %#v via %s gave %#v", tc.v, b, got.Value)
			}
		})
	}
}

func TestNilValueIsJSONNull(t *testing.T) {
	b, err := json.Marshal(Value{})
	if err != nil || string(b) != "null" {
		t.Fatalf("Marshal(Value{}) = %s, %v", b, err)
	}
	v := Value{cty.StringVal("x")}
	if err := json.Unmarshal([]byte("null"), &v); err != nil || v.Value != cty.NilVal || !v.IsNull() {
		t.Fatalf("Unmarshal(null) = %#v, %v", v.Value, err)
	}
}

func TestUnknownValueCannotBePersisted(t *testing.T) {
	if _, err := json.Marshal(Value{cty.UnknownVal(cty.String)}); err == nil {
		t.Fatal("an unknown value was serialized; state must only hold applied values")
	}
}

func sample() *State {
	st := New()
	h := st.Host("spark-01")
	h.HostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE"
	st.Set("spark-01", &Resource{Type: "sysctl", Name: "loading",
		Attributes: Value{cty.ObjectVal(map[string]cty.Value{"values": cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("10")})})},
		Original:   Value{cty.MapVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("60")})},
		AppliedAt:  time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)})
	st.Set("spark-02", &Resource{Type: "readahead", Name: "nvme", Attributes: Value{cty.NumberIntVal(8192)}})
	return st
}

func TestStoreRoundTripKeepsLineageAndContent(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "s.json"))
	st := sample()
	if err := s.Persist(st); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Lineage != st.Lineage || got.Serial != 1 || got.Version != FormatVersion {
		t.Fatalf("loaded lineage/serial/version %s/%d/%d, want %s/1/%d", got.Lineage, got.Serial, got.Version, st.Lineage, FormatVersion)
	}
	a, _ := encode(st, 0)
	b, _ := encode(got, 0)
	if string(a) != string(b) {
		t.Fatalf("content changed across persist/load:\n%s\n---\n%s", a, b)
	}
	r := got.Lookup("spark-01", "sysctl.loading")
	if r == nil || !r.Original.RawEquals(st.Lookup("spark-01", "sysctl.loading").Original.Value) || !r.AppliedAt.Equal(time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("resource after load = %+v", r)
	}
	if got.Lookup("spark-02", "readahead.nvme").Original.Value != cty.NilVal {
		t.Fatal("absent original did not load as NilVal")
	}
}

func TestLoadOfMissingFileIsFreshState(t *testing.T) {
	st, err := NewStore(filepath.Join(t.TempDir(), "none.json")).Load()
	if err != nil || st.Lineage == "" || st.Serial != 0 || len(st.Hosts) != 0 {
		t.Fatalf("Load missing = %+v, %v", st, err)
	}
}

func TestSerialBumpsOnlyOnContentChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s := NewStore(path)
	st := sample()
	steps := []struct {
		name       string
		mutate     func()
		wantSerial uint64
		rewrite    bool
	}{
		{"first write", func() {}, 1, true},
		{"identical content", func() {}, 1, false},
		{"serial alone differs", func() { st.Serial = 0 }, 1, false},
		{"host key changed", func() { st.Host("spark-01").HostKey = "ssh-ed25519 BBBB" }, 2, true},
		{"resource removed", func() { st.Remove("spark-02", "readahead.nvme") }, 3, true},
		{"identical again", func() {}, 3, false},
	}
	for _, step := range steps {
		before, _ := os.Stat(path)
		step.mutate()
		if err := s.Persist(st); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		if got.Serial != step.wantSerial || st.Serial != step.wantSerial {
			t.Fatalf("%s: serial on disk %d, in memory %d, want %d", step.name, got.Serial, st.Serial, step.wantSerial)
		}
		if got.Lineage != st.Lineage {
			t.Fatalf("%s: lineage changed", step.name)
		}
		// Every write renames a new inode into place, so an unchanged inode proves no write happened.
		after, _ := os.Stat(path)
		if rewritten := before == nil || !os.SameFile(before, after); rewritten != step.rewrite {
			t.Fatalf("%s: file rewritten = %v, want %v", step.name, rewritten, step.rewrite)
		}
	}
}

func TestPersistOfStaleCopyStillAdvancesSerial(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "s.json"))
	st := sample()
	old := st.Clone()
	for i := range 3 {
		st.Host("spark-01").HostKey = string(rune('a' + i))
		if err := s.Persist(st); err != nil {
			t.Fatal(err)
		}
	}
	old.Host("spark-09")
	if err := s.Persist(old); err != nil {
		t.Fatal(err)
	}
	if old.Serial != 4 {
		t.Fatalf("serial after persisting a stale copy = %d, want 4 (never go backwards)", old.Serial)
	}
}

func TestPersistRefusesFileOfAnotherLineage(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "s.json"))
	if err := s.Persist(sample()); err != nil {
		t.Fatal(err)
	}
	err := s.Persist(sample())
	if err == nil || !strings.Contains(err.Error(), "lineage") {
		t.Fatalf("persist over another lineage: %v", err)
	}
}

func TestBackupWrittenOncePerStoreBeforeFirstChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	st := sample()
	if err := NewStore(path).Persist(st); err != nil { // serial 1
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".backup"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("backup written with no previous file: %v", err)
	}
	s := NewStore(path) // a new run
	for i, key := range []string{"k2", "k3", "k4"} {
		st.Host("spark-01").HostKey = key
		if err := s.Persist(st); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path + ".backup")
		if err != nil {
			t.Fatal(err)
		}
		var bk State
		if err := json.Unmarshal(b, &bk); err != nil {
			t.Fatal(err)
		}
		if bk.Serial != 1 {
			t.Fatalf("after write %d the backup has serial %d, want 1 (the file as this run found it)", i+1, bk.Serial)
		}
		fi, _ := os.Stat(path + ".backup")
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("backup mode %v", fi.Mode().Perm())
		}
	}
}

func TestStateFileMode0600AndNoTempLeft(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	st := sample()
	for _, k := range []string{"a", "b", "c"} {
		st.Host("x").HostKey = k
		if err := NewStore(path).Persist(st); err != nil { // a new Store each time: backups too
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state mode = %v, %v", fi.Mode().Perm(), err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "s.json,s.json.backup" {
		t.Fatalf("directory holds %v, want only the state and its backup", names)
	}
}

func TestCrashBeforeRenameLeavesOldFileIntact(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	s := NewStore(path)
	st := sample()
	if err := s.Persist(st); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)

	rename = func(string, string) error { return errors.New("simulated crash") }
	defer func() { rename = os.Rename }()
	st.Host("spark-01").HostKey = "changed"
	if err := s.Persist(st); err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("persist with failing rename: %v", err)
	}
	now, _ := os.ReadFile(path)
	if string(now) != string(old) {
		t.Fatal("state file changed although the rename never happened")
	}
	if st.Serial != 1 {
		t.Fatalf("in-memory serial advanced to %d on a failed write", st.Serial)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".s.json.tmp-*"))
	if len(matches) != 0 {
		t.Fatalf("temp files left behind: %v", matches)
	}
}

func TestLoadRejectsBadFilesNamingThem(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"truncated JSON", `{"version": 1, "serial": 3, "lin`, "invalid JSON"},
		{"empty file", "", "empty"},
		{"future version", `{"version": 99, "serial": 1, "lineage": "x", "hosts": {}}`, "newer sparkform"},
		{"no version", `{"serial": 1, "lineage": "x", "hosts": {}}`, "not a sparkform state file"},
		{"no lineage", `{"version": 1, "serial": 1, "hosts": {}}`, "lineage"},
		{"unknown field", `{"version": 1, "serial": 1, "lineage": "x", "hosts": {}, "extra": 1}`, "extra"},
		{"bad value type", `{"version": 1, "serial": 1, "lineage": "x", "hosts": {"h": {"resources": {"a.b": {"type":"a","name":"b","attributes":{"type":"strong","value":"1"},"original":null,"applied_at":"2026-01-01T00:00:00Z"}}}}}`, "type"},
		{"value does not match type", `{"version": 1, "serial": 1, "lineage": "x", "hosts": {"h": {"resources": {"a.b": {"type":"a","name":"b","attributes":{"type":"number","value":"ten"},"original":null,"applied_at":"2026-01-01T00:00:00Z"}}}}}`, "value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.json")
			os.WriteFile(path, []byte(tc.content), 0o600)
			_, err := NewStore(path).Load()
			if err == nil {
				t.Fatal("bad state file accepted")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name the file and %q", err, tc.want)
			}
		})
	}
}

func TestAddressesSortedAndRemove(t *testing.T) {
	st := sample()
	st.Set("spark-01", &Resource{Type: "readahead", Name: "nvme"})
	got := strings.Join(st.Addresses(), " ")
	if got != "spark-01/readahead.nvme spark-01/sysctl.loading spark-02/readahead.nvme" {
		t.Fatalf("Addresses = %s", got)
	}
	if !st.Remove("spark-01", "sysctl.loading") || st.Remove("spark-01", "sysctl.loading") || st.Remove("nohost", "a.b") {
		t.Fatal("Remove reported wrongly")
	}
	if st.Hosts["spark-01"].HostKey == "" {
		t.Fatal("removing a resource dropped the host's pinned key")
	}
}

func TestCloneIsIndependent(t *testing.T) {
	st := sample()
	c := st.Clone()
	c.Host("spark-01").HostKey = "other"
	c.Remove("spark-02", "readahead.nvme")
	c.Lookup("spark-01", "sysctl.loading").Name = "renamed"
	if st.Hosts["spark-01"].HostKey == "other" || st.Lookup("spark-02", "readahead.nvme") == nil || st.Lookup("spark-01", "sysctl.loading").Name != "loading" {
		t.Fatal("mutating the clone changed the original")
	}
	if c.Lineage != st.Lineage {
		t.Fatal("clone lost the lineage")
	}
}

func TestGenerationsNumberUpSnapshotResourcesAndSurviveRoundTrip(t *testing.T) {
	dir := t.TempDir()
	store := NewStore(dir + "/s.json")
	st := New()
	h := st.Host("spark-01")
	h.Resources["sysctl.a"] = &Resource{Type: "sysctl", Name: "a", Attributes: Value{cty.StringVal("one")}}
	g1 := h.AddGeneration(time.Now(), "hash1", "")
	h.Resources["sysctl.a"] = &Resource{Type: "sysctl", Name: "a", Attributes: Value{cty.StringVal("two")}}
	g2 := h.AddGeneration(time.Now(), "hash2", "")
	if g1.N != 1 || g2.N != 2 {
		t.Fatalf("generation numbers %d, %d", g1.N, g2.N)
	}
	if got := g1.Resources["sysctl.a"].Attributes.AsString(); got != "one" {
		t.Fatalf("generation 1 was changed by a later apply: %s", got)
	}
	if err := store.Persist(st); err != nil {
		t.Fatal(err)
	}
	back, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	g := back.Hosts["spark-01"].Generation(1)
	if g == nil || g.ConfigHash != "hash1" || g.Resources["sysctl.a"].Attributes.AsString() != "one" {
		t.Fatalf("generation 1 after round trip: %+v", g)
	}
	for i := 0; i < MaxGenerations+5; i++ {
		h.AddGeneration(time.Now(), "h", "")
	}
	if len(h.Generations) != MaxGenerations || h.Generations[len(h.Generations)-1].N != MaxGenerations+7 {
		t.Fatalf("history not bounded: %d generations, last %d", len(h.Generations), h.Generations[len(h.Generations)-1].N)
	}
}

// A regression check compares with several results of one context, the latest one's: not one
// noisy result, and not results from another kernel or setting.
func TestBaselineResultsAreTheLatestPassingOnesOfOneContext(t *testing.T) {
	h := &Host{}
	add := func(kernel, ra string, secs float64, passed bool, mode string) {
		h.AddTestRun(&TestRun{Test: "smoke_test.m", Mode: mode, Seconds: secs, Passed: passed, Kernel: kernel,
			Context: map[string]string{"readahead.nvme": "device=nvme0n1 kb=" + ra}, Server: "llama.cpp", Build: "6800 (abc)"})
	}
	add("6.11", "128", 50, true, "mmap")     // older kernel
	add("6.17", "128", 30, true, "mmap")     // other read-ahead
	add("6.17", "8192", 20, true, "mmap")    // 1
	add("6.17", "8192", 99, false, "mmap")   // failed: never a reference
	add("6.17", "8192", 21, true, "no-mmap") // other mode
	for _, s := range []float64{22, 23, 24, 25, 26} {
		add("6.17", "8192", s, true, "mmap")
	}
	got := h.BaselineResults("smoke_test.m", "mmap", BaselineRuns)
	var secs []float64
	for _, r := range got {
		secs = append(secs, r.Seconds)
	}
	if fmt.Sprint(secs) != "[26 25 24 23 22]" {
		t.Errorf("baseline results %v, want the five latest of 6.17 with kb=8192", secs)
	}
	if got := h.BaselineResults("smoke_test.m", "mmap", 10); len(got) != 6 {
		t.Errorf("%d results of that context, want 6 (20 and 22..26)", len(got))
	}
	if got := h.BaselineResults("smoke_test.other", "mmap", 5); got != nil {
		t.Errorf("no results for another test: %v", got)
	}
}

// A state file is untrusted: history no sparkform writes is refused with the host and record
// named, never loaded. A null test result crashed the smoke test's baseline lookup (the
// PostgreSQL backend already refused null records), a negative load time or read-ahead reached
// reports and regression checks, and a generation number at the top of int made the next
// apply's generation wrap.
func TestDecodeRefusesHistoryNoSparkformWrites(t *testing.T) {
	for name, hist := range map[string]string{
		"null test result":       `"tests":[null]`,
		"null generation":        `"generations":[null]`,
		"null incident":          `"incidents":[null]`,
		"negative seconds":       `"tests":[{"time":"2026-01-01T00:00:00Z","test":"t","mode":"m","seconds":-3,"runs":[],"passed":true,"kernel":"k"}]`,
		"negative run":           `"tests":[{"time":"2026-01-01T00:00:00Z","test":"t","mode":"m","seconds":3,"runs":[-1],"passed":true,"kernel":"k"}]`,
		"negative read-ahead":    `"tests":[{"time":"2026-01-01T00:00:00Z","test":"t","mode":"m","seconds":3,"runs":[3],"passed":true,"kernel":"k","setup":{"read_ahead_kb":{"nvme0n1":-8}}}]`,
		"generation 0":           `"generations":[{"n":0,"time":"2026-01-01T00:00:00Z","config_hash":"x","resources":{}}]`,
		"generation that wraps":  `"generations":[{"n":9223372036854775807,"time":"2026-01-01T00:00:00Z","config_hash":"x","resources":{}}]`,
		"generation twice":       `"generations":[{"n":2,"time":"2026-01-01T00:00:00Z","config_hash":"x","resources":{}},{"n":2,"time":"2026-01-01T00:00:00Z","config_hash":"y","resources":{}}]`,
		"null generation record": `"generations":[{"n":1,"time":"2026-01-01T00:00:00Z","config_hash":"x","resources":{"a.b":null}}]`,
	} {
		st, err := Decode([]byte(`{"version":1,"lineage":"x","hosts":{"spark-01":{"resources":{},` + hist + `}}}`))
		if err == nil {
			t.Errorf("%s: loaded", name)
			func() {
				defer func() { recover() }()
				st.Hosts["spark-01"].LastTestRun("t", "m")
			}()
			continue
		}
		if !strings.Contains(err.Error(), `host "spark-01"`) {
			t.Errorf("%s: %v does not name the host", name, err)
		}
	}
	if _, err := Decode([]byte(`{"version":1,"lineage":"x","hosts":{"spark-01":{"resources":{},"generations":[{"n":1,"time":"2026-01-01T00:00:00Z","config_hash":"x","resources":{}}],"tests":[{"time":"2026-01-01T00:00:00Z","test":"t","mode":"m","seconds":0,"runs":[],"passed":false,"kernel":"k"}]}}}`)); err != nil {
		t.Fatalf("a valid history: %v", err)
	}
}
