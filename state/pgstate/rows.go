package pgstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/sparkform/sparkform/state"
)

// snapshot is a state as rows: each record encoded as JSON, so that a persist compares bytes
// and writes only the rows that changed (one resource, one generation), not the whole state.
type snapshot struct {
	lineage string
	serial  uint64
	hosts   map[string]*hostRows
}

type hostRows struct {
	key       string
	resources map[string][]byte // address → Resource JSON
	lists     [len(lists)][]row // generations, incidents, test runs, oldest first
}

// row is one record of a per-host history; seq orders the rows of a host and only grows.
type row struct {
	seq int64
	doc []byte
}

// encodeState turns st into rows (seq still 0: diff numbers the new ones). History records
// (generations, incidents, test runs) are never modified once recorded (state.Clone shares
// them), so their encodings are reused by pointer from cache, and the new cache is returned:
// a persist after one step encodes the resources, not months of history.
func encodeState(st *state.State, cache map[any][]byte) (*snapshot, map[any][]byte, error) {
	next := map[any][]byte{}
	s := &snapshot{lineage: st.Lineage, serial: st.Serial, hosts: map[string]*hostRows{}}
	for name, h := range st.Hosts {
		if h == nil {
			continue
		}
		hr := &hostRows{key: h.HostKey, resources: map[string][]byte{}}
		for addr, r := range h.Resources {
			if r == nil {
				continue
			}
			b, err := json.Marshal(r)
			if err != nil {
				return nil, nil, fmt.Errorf("host %s resource %s: %w", name, addr, err)
			}
			hr.resources[addr] = b
		}
		var err error
		if hr.lists[0], err = encodeRows(h.Generations, cache, next); err == nil {
			if hr.lists[1], err = encodeRows(h.Incidents, cache, next); err == nil {
				hr.lists[2], err = encodeRows(h.Tests, cache, next)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: %w", name, err)
		}
		s.hosts[name] = hr
	}
	return s, next, nil
}

func encodeRows[T any](items []*T, cache, next map[any][]byte) ([]row, error) {
	out := make([]row, 0, len(items))
	for _, it := range items {
		if it == nil {
			continue
		}
		b, ok := cache[it]
		if !ok {
			var err error
			if b, err = json.Marshal(it); err != nil {
				return nil, err
			}
		}
		next[it] = b
		out = append(out, row{doc: b})
	}
	return out, nil
}

// state decodes the rows. The database is as untrusted as a state file: every record must
// decode strictly (no unknown fields, no nulls) and the result passes state.Decode's checks.
func (s *snapshot) state() (*state.State, error) {
	st := &state.State{Version: state.FormatVersion, Lineage: s.lineage, Serial: s.serial, Hosts: map[string]*state.Host{}}
	for name, hr := range s.hosts {
		h := &state.Host{HostKey: hr.key, Resources: map[string]*state.Resource{}}
		for addr, doc := range hr.resources {
			var r *state.Resource
			if err := strictJSON(doc, &r); err != nil || r == nil {
				return nil, fmt.Errorf("host %q resource %q: invalid record: %v", name, addr, err)
			}
			h.Resources[addr] = r
		}
		var err error
		if h.Generations, err = decodeRows[state.Generation](hr.lists[0]); err == nil {
			if h.Incidents, err = decodeRows[state.Incident](hr.lists[1]); err == nil {
				h.Tests, err = decodeRows[state.TestRun](hr.lists[2])
			}
		}
		if err != nil {
			return nil, fmt.Errorf("host %q: %w", name, err)
		}
		st.Hosts[name] = h
	}
	// Round-trip through the file format's validation, so both backends accept the same states.
	b, err := state.Encode(st)
	if err != nil {
		return nil, err
	}
	return state.Decode(b)
}

func decodeRows[T any](rows []row) ([]*T, error) {
	var out []*T
	for _, r := range rows {
		var v *T
		if err := strictJSON(r.doc, &v); err != nil || v == nil {
			return nil, fmt.Errorf("invalid history record (seq %d): %v", r.seq, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// readSnapshot reads the state's rows; nil when the state has not been written.
func (b *Backend) readSnapshot(ctx context.Context, tx pgx.Tx) (*snapshot, error) {
	s := &snapshot{hosts: map[string]*hostRows{}}
	var serial int64
	err := tx.QueryRow(ctx, "SELECT lineage, serial FROM "+b.t("states")+" WHERE name = $1", b.name).Scan(&s.lineage, &serial)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.serial = uint64(serial)
	rows, err := tx.Query(ctx, "SELECT host, host_key FROM "+b.t("hosts")+" WHERE state = $1", b.name)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, key string
		if err := rows.Scan(&name, &key); err != nil {
			return nil, err
		}
		s.hosts[name] = &hostRows{key: key, resources: map[string][]byte{}}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The rows are untrusted like a state file: the database sends a document only when it is
	// within the bound (its size comes first), and the whole read stops at state.MaxStateBytes.
	var total int64
	bound := func(table, host, which string, size int64) error {
		if total += size; size > state.MaxStateBytes || total > state.MaxStateBytes {
			return state.TooLarge(b.String(), fmt.Sprintf("(at table %s, host %s, %s)", table, host, which), state.MaxStateBytes)
		}
		return nil
	}
	const docWithin = "octet_length(doc::text), CASE WHEN octet_length(doc::text) <= $2 THEN doc END"
	rows, err = tx.Query(ctx, "SELECT host, address, "+docWithin+" FROM "+b.t("resources")+" WHERE state = $1", b.name, state.MaxStateBytes)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var host, addr string
		var size int64
		var doc []byte
		if err := rows.Scan(&host, &addr, &size, &doc); err != nil {
			return nil, err
		}
		if err := bound("resources", host, "resource "+addr, size); err != nil {
			rows.Close()
			return nil, err
		}
		if hr := s.hosts[host]; hr != nil {
			hr.resources[addr] = canonical[state.Resource](doc)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, l := range lists {
		rows, err := tx.Query(ctx, "SELECT host, seq, "+docWithin+" FROM "+b.t(l.table)+" WHERE state = $1 ORDER BY host, seq", b.name, state.MaxStateBytes)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var host string
			var size int64
			var r row
			if err := rows.Scan(&host, &r.seq, &size, &r.doc); err != nil {
				return nil, err
			}
			if err := bound(l.table, host, fmt.Sprintf("seq %d", r.seq), size); err != nil {
				rows.Close()
				return nil, err
			}
			if hr := s.hosts[host]; hr != nil {
				r.doc = canonicalRow(i, r.doc)
				hr.lists[i] = append(hr.lists[i], r)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// canonical re-encodes a record read back from jsonb (which reorders keys and spacing) the
// way encodeState writes it, so an unchanged record compares equal. A record that does not
// decode is kept as read: it then differs, and state() reports it.
func canonical[T any](doc []byte) []byte {
	var v *T
	if strictJSON(doc, &v) != nil || v == nil {
		return doc
	}
	out, err := json.Marshal(v)
	if err != nil {
		return doc
	}
	return out
}

// canonicalRow is canonical for the records of lists[i].
func canonicalRow(i int, doc []byte) []byte {
	switch i {
	case 0:
		return canonical[state.Generation](doc)
	case 1:
		return canonical[state.Incident](doc)
	}
	return canonical[state.TestRun](doc)
}

// diff queues the statements turning have into want (want's rows get their seq numbers) and
// returns what changed, one entry per record, for the write history.
func (b *Backend) diff(batch *pgx.Batch, have, want *snapshot) []state.Change {
	var changes []state.Change
	note := func(what string, record []byte) { changes = append(changes, state.Change{What: what, Record: record}) }
	for _, name := range slices.Sorted(maps.Keys(have.hosts)) {
		if want.hosts[name] == nil {
			batch.Queue("DELETE FROM "+b.t("hosts")+" WHERE state = $1 AND host = $2", b.name, name)
			note(name+": removed", nil)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want.hosts)) {
		w, h := want.hosts[name], have.hosts[name]
		if h == nil {
			batch.Queue("INSERT INTO "+b.t("hosts")+" (state, host, host_key) VALUES ($1, $2, $3)", b.name, name, w.key)
			note(name+": added", nil)
			h = &hostRows{key: w.key}
		} else if h.key != w.key {
			batch.Queue("UPDATE "+b.t("hosts")+" SET host_key = $3 WHERE state = $1 AND host = $2", b.name, name, w.key)
			key, _ := json.Marshal(w.key)
			note(name+": host key", key)
		}
		for _, addr := range slices.Sorted(maps.Keys(h.resources)) {
			if w.resources[addr] == nil {
				batch.Queue("DELETE FROM "+b.t("resources")+" WHERE state = $1 AND host = $2 AND address = $3", b.name, name, addr)
				note(name+"/"+addr+": removed", nil)
			}
		}
		for _, addr := range slices.Sorted(maps.Keys(w.resources)) {
			doc := w.resources[addr]
			if old, ok := h.resources[addr]; ok && bytes.Equal(old, doc) {
				continue
			}
			typ, rname, _ := strings.Cut(addr, ".")
			batch.Queue("INSERT INTO "+b.t("resources")+" (state, host, address, type, name, applied_at, doc) "+
				"SELECT $1, $2, $3, $4, $5, (d->>'applied_at')::timestamptz, d FROM (SELECT $6::jsonb AS d) x "+
				"ON CONFLICT (state, host, address) DO UPDATE SET applied_at = excluded.applied_at, doc = excluded.doc",
				b.name, name, addr, typ, rname, string(doc))
			note(name+"/"+addr, doc)
		}
		for i, l := range lists {
			drop, add := appended(h.lists[i], w.lists[i])
			next := int64(1)
			if n := len(h.lists[i]); n > 0 {
				next = h.lists[i][n-1].seq + 1
			}
			if drop > 0 {
				if drop == len(h.lists[i]) {
					batch.Queue("DELETE FROM "+b.t(l.table)+" WHERE state = $1 AND host = $2", b.name, name)
				} else {
					batch.Queue("DELETE FROM "+b.t(l.table)+" WHERE state = $1 AND host = $2 AND seq < $3", b.name, name, h.lists[i][drop].seq)
				}
			}
			kept := len(w.lists[i]) - add
			for k := range w.lists[i] {
				if k < kept {
					w.lists[i][k].seq = h.lists[i][drop+k].seq
					continue
				}
				w.lists[i][k].seq = next
				batch.Queue("INSERT INTO "+b.t(l.table)+" (state, host, seq, doc, "+strings.Join(l.cols, ", ")+") "+
					"SELECT $1, $2, $3, d, "+strings.Join(l.exprs, ", ")+" FROM (SELECT $4::jsonb AS d) x",
					b.name, name, next, string(w.lists[i][k].doc))
				next++
			}
			if add > 0 {
				docs := make([]json.RawMessage, 0, add)
				for _, r := range w.lists[i][kept:] {
					docs = append(docs, r.doc)
				}
				all, _ := json.Marshal(docs)
				note(fmt.Sprintf("%s: %d %s", name, add, strings.ReplaceAll(l.table, "_", " ")), all)
			}
		}
	}
	return changes
}

// appended finds how want continues have: the first drop rows of have are gone (trimmed
// history) and the last add rows of want are new. When want is no continuation of have (a
// replaced state), all of have goes and all of want is new.
func appended(have, want []row) (drop, add int) {
	for drop = 0; drop <= len(have); drop++ {
		rest := have[drop:]
		if len(rest) > len(want) {
			continue
		}
		same := true
		for k := range rest {
			if !bytes.Equal(rest[k].doc, want[k].doc) {
				same = false
				break
			}
		}
		if same {
			return drop, len(want) - len(rest)
		}
	}
	return len(have), len(want) // not reached: drop == len(have) always matches
}
