// Package pgstate keeps sparkform state in PostgreSQL for teams: hosts, resources, generations,
// incidents and test results as rows, every persist one transaction checked against serial and
// lineage, a write history, and a session advisory lock with a row naming its holder.
package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sparkform/sparkform/state"
)

// ConnEnv is the environment variable holding the connection string. Without it the usual
// libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE, PGSSLMODE, ...)
// apply; they apply under it too for whatever it leaves out. The string is never stored.
const ConnEnv = "SPARKFORM_PG_CONN"

// DefaultSchema and DefaultName are used when the backend block does not set them.
const (
	DefaultSchema = "sparkform"
	DefaultName   = "default"
)

// opTimeout bounds one database operation: a server that stops answering fails the persist
// (and so stops the apply) instead of hanging it.
var opTimeout = 30 * time.Second

// Backend is one named state in one schema of a PostgreSQL database, over one connection:
// the session that holds the advisory lock is the session that writes, and it is never
// re-established (a new session would no longer hold the lock).
type Backend struct {
	schema, name string

	mu   sync.Mutex
	conn *pgx.Conn
	snap *snapshot      // what the database held at snap.serial, as this session last saw it
	enc  map[any][]byte // encodings of history records by pointer (see encodeState)
	op   string         // the operation holding the lock, recorded in the write history
	who  string
}

var _ state.Backend = (*Backend)(nil)

// Open connects with connString (empty: the PG* variables alone) and creates the tables in
// schema if they are missing. name selects one state among several in the same schema.
func Open(ctx context.Context, connString, schema, name string) (*Backend, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	if name == "" {
		name = DefaultName
	}
	if err := CheckSchemaName(schema); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		// The parse error may quote the string, password included: say only where it came from.
		return nil, fmt.Errorf("PostgreSQL connection string (from %s and the PG* variables) does not parse", ConnEnv)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "sparkform"
	// The lock lives as long as this session: when the machine running sparkform vanishes
	// without closing its socket, TCP keepalives let the server end the session (and free the
	// lock) within about a minute instead of the kernel's two hours. Ignored over Unix sockets.
	for k, v := range map[string]string{"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"} {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(octx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	b := &Backend{schema: schema, name: name, conn: conn, who: who()}
	if err := b.ensureSchema(octx); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return b, nil
}

// OpenEnv opens the backend with the connection string from the environment.
func OpenEnv(ctx context.Context, schema, name string) (*Backend, error) {
	return Open(ctx, os.Getenv(ConnEnv), schema, name)
}

// String names the state for messages; it never includes the connection string.
func (b *Backend) String() string {
	c := b.conn.Config()
	return fmt.Sprintf("PostgreSQL state %q (schema %s, database %s on %s)", b.name, b.schema, c.Database, c.Host)
}

// Close ends the session, and with it the lock if still held.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.conn.Close(ctx)
}

func (b *Backend) t(table string) string { return pgx.Identifier{b.schema, table}.Sanitize() }

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// Exists reports whether the state has been written.
func (b *Backend) Exists() (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx, cancel := opContext()
	defer cancel()
	var one int
	err := b.conn.QueryRow(ctx, "SELECT 1 FROM "+b.t("states")+" WHERE name = $1", b.name).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, b.wrap(err)
}

func (b *Backend) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", b, err)
}

// Load reads the state in one read-only, repeatable-read transaction (a consistent snapshot
// even while another session writes); none written yet is a fresh state.
func (b *Backend) Load() (*state.State, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx, cancel := opContext()
	defer cancel()
	tx, err := b.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, b.wrap(err)
	}
	defer tx.Rollback(ctx)
	snap, err := b.readSnapshot(ctx, tx)
	if err != nil {
		return nil, b.wrap(err)
	}
	if snap == nil {
		return state.New(), nil
	}
	st, err := snap.state()
	if err != nil {
		return nil, fmt.Errorf("%s is not valid: %w", b, err)
	}
	b.snap = snap
	return st, nil
}

// Persist writes what changed since the database's serial in one transaction, and a line in
// the write history. The stored serial must be the one st holds: a writer whose copy is stale
// (someone else wrote in between) is refused, never merged.
func (b *Backend) Persist(st *state.State) error {
	return b.write(st, false)
}

// Replace stores st as given (lineage and serial included) in one transaction.
func (b *Backend) Replace(st *state.State) error {
	return b.write(st, true)
}

func (b *Backend) write(st *state.State, replace bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st.Lineage == "" {
		return errors.New("state without lineage: create it with state.New or Load")
	}
	want, enc, err := encodeState(st, b.enc)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	b.enc = enc
	ctx, cancel := opContext()
	defer cancel()
	tx, err := b.conn.Begin(ctx)
	if err != nil {
		return b.wrap(err)
	}
	defer tx.Rollback(ctx)
	var lineage string
	var serial int64
	err = tx.QueryRow(ctx, "SELECT lineage, serial FROM "+b.t("states")+" WHERE name = $1 FOR UPDATE", b.name).Scan(&lineage, &serial)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return b.wrap(err)
	}
	have := &snapshot{hosts: map[string]*hostRows{}}
	switch {
	case replace && exists:
		if _, err := tx.Exec(ctx, "DELETE FROM "+b.t("hosts")+" WHERE state = $1", b.name); err != nil {
			return b.wrap(err)
		}
	case exists && lineage != st.Lineage:
		return fmt.Errorf("%s belongs to another state (lineage %s, not %s); refusing to overwrite it", b, lineage, st.Lineage)
	case exists && b.snap != nil && b.snap.serial == uint64(serial) && b.snap.lineage == lineage:
		have = b.snap
	case exists:
		if have, err = b.readSnapshot(ctx, tx); err != nil {
			return b.wrap(err)
		}
	}
	newSerial := st.Serial
	var batch pgx.Batch
	changes := b.diff(&batch, have, want)
	if !replace {
		if exists && len(changes) == 0 {
			st.Serial = uint64(serial) // the database holds what st describes: adopt its serial
			return nil
		}
		if exists && uint64(serial) != st.Serial {
			return fmt.Errorf("%s is at serial %d, but this run holds serial %d: another writer changed it since this run read it; refusing to overwrite (run the command again)", b, serial, st.Serial)
		}
		newSerial = st.Serial + 1
	} else {
		changes = append([]state.Change{{What: "replaced the whole state"}}, changes...)
	}
	if exists {
		batch.Queue("UPDATE "+b.t("states")+" SET lineage = $2, serial = $3, updated_at = now() WHERE name = $1", b.name, st.Lineage, int64(newSerial))
	} else {
		// A plain INSERT: two first writers at once collide here instead of one overwriting the other.
		first := &pgx.Batch{}
		first.Queue("INSERT INTO "+b.t("states")+" (name, lineage, serial) VALUES ($1, $2, $3)", b.name, st.Lineage, int64(newSerial))
		batch.QueuedQueries = append(first.QueuedQueries, batch.QueuedQueries...)
	}
	cj, _ := json.Marshal(changes)
	batch.Queue("INSERT INTO "+b.t("state_versions")+" (state, serial, lineage, written_by, operation, changes) VALUES ($1, $2, $3, $4, $5, $6)",
		b.name, int64(newSerial), st.Lineage, b.who, b.op, cj)
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return b.wrap(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return b.wrap(err)
	}
	want.serial, want.lineage = newSerial, st.Lineage
	b.snap = want
	st.Serial = newSerial
	return nil
}

// advisoryKey is the advisory lock key of a state (name "" : the schema's DDL), positive so
// that pg_locks' classid/objid halves rebuild it.
func advisoryKey(schema, name string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "sparkform\x00%s\x00%s", schema, name)
	return int64(h.Sum64() & (1<<63 - 1))
}

func who() string { return fmt.Sprintf("%s pid %d", state.Who(), os.Getpid()) }

// Versions lists the state's last limit writes, newest first.
func (b *Backend) Versions(limit int) ([]state.Version, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx, cancel := opContext()
	defer cancel()
	rows, err := b.conn.Query(ctx, "SELECT serial, lineage, written_at, written_by, operation, changes FROM "+b.t("state_versions")+
		" WHERE state = $1 ORDER BY id DESC LIMIT $2", b.name, limit)
	if err != nil {
		return nil, b.wrap(err)
	}
	var out []state.Version
	for rows.Next() {
		var v state.Version
		var serial int64
		if err := rows.Scan(&serial, &v.Lineage, &v.Time, &v.Who, &v.Operation, &v.Changes); err != nil {
			return nil, b.wrap(err)
		}
		v.Serial = uint64(serial)
		out = append(out, v)
	}
	return out, b.wrap(rows.Err())
}
