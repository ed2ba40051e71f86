package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Store reads and writes one state file. Writes are atomic (temp file, fsync, rename, fsync of
// the directory): Terraform's local backend writes in place and leaves truncated state behind
// when interrupted (hashicorp/terraform#34266); a reader here sees the old or the new file.
type Store struct {
	path, lockPath, backupPath string

	mu       sync.Mutex // serialises Persist: the engine persists from one goroutine per host
	backedUp bool       // the previous file has been copied to backupPath in this Store's life
	enc      encoder    // history records encoded by earlier persists
	// seen is the file as this Store last read or wrote it: a persist that finds the same bytes
	// knows what they hold without parsing them again.
	seen *seenFile
}

// seenFile is a state file's content and what it holds.
type seenFile struct {
	raw     []byte
	lineage string
	serial  uint64
	// loaded is a copy of the state parsed from raw (nil when this Store wrote raw: then raw is
	// the canonical encoding of what it wrote). Its history records are the ones Load returned.
	loaded *State
}

// NewStore returns the store for the state file at path; its lock is path+".lock" and its
// backup path+".backup".
func NewStore(path string) *Store {
	return &Store{path: path, lockPath: path + ".lock", backupPath: path + ".backup"}
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// BackupPath is where the previous state is copied before this Store first changes the file.
func (s *Store) BackupPath() string { return s.backupPath }

// Load reads the state file; a missing file is a fresh state (first run).
func (s *Store) Load() (*State, error) {
	st, raw, err := s.read()
	if err != nil {
		return nil, err
	}
	if st == nil {
		return New(), nil
	}
	s.mu.Lock()
	s.seen = &seenFile{raw: raw, lineage: st.Lineage, serial: st.Serial, loaded: st.Clone()}
	s.mu.Unlock()
	return st, nil
}

// read returns the parsed file and its raw bytes; (nil, nil, nil) when the file does not exist.
func (s *Store) read() (*State, []byte, error) {
	b, err := readNoFollow("state file", s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading state file %s: %w", s.path, err)
	}
	st, err := parse(b)
	if err != nil {
		return nil, nil, fmt.Errorf("state file %s is not valid: %w; restore it from %s or fix it by hand", s.path, err, s.backupPath)
	}
	return st, b, nil
}

func parse(b []byte) (*State, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("the file is empty")
	}
	// Read the version first: a newer format may not even decode into today's structs.
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if head.Version == nil || *head.Version < 1 {
		return nil, errors.New(`no "version": not a sparkform state file`)
	}
	if *head.Version > FormatVersion {
		return nil, fmt.Errorf("format version %d was written by a newer sparkform (this build reads version %d); upgrade sparkform", *head.Version, FormatVersion)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if st.Lineage == "" {
		return nil, errors.New(`no "lineage"`)
	}
	if st.Hosts == nil {
		st.Hosts = map[string]*Host{}
	}
	for name, h := range st.Hosts {
		if h == nil {
			return nil, fmt.Errorf("host %q: null record", name)
		}
		if h.Resources == nil {
			h.Resources = map[string]*Resource{}
		}
		for addr, r := range h.Resources {
			if r == nil {
				return nil, fmt.Errorf("host %q: resource %q: null record", name, addr)
			}
		}
		if err := checkHistory(h); err != nil {
			return nil, fmt.Errorf("host %q: %w", name, err)
		}
	}
	st.Version = FormatVersion
	return &st, nil
}

// maxGenerationN bounds generation numbers: the next one is the last plus one, and must not wrap.
const maxGenerationN = 1 << 31

// checkHistory refuses history no sparkform writes: null records, generation numbers that are not
// positive, repeat or could wrap, and negative load times, limits, generations or read-aheads
// (reports, baselines and regression checks would compute with them).
func checkHistory(h *Host) error {
	seen := map[int]bool{}
	for i, g := range h.Generations {
		switch {
		case g == nil:
			return fmt.Errorf("generation record %d: null record", i+1)
		case g.N < 1 || g.N >= maxGenerationN:
			return fmt.Errorf("generation record %d: number %d is not from 1 to %d", i+1, g.N, maxGenerationN-1)
		case seen[g.N]:
			return fmt.Errorf("generation %d is recorded twice", g.N)
		}
		seen[g.N] = true
		for addr, r := range g.Resources {
			if r == nil {
				return fmt.Errorf("generation %d: resource %q: null record", g.N, addr)
			}
		}
	}
	for i, in := range h.Incidents {
		if in == nil {
			return fmt.Errorf("incident record %d: null record", i+1)
		}
	}
	for i, tr := range h.Tests {
		if tr == nil {
			return fmt.Errorf("test result %d: null record", i+1)
		}
		bad := tr.Seconds < 0 || tr.MaxSeconds < 0 || tr.Generation < 0 || tr.Generation >= maxGenerationN
		for _, r := range tr.Runs {
			bad = bad || r < 0
		}
		if tr.Setup != nil {
			for _, kb := range tr.Setup.ReadAheadKB {
				bad = bad || kb < 0
			}
		}
		if bad {
			return fmt.Errorf("test result %d (%s, %s): a negative time, limit, generation or read-ahead", i+1, tr.Test, tr.Mode)
		}
	}
	return nil
}

// encode is the canonical file content (encoding/json's, map keys sorted: equal states encode equally).
func encode(st *State, serial uint64) ([]byte, error) {
	var e encoder
	hosts, err := e.hosts(st)
	if err != nil {
		return nil, err
	}
	return document(serial, st.Lineage, hosts), nil
}

// Persist writes st if its content (ignoring the serial) differs from the file: then the serial
// becomes one more than both st's and the file's, and st.Serial is updated. Writing identical
// content is a no-op (st.Serial takes the file's), so a no-op apply leaves the file untouched.
// A file of another lineage is never overwritten: that would silently replace another history.
// The caller must not mutate st during the call.
//
// The file is read every time (someone may have replaced it), but parsed only when it is not
// what this Store last read or wrote, and st is encoded once, reusing the encodings of history
// records from earlier persists: after one apply step, a persist encodes the resources, not
// months of history, and writes the file.
func (s *Store) Persist(st *State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Lineage == "" {
		return errors.New("state without lineage: create it with state.New or Store.Load")
	}
	disk, err := s.current()
	if err != nil {
		return err
	}
	if disk != nil && disk.lineage != st.Lineage {
		return fmt.Errorf("state file %s belongs to another state (lineage %s, not %s); refusing to overwrite it", s.path, disk.lineage, st.Lineage)
	}
	var diskHosts []byte
	if disk != nil && disk.loaded != nil {
		// Bytes this Store did not write may be laid out otherwise: compare contents. Encoded
		// first, the loaded records fill the cache for st, which shares them.
		if diskHosts, err = s.enc.hosts(disk.loaded); err != nil {
			return err
		}
	}
	hosts, err := s.enc.hosts(st)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	serial := st.Serial
	if disk != nil {
		if bytes.Equal(document(disk.serial, st.Lineage, hosts), disk.raw) || (diskHosts != nil && bytes.Equal(diskHosts, hosts)) {
			st.Serial = disk.serial // the file is what st describes: adopt its serial
			return nil
		}
		serial = max(serial, disk.serial)
	}
	out := document(serial+1, st.Lineage, hosts)
	if disk != nil && !s.backedUp {
		if err := writeAtomic(s.backupPath, disk.raw); err != nil {
			return fmt.Errorf("writing state backup: %w", err)
		}
	}
	s.backedUp = true
	if err := writeAtomic(s.path, out); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	s.seen = &seenFile{raw: out, lineage: st.Lineage, serial: serial + 1}
	st.Serial = serial + 1
	return nil
}

// current is the state file as it is now (nil when there is none), parsed only when its bytes
// are not the ones this Store last saw.
func (s *Store) current() (*seenFile, error) {
	raw, err := readNoFollow("state file", s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state file %s: %w", s.path, err)
	}
	if s.seen != nil && bytes.Equal(raw, s.seen.raw) {
		return s.seen, nil
	}
	st, err := parse(raw)
	if err != nil {
		return nil, fmt.Errorf("state file %s is not valid: %w; restore it from %s or fix it by hand", s.path, err, s.backupPath)
	}
	return &seenFile{raw: raw, lineage: st.Lineage, serial: st.Serial, loaded: st}, nil
}

// rename is replaced by tests to simulate a crash between writing the temp file and renaming it.
var rename = os.Rename

// writeAtomic replaces path with data (mode 0600: state may hold host details worth keeping private).
// A symbolic link at path is refused; the temp file is created with O_EXCL (never through a link).
func writeAtomic(path string, data []byte) (err error) {
	if err := refuseLink("state file", path); err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	// fsync before rename: otherwise a power cut can leave the new name pointing at an empty file.
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = rename(tmp, path); err != nil {
		return err
	}
	// fsync the directory so the rename itself survives a power cut.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
