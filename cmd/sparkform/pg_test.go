package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/internal/pgtest"
	"github.com/sparkform/sparkform/state"
	"github.com/sparkform/sparkform/state/pgstate"
)

// pgServer starts a private PostgreSQL cluster for the test and points sparkform at it the
// way an operator does: SPARKFORM_PG_CONN in the environment (inherited by cliProcess).
func pgServer(t *testing.T) *pgtest.Server {
	t.Helper()
	srv := pgtest.Start(t)
	t.Setenv(pgstate.ConnEnv, srv.ConnString())
	return srv
}

func loadPG(t *testing.T) *state.State {
	t.Helper()
	b, err := pgstate.OpenEnv(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStateMovesBetweenFileAndPostgresBothWaysWithBackups(t *testing.T) {
	pgServer(t)
	jsonUISchema(t) // read by its relative path before the test moves into its own directory
	dir := t.TempDir()
	writeState(t, dir)
	t.Chdir(dir)
	file := filepath.Join(dir, "sparkform.state.json")
	original, _ := os.ReadFile(file)

	// File → database.
	if code, out, errOut := cli(t, "state", "migrate", "-to", "pg"); code != 0 || !strings.Contains(out, "now holds serial 1") {
		t.Fatalf("migrate -to pg: %d\n%s\n%s", code, out, errOut)
	}
	code, pulled, errOut := cli(t, "state", "pull", "-backend", "pg")
	if code != 0 || pulled != string(original) {
		t.Fatalf("pull after migrate: %d %s\n%s\nwant the file byte for byte:\n%s", code, errOut, pulled, original)
	}
	// The configuration's backend block selects the database for every command.
	writeFile(t, filepath.Join(dir, "backend.hcl"), []byte("backend \"pg\" {}\n"))
	if code, out, errOut := cli(t, "history"); code != 0 || !strings.Contains(out, "spark-01") {
		t.Fatalf("history from the database: %d\n%s\n%s", code, out, errOut)
	}

	// Push a newer serial of the same lineage: the old one is backed up.
	st, err := state.Decode([]byte(pulled))
	if err != nil {
		t.Fatal(err)
	}
	st.Host("spark-02")
	st.Serial = 2
	next, _ := state.Encode(st)
	writeFile(t, "next.json", next)
	code, out, errOut := cli(t, "state", "push", "-backup", "before-push.json", "next.json")
	if code != 0 || !strings.Contains(out, "Backed up serial 1") {
		t.Fatalf("push: %d\n%s\n%s", code, out, errOut)
	}
	if b, err := os.ReadFile("before-push.json"); err != nil || !bytes.Equal(b, original) {
		t.Fatalf("backup of the replaced state: %v\n%s", err, b)
	}
	if got := loadPG(t); got.Serial != 2 || got.Hosts["spark-02"] == nil {
		t.Fatalf("database after push: serial %d hosts %v", got.Serial, got.Addresses())
	}
	// A stale push (serial 1 with other content) and another lineage are refused.
	writeFile(t, "stale.json", original)
	if code, _, errOut := cli(t, "state", "push", "stale.json"); code != 1 || !strings.Contains(errOut, "serial 2") || !strings.Contains(errOut, "serial 1") {
		t.Fatalf("stale push: %d %s", code, errOut)
	}
	other := state.New()
	other.Serial = 9
	ob, _ := state.Encode(other)
	writeFile(t, "other.json", ob)
	if code, _, errOut := cli(t, "state", "push", "other.json"); code != 1 || !strings.Contains(errOut, "lineage") {
		t.Fatalf("push of another lineage: %d %s", code, errOut)
	}
	if got := loadPG(t); got.Serial != 2 {
		t.Fatalf("a refused push changed the database: serial %d", got.Serial)
	}

	// Database → file: the file (serial 1) is backed up and replaced by serial 2.
	code, out, errOut = cli(t, "state", "migrate", "-to", "local", "-backup", "file-before.json")
	if code != 0 || !strings.Contains(out, "Backed up serial 1") {
		t.Fatalf("migrate -to local: %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile("file-before.json"); !bytes.Equal(b, original) {
		t.Fatal("the replaced file was not backed up as it was")
	}
	back, err := state.NewStore(file).Load()
	if err != nil || back.Serial != 2 || back.Hosts["spark-02"] == nil {
		t.Fatalf("file after migrate -to local: %v serial %d", err, back.Serial)
	}
	if code, out, _ := cli(t, "state", "migrate", "-to", "local"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("second migrate: %d %s", code, out)
	}
	// Migrating a file of another lineage into the database is refused.
	writeFile(t, "other-state.json", ob)
	if code, _, errOut := cli(t, "state", "migrate", "-to", "pg", "-state", "other-state.json"); code != 1 || !strings.Contains(errOut, "lineage") {
		t.Fatalf("migrate of another lineage: %d %s", code, errOut)
	}
	// The write history says which serial wrote what.
	code, out, errOut = cli(t, "state", "versions")
	if code != 0 || !strings.Contains(out, "serial 2") || !strings.Contains(out, "state push") || !strings.Contains(out, "serial 1") {
		t.Fatalf("state versions: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, "state", "versions", "-json")
	versions := ofType(checkJSONUI(t, out), "state_version")
	if code != 0 || len(versions) != 2 {
		t.Fatalf("state versions -json: %d\n%s\n%s", code, out, errOut)
	}
}

func TestConnectionStringNeverComesFromFilesOrReachesOutput(t *testing.T) {
	srv := pgServer(t)
	dir := t.TempDir()
	writeState(t, dir)
	t.Chdir(dir)
	// A password in the environment is used but never printed, even when connecting fails.
	t.Setenv(pgstate.ConnEnv, srv.ConnString()+" password=hunter2-secret port=1")
	code, out, errOut := cli(t, "state", "list", "-backend", "pg")
	if code != 1 || strings.Contains(out+errOut, "hunter2") {
		t.Fatalf("failed connection: %d\n%s\n%s", code, out, errOut)
	}
	t.Setenv(pgstate.ConnEnv, "postgres://u:hunter2-secret@[::1")
	code, out, errOut = cli(t, "state", "list", "-backend", "pg")
	if code != 1 || strings.Contains(out+errOut, "hunter2") || !strings.Contains(errOut, pgstate.ConnEnv) {
		t.Fatalf("unparsable connection string: %d\n%s\n%s", code, out, errOut)
	}
}

func TestReportFromTheDatabaseEqualsReportFromTheFile(t *testing.T) {
	pgServer(t)
	path := reportState(t, fleetResults())
	dir := filepath.Dir(path)
	t.Chdir(dir)
	code, fromFile, errOut := cli(t, "report", "-format", "csv")
	if code != 0 {
		t.Fatalf("report from the file: %d %s", code, errOut)
	}
	if code, out, errOut := cli(t, "state", "migrate", "-to", "pg"); code != 0 {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errOut)
	}
	writeFile(t, filepath.Join(dir, "backend.hcl"), []byte("backend \"pg\" {}\n"))
	code, fromDB, errOut := cli(t, "report", "-format", "csv")
	if code != 0 || fromDB != fromFile || !strings.Contains(fromDB, "spark-02") {
		t.Fatalf("report from the database: %d %s\n%s\nwant\n%s", code, errOut, fromDB, fromFile)
	}
}
