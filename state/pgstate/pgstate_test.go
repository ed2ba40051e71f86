package pgstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/pgtest"
	"github.com/sparkform/sparkform/state"
	"github.com/sparkform/sparkform/state/statetest"
	"github.com/zclconf/go-cty/cty"
)

// shared is one cluster for the tests that do not stop it; each test uses its own state names.
var shared *pgtest.Server

func TestMain(m *testing.M) {
	if os.Getenv(holdLockEnv) == "1" {
		holdLock()
		return
	}
	code := func() int {
		if pgtest.Available() == "" {
			s, err := pgtest.New()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer s.Close()
			shared = s
		}
		return m.Run()
	}()
	os.Exit(code)
}

// server is the shared cluster (skipping, or failing under CI, where none can run).
func server(t *testing.T) *pgtest.Server {
	pgtest.SkipUnlessAvailable(t)
	return shared
}

// open opens state name+the test's name, so tests sharing the cluster never meet.
func open(t *testing.T, srv *pgtest.Server, name string) *Backend {
	t.Helper()
	b, err := Open(context.Background(), srv.ConnString(), "", t.Name()+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// sample is a state with every kind of record: resources with typed values, generations,
// an incident and test runs.
func sample() *state.State {
	st := state.New()
	at := time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)
	for _, host := range []string{"spark-01", "spark-02"} {
		h := statetest.AddHost(st, host, at)
		h.AddGeneration(at, "abc123", "")
		h.Incidents = append(h.Incidents, &state.Incident{Time: at, Kind: "rolled_back", Message: "kernel 6.17 did not boot"})
		h.AddTestRun(&state.TestRun{Time: at, Test: "smoke_test.gpt-oss", Mode: "mmap", Generation: 1, Seconds: 21.937,
			Runs: []float64{21.9, 21.937, 22.5}, Passed: true, Kernel: "6.17.0-1008-nvidia",
			Context: map[string]string{"readahead.nvme": "device=nvme0n1 kb=8192"}})
	}
	return st
}

func encoded(t *testing.T, st *state.State) []byte {
	t.Helper()
	b, err := state.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t *testing.T, b *Backend, table string) int {
	t.Helper()
	var n int
	if err := b.conn.QueryRow(context.Background(), "SELECT count(*) FROM "+b.t(table)+" WHERE state = $1", b.name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStateRoundTripsThroughTheTables(t *testing.T) {
	srv := server(t)
	a := open(t, srv, "")
	if ok, err := a.Exists(); err != nil || ok {
		t.Fatalf("fresh database: exists = %v, %v", ok, err)
	}
	fresh, err := a.Load()
	if err != nil || !fresh.Empty() {
		t.Fatalf("fresh database loads %+v, %v; want an empty state", fresh, err)
	}
	st := sample()
	if err := a.Persist(st); err != nil {
		t.Fatal(err)
	}
	if st.Serial != 1 {
		t.Fatalf("serial after the first persist = %d, want 1", st.Serial)
	}
	got, err := open(t, srv, "").Load()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encoded(t, got), encoded(t, st)) {
		t.Fatalf("loaded state differs:\n%s\nwant\n%s", encoded(t, got), encoded(t, st))
	}
	for table, want := range map[string]int{"hosts": 2, "resources": 4, "generations": 2, "incidents": 2, "test_runs": 2} {
		if n := count(t, a, table); n != want {
			t.Errorf("%s holds %d rows, want %d", table, n, want)
		}
	}
	// Queryable columns are filled from the record.
	var secs float64
	var kernel string
	if err := a.conn.QueryRow(context.Background(), "SELECT seconds, kernel FROM "+a.t("test_runs")+" WHERE host = 'spark-01' AND state = $1", a.name).Scan(&secs, &kernel); err != nil || secs != 21.937 || kernel != "6.17.0-1008-nvidia" {
		t.Fatalf("test_runs columns: %v %q %v", secs, kernel, err)
	}
}

func TestPersistWritesOnlyWhatChangedAndRecordsWhoWroteWhat(t *testing.T) {
	srv := server(t)
	b := open(t, srv, "")
	st := sample()
	if err := b.Persist(st); err != nil {
		t.Fatal(err)
	}
	if err := b.Persist(st); err != nil || st.Serial != 1 {
		t.Fatalf("persisting identical content: serial %d, %v; want a no-op at serial 1", st.Serial, err)
	}
	// A second session loading the same rows sees no change either (jsonb reorders keys).
	other := open(t, srv, "")
	same, err := other.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Persist(same); err != nil || same.Serial != 1 {
		t.Fatalf("persisting what was loaded: serial %d, %v; want a no-op at serial 1", same.Serial, err)
	}
	r := st.Lookup("spark-02", "readahead.nvme")
	r.Attributes = state.Value{Value: cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("nvme0n1"), "kb": cty.NumberIntVal(4096)})}
	st.Host("spark-02").AddGeneration(time.Now(), "def456", "")
	if err := b.Persist(st); err != nil {
		t.Fatal(err)
	}
	vs, err := b.Versions(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Serial != 2 || vs[1].Serial != 1 {
		t.Fatalf("versions = %+v, want serials 2 and 1, newest first", vs)
	}
	var what []string
	for _, c := range vs[0].Changes {
		what = append(what, c.What)
	}
	if got := strings.Join(what, "; "); got != "spark-02/readahead.nvme; spark-02: 1 generations" {
		t.Fatalf("serial 2 changes = %q", got)
	}
	// What was written is kept with it: the resource as of serial 2.
	var r2 state.Resource
	if err := json.Unmarshal(vs[0].Changes[0].Record, &r2); err != nil || !r2.Attributes.RawEquals(r.Attributes.Value) {
		t.Fatalf("serial 2 record %s (%v), want the readahead written", vs[0].Changes[0].Record, err)
	}
	if !strings.Contains(vs[0].Who, "pid ") || vs[0].Time.IsZero() {
		t.Fatalf("serial 2 written by %q at %v", vs[0].Who, vs[0].Time)
	}
	if n := count(t, b, "generations"); n != 3 {
		t.Fatalf("generations rows = %d, want 3", n)
	}
}

func TestStaleWriterIsRefusedNamingBothSerials(t *testing.T) {
	srv := server(t)
	a, b := open(t, srv, ""), open(t, srv, "")
	if err := a.Persist(sample()); err != nil {
		t.Fatal(err)
	}
	stA, _ := a.Load()
	stB, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	stA.Host("spark-03")
	if err := a.Persist(stA); err != nil {
		t.Fatal(err)
	}
	stB.Host("spark-04")
	err = b.Persist(stB)
	if err == nil || !strings.Contains(err.Error(), "serial 2") || !strings.Contains(err.Error(), "serial 1") {
		t.Fatalf("stale writer: %v; want a refusal naming serial 2 (database) and serial 1 (writer)", err)
	}
	got, _ := open(t, srv, "").Load()
	if got.Hosts["spark-04"] != nil || got.Hosts["spark-03"] == nil || got.Serial != 2 {
		t.Fatalf("after the refused write the database holds serial %d with hosts %v", got.Serial, got.Addresses())
	}
}

func TestPersistRefusesAnotherLineage(t *testing.T) {
	srv := server(t)
	b := open(t, srv, "")
	if err := b.Persist(sample()); err != nil {
		t.Fatal(err)
	}
	if err := b.Persist(sample()); err == nil || !strings.Contains(err.Error(), "lineage") {
		t.Fatalf("persist of another lineage: %v", err)
	}
}

func TestStatesWithDifferentNamesAreSeparate(t *testing.T) {
	srv := server(t)
	a, b := open(t, srv, "fleet-a"), open(t, srv, "fleet-b")
	if err := a.Persist(sample()); err != nil {
		t.Fatal(err)
	}
	st, err := b.Load()
	if err != nil || !st.Empty() {
		t.Fatalf("fleet-b sees %v, %v", st, err)
	}
	if err := b.Persist(sample()); err != nil {
		t.Fatalf("another name, another lineage: %v", err)
	}
}

func TestTrimmedHistoryDeletesTheOldestRows(t *testing.T) {
	srv := server(t)
	b := open(t, srv, "")
	st := sample()
	for i := range state.MaxGenerations + 5 {
		st.Host("spark-01").AddGeneration(time.Now(), fmt.Sprint(i), "")
		if err := b.Persist(st); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, b, "generations"); n != state.MaxGenerations+1 { // spark-02 keeps its one
		t.Fatalf("generations rows = %d, want %d", n, state.MaxGenerations+1)
	}
	got, err := open(t, srv, "").Load()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encoded(t, got), encoded(t, st)) {
		t.Fatal("state after trimming does not round-trip")
	}
}

func TestReplaceStoresTheGivenStateWhole(t *testing.T) {
	srv := server(t)
	b := open(t, srv, "")
	if err := b.Persist(sample()); err != nil {
		t.Fatal(err)
	}
	other := sample()
	delete(other.Hosts, "spark-02")
	other.Serial = 7
	if err := b.Replace(other); err != nil {
		t.Fatal(err)
	}
	got, err := open(t, srv, "").Load()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encoded(t, got), encoded(t, other)) {
		t.Fatalf("after Replace:\n%s\nwant\n%s", encoded(t, got), encoded(t, other))
	}
	if n := count(t, b, "test_runs"); n != 1 {
		t.Fatalf("test_runs rows after Replace = %d, want 1", n)
	}
}

func TestInvalidRowsAreRefusedOnLoad(t *testing.T) {
	srv := server(t)
	b := open(t, srv, "")
	if err := b.Persist(sample()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.conn.Exec(context.Background(), `UPDATE `+b.t("resources")+` SET doc = '{"type":"sysctl","surprise":1}' WHERE host = 'spark-01' AND state = $1`, b.name); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, srv, "").Load(); err == nil || !strings.Contains(err.Error(), "spark-01") {
		t.Fatalf("load of an invalid resource row: %v", err)
	}
}

func TestLockNamesItsHolderAndHonoursTheTimeout(t *testing.T) {
	srv := server(t)
	a, b := open(t, srv, ""), open(t, srv, "")
	release, err := a.Lock(context.Background(), "apply", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Lock(context.Background(), "plan", 300*time.Millisecond)
	var le *LockError
	if !errors.As(err, &le) || le.Holder == nil {
		t.Fatalf("second lock: %v; want a LockError naming the holder", err)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("gave up after %v, before -lock-timeout", waited)
	}
	if le.Holder.Operation != "apply" || !strings.Contains(le.Holder.Who, state.Who()) || le.Holder.Since.IsZero() {
		t.Fatalf("holder = %+v", le.Holder)
	}
	if !strings.Contains(err.Error(), "apply") || !strings.Contains(err.Error(), "locked by") {
		t.Fatalf("message %q does not say who holds the lock", err)
	}
	// Waiting long enough gets the lock once the holder releases it.
	go func() { time.Sleep(200 * time.Millisecond); release() }()
	rb, err := b.Lock(context.Background(), "plan", 30*time.Second)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if n := count(t, b, "locks"); n != 1 {
		t.Fatalf("lock rows = %d, want 1 (the new holder's)", n)
	}
	rb()
	if n := count(t, b, "locks"); n != 0 {
		t.Fatalf("lock rows after release = %d, want 0", n)
	}
}

func TestLockDiesWithItsSession(t *testing.T) {
	srv := server(t)
	a, b := open(t, srv, ""), open(t, srv, "")
	if _, err := a.Lock(context.Background(), "apply", 0); err != nil {
		t.Fatal(err)
	}
	// What a SIGKILL does: the socket closes with no goodbye; the row stays behind.
	a.conn.PgConn().Conn().Close()
	release, err := b.Lock(context.Background(), "apply", 30*time.Second)
	if err != nil {
		t.Fatalf("lock after the holder's session died: %v", err)
	}
	release()
}

func TestStaleLockRowIsNotReportedAsHolder(t *testing.T) {
	srv := server(t)
	a, b, c := open(t, srv, ""), open(t, srv, ""), open(t, srv, "")
	if _, err := a.Lock(context.Background(), "apply", 0); err != nil {
		t.Fatal(err)
	}
	a.conn.PgConn().Conn().Close()
	// c holds the advisory lock without having written its row yet: the row left by a is stale.
	key := advisoryKey(c.schema, c.name)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got bool
		if err := c.conn.QueryRow(context.Background(), "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead session's lock was never released")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err := b.Lock(context.Background(), "apply", 0)
	var le *LockError
	if !errors.As(err, &le) || le.Holder != nil {
		t.Fatalf("lock held by a session without a row: %v (holder %+v); want no holder named", err, le)
	}
}

// The lock row is written by whoever can write the table: a holder no sparkform wrote (control
// or bidirectional characters, a pid that is not positive) is not named in the lock error.
func TestLockRowNoSparkformWroteIsNotNamedAsHolder(t *testing.T) {
	srv := server(t)
	a, b := open(t, srv, ""), open(t, srv, "")
	if _, err := a.Lock(context.Background(), "apply", 0); err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"who = 'mallory' || chr(27) || ']0;owned' || chr(7)", "operation = 'apply' || chr(8238)", "pid = -1"} {
		if _, err := a.conn.Exec(context.Background(), "UPDATE "+a.t("locks")+" SET "+set+" WHERE state = $1", a.name); err != nil {
			t.Fatal(err)
		}
		_, err := b.Lock(context.Background(), "plan", 0)
		var le *LockError
		if !errors.As(err, &le) || le.Holder != nil {
			t.Errorf("%s: %v (holder %+v); want no holder named", set, err, le)
		}
		if _, err := a.conn.Exec(context.Background(), "UPDATE "+a.t("locks")+" SET who = 'alice@laptop', operation = 'apply', pid = 42 WHERE state = $1", a.name); err != nil {
			t.Fatal(err)
		}
	}
	_, err := b.Lock(context.Background(), "plan", 0)
	if le := (*LockError)(nil); !errors.As(err, &le) || le.Holder == nil || le.Holder.Who != "alice@laptop" {
		t.Fatalf("a row as sparkform writes it: %v", err)
	}
}

func TestStateRowsOverTheLimitAreRefusedOnLoadNamingTheStateAndLimit(t *testing.T) {
	srv := server(t)
	b := open(t, srv, "")
	if err := b.Persist(sample()); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, table := range []string{"resources", "generations", "incidents", "test_runs"} {
		var n int64
		if err := b.conn.QueryRow(context.Background(), "SELECT coalesce(sum(octet_length(doc::text)), 0) FROM "+b.t(table)+" WHERE state = $1", b.name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	old := state.MaxStateBytes
	t.Cleanup(func() { state.MaxStateBytes = old })
	state.MaxStateBytes = total - 1 // every row fits, all of them do not
	want := fmt.Sprintf("is larger than %d bytes: refusing to read it", total-1)
	if _, err := open(t, srv, "").Load(); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), b.name) {
		t.Fatalf("load of a state one byte over the limit: %v", err)
	}
	state.MaxStateBytes = total
	if _, err := open(t, srv, "").Load(); err != nil {
		t.Fatalf("load of a state exactly at the limit: %v", err)
	}
	// One row larger than the whole bound, written by another client: refused by its size.
	if _, err := b.conn.Exec(context.Background(), `UPDATE `+b.t("incidents")+` SET doc = jsonb_set(doc, '{message}', to_jsonb(repeat('x', $2::int))) WHERE host = 'spark-02' AND state = $1`, b.name, total); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, srv, "").Load(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("is larger than %d bytes", total)) || !strings.Contains(err.Error(), "incidents, host spark-02") {
		t.Fatalf("load of an oversized row: %v", err)
	}
}
