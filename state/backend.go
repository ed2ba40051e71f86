package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Backend is where a state lives and how it is locked: the local file (Store, the default) or
// a database (package state/pgstate). The engine and the commands talk to this interface only.
type Backend interface {
	// Load returns the current state; where none has been written yet, a fresh one (New).
	Load() (*State, error)
	// Persist writes st in one atomic step when its content differs from what is stored (then
	// st.Serial becomes the new serial); identical content is a no-op. A stored state of another
	// lineage is never overwritten. The caller must not mutate st during the call.
	Persist(st *State) error
	// Replace stores st exactly as given (its serial included), whatever is stored: state push
	// and migration, which check lineage and serial themselves under the lock.
	Replace(st *State) error
	// Lock takes the exclusive lock for operation, waiting up to timeout (0: one try). The lock
	// dies with the process; release ends it early.
	Lock(ctx context.Context, operation string, timeout time.Duration) (release func() error, err error)
	// Exists reports whether a state has been written.
	Exists() (bool, error)
	// String names the state for messages, e.g. "state file ./sparkform.state.json".
	String() string
	// Close ends the backend's connections (a no-op for the file).
	Close() error
}

var _ Backend = (*Store)(nil)

// String names the state file for messages: its path.
func (s *Store) String() string { return s.path }

// Close is a no-op: a Store holds nothing open between calls.
func (s *Store) Close() error { return nil }

// Exists reports whether the state file exists.
func (s *Store) Exists() (bool, error) {
	fi, err := os.Lstat(s.path)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return false, errLink("state file", s.path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Replace writes st with its own serial, atomically, after copying the current file (if any)
// to the backup path.
func (s *Store) Replace(st *State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Lineage == "" {
		return errors.New("state without lineage")
	}
	// The current file is backed up as it is, even when it does not parse: replacing a broken
	// file is what push is for.
	raw, err := readNoFollow("state file", s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading state file %s: %w", s.path, err)
	}
	out, err := encode(st, st.Serial)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	if raw != nil {
		if err := writeAtomic(s.backupPath, raw); err != nil {
			return fmt.Errorf("writing state backup: %w", err)
		}
		s.backedUp = true
	}
	if err := writeAtomic(s.path, out); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	s.seen = &seenFile{raw: out, lineage: st.Lineage, serial: st.Serial}
	return nil
}

// Encode returns st as the canonical state file content (serial as st holds it): state pull
// and backups write it.
func Encode(st *State) ([]byte, error) { return encode(st, st.Serial) }

// Decode parses and validates state file content (untrusted input: a pushed file, a backup).
func Decode(b []byte) (*State, error) { return parse(b) }

// Empty reports whether st has never been written: serial 0 and no hosts.
func (st *State) Empty() bool { return st.Serial == 0 && len(st.Hosts) == 0 }

// Who names the user and machine running sparkform ("alice@laptop"), for lock holders and
// write histories.
func Who() string { return who() }

// Version is one write of a state, from a backend that keeps a write history.
type Version struct {
	Serial    uint64    `json:"serial"`
	Lineage   string    `json:"lineage"`
	Time      time.Time `json:"time"`
	Who       string    `json:"who"`
	Operation string    `json:"operation"`
	Changes   []Change  `json:"changes"` // one per record written
}

// Change is one record a write changed: what it is, e.g. "spark-01/sysctl.loading" or
// "spark-01: 2 test runs", and what was written (the record, an array of the history rows
// added, or absent for a removal).
type Change struct {
	What   string          `json:"what"`
	Record json.RawMessage `json:"record,omitempty"`
}

// Versioner is a Backend that keeps a write history (the PostgreSQL backend; the file keeps
// only its last backup).
type Versioner interface {
	// Versions lists the last limit writes, newest first.
	Versions(limit int) ([]Version, error)
}
