package pgstate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// schemaVersion is the version of the tables below; a database written by a newer sparkform
// is refused rather than misread.
const schemaVersion = 1

// ddl creates the tables in schema {S} (replaced by the quoted schema name). Hosts, resources,
// generations, incidents and test results are rows, so a team can query them with SQL; each
// row's doc column holds the record as the state file writes it, the other columns repeat the
// fields worth querying. Deleting a state or a host cascades to everything under it.
const ddl = `
CREATE SCHEMA IF NOT EXISTS {S};
CREATE TABLE IF NOT EXISTS {S}.meta (version int NOT NULL);
CREATE TABLE IF NOT EXISTS {S}.states (
  name       text PRIMARY KEY,
  lineage    text NOT NULL,
  serial     bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {S}.hosts (
  state    text NOT NULL REFERENCES {S}.states(name) ON DELETE CASCADE,
  host     text NOT NULL,
  host_key text NOT NULL DEFAULT '',
  PRIMARY KEY (state, host)
);
CREATE TABLE IF NOT EXISTS {S}.resources (
  state   text NOT NULL,
  host    text NOT NULL,
  address text NOT NULL,
  type    text NOT NULL,
  name    text NOT NULL,
  applied_at timestamptz,
  doc     jsonb NOT NULL,
  PRIMARY KEY (state, host, address),
  FOREIGN KEY (state, host) REFERENCES {S}.hosts ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS {S}.generations (
  state text NOT NULL, host text NOT NULL, seq bigint NOT NULL,
  n int NOT NULL, time timestamptz, config_hash text, note text,
  doc jsonb NOT NULL,
  PRIMARY KEY (state, host, seq),
  FOREIGN KEY (state, host) REFERENCES {S}.hosts ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS {S}.incidents (
  state text NOT NULL, host text NOT NULL, seq bigint NOT NULL,
  time timestamptz, kind text, message text,
  doc jsonb NOT NULL,
  PRIMARY KEY (state, host, seq),
  FOREIGN KEY (state, host) REFERENCES {S}.hosts ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS {S}.test_runs (
  state text NOT NULL, host text NOT NULL, seq bigint NOT NULL,
  time timestamptz, test text, mode text, generation int, seconds double precision, passed boolean, kernel text,
  doc jsonb NOT NULL,
  PRIMARY KEY (state, host, seq),
  FOREIGN KEY (state, host) REFERENCES {S}.hosts ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS {S}.state_versions (
  id         bigserial PRIMARY KEY,
  state      text NOT NULL,
  serial     bigint NOT NULL,
  lineage    text NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  written_by text NOT NULL,
  operation  text NOT NULL,
  changes    jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS state_versions_state ON {S}.state_versions (state, serial);
CREATE TABLE IF NOT EXISTS {S}.locks (
  state      text PRIMARY KEY,
  id         text NOT NULL,
  who        text NOT NULL,
  pid        int NOT NULL,
  operation  text NOT NULL,
  since      timestamptz NOT NULL,
  backend_pid int NOT NULL
);
`

// list is one kind of append-only history kept per host, one row per record. cols are the
// queryable columns, filled from the record's JSON (d) by exprs.
type list struct {
	table string
	cols  []string
	exprs []string
}

// lists are the per-host histories, in the order of hostRows.lists.
var lists = [...]list{
	{"generations", []string{"n", "time", "config_hash", "note"},
		[]string{"(d->>'n')::int", "(d->>'time')::timestamptz", "d->>'config_hash'", "d->>'note'"}},
	{"incidents", []string{"time", "kind", "message"},
		[]string{"(d->>'time')::timestamptz", "d->>'kind'", "d->>'message'"}},
	{"test_runs", []string{"time", "test", "mode", "generation", "seconds", "passed", "kernel"},
		[]string{"(d->>'time')::timestamptz", "d->>'test'", "d->>'mode'", "coalesce((d->>'generation')::int, 0)",
			"(d->>'seconds')::float8", "(d->>'passed')::boolean", "d->>'kernel'"}},
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CheckSchemaName accepts a lower-case SQL identifier (it is quoted anyway; the rule keeps
// names portable across psql sessions).
func CheckSchemaName(s string) error {
	if !schemaName.MatchString(s) {
		return fmt.Errorf("schema %q: use lower-case letters, digits and _ (at most 63, not starting with a digit)", s)
	}
	return nil
}

// ensureSchema creates the tables when the schema version is missing. A session holding only
// the rights to read and write the tables never runs DDL once they exist.
func (b *Backend) ensureSchema(ctx context.Context) error {
	var v int
	err := b.conn.QueryRow(ctx, "SELECT version FROM "+b.t("meta")+" LIMIT 1").Scan(&v)
	switch {
	case err == nil && v == schemaVersion:
		return nil
	case err == nil && v > schemaVersion:
		return fmt.Errorf("schema %s was written by a newer sparkform (tables version %d, this build knows %d); upgrade sparkform", b.schema, v, schemaVersion)
	case err != nil && !errors.Is(err, pgx.ErrNoRows) && !isUndefinedTable(err):
		return err
	}
	tx, err := b.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Two first runs at once: CREATE ... IF NOT EXISTS is not safe against itself.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey(b.schema, "")); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, strings.ReplaceAll(ddl, "{S}", pgx.Identifier{b.schema}.Sanitize())); err != nil {
		return fmt.Errorf("creating the tables in schema %s: %w", b.schema, err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+b.t("meta")+"; INSERT INTO "+b.t("meta")+" VALUES ("+fmt.Sprint(schemaVersion)+")"); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") // undefined_table, invalid_schema_name
}
