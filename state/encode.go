package state

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
)

// The canonical state file is json.MarshalIndent's output, byte for byte (FuzzDecode checks),
// assembled here so that a persist does not re-encode months of history: records that never
// change once recorded — generations, incidents, test runs; State.Clone shares them — are
// encoded once, indented for their place in the file, and reused by pointer.

// encoder keeps the encodings of history records by pointer; the zero value encodes everything.
type encoder struct {
	cache map[any][]byte
	size  int // the length of the last encoding: the next one is about as long
}

// Indents of the file's levels: a host's object is at depth 2 (under "hosts"), a history
// record at depth 4 (in a list of its host).
const (
	hostPrefix   = "    "
	recordPrefix = "        "
)

// hosts returns the value of "hosts" as it appears in the file (indented at depth 1, no
// leading prefix). The cache keeps only the records st holds.
func (e *encoder) hosts(st *State) ([]byte, error) {
	if len(st.Hosts) == 0 {
		return []byte("{}"), nil
	}
	next := make(map[any][]byte, len(e.cache))
	names := make([]string, 0, len(st.Hosts))
	for n := range st.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.Grow(e.size + e.size/8)
	b.WriteString("{")
	for i, n := range names {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n" + hostPrefix)
		if err := writeJSON(&b, n); err != nil {
			return nil, err
		}
		b.WriteString(": ")
		if err := e.host(&b, st.Hosts[n], next); err != nil {
			return nil, err
		}
	}
	b.WriteString("\n  }")
	e.cache, e.size = next, b.Len()
	return b.Bytes(), nil
}

// host writes one host's object: its own fields by encoding/json, then its history lists (the
// last fields of Host, so the order is Marshal's) from the record cache.
func (e *encoder) host(b *bytes.Buffer, h *Host, next map[any][]byte) error {
	if h == nil {
		b.WriteString("null")
		return nil
	}
	own := *h
	own.Generations, own.Incidents, own.Tests = nil, nil, nil
	ob, err := json.MarshalIndent(&own, hostPrefix, "  ")
	if err != nil {
		return err
	}
	closing := len(ob) - len("\n"+hostPrefix+"}")
	b.Write(ob[:closing])
	if err := writeRecords(b, "generations", h.Generations, e.cache, next); err != nil {
		return err
	}
	if err := writeRecords(b, "incidents", h.Incidents, e.cache, next); err != nil {
		return err
	}
	if err := writeRecords(b, "tests", h.Tests, e.cache, next); err != nil {
		return err
	}
	b.Write(ob[closing:])
	return nil
}

// writeRecords writes `,"name": [records]` at depth 3 (nothing for an empty list: the fields
// are omitempty).
func writeRecords[T any](b *bytes.Buffer, name string, items []*T, cache, next map[any][]byte) error {
	if len(items) == 0 {
		return nil
	}
	b.WriteString(",\n" + hostPrefix + "  \"" + name + "\": [")
	for i, it := range items {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n" + recordPrefix)
		if it == nil {
			b.WriteString("null")
			continue
		}
		enc, ok := cache[it]
		if !ok {
			var err error
			if enc, err = json.MarshalIndent(it, recordPrefix, "  "); err != nil {
				return err
			}
		}
		next[it] = enc
		b.Write(enc)
	}
	b.WriteString("\n" + hostPrefix + "  ]")
	return nil
}

func writeJSON(b *bytes.Buffer, v any) error {
	enc, err := json.Marshal(v)
	if err == nil {
		b.Write(enc)
	}
	return err
}

// document is the file content: the header (version, serial, lineage) and the hosts as
// hosts returned them.
func document(serial uint64, lineage string, hosts []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(hosts) + 128)
	b.WriteString("{\n  \"version\": " + strconv.Itoa(FormatVersion) + ",\n  \"serial\": " + strconv.FormatUint(serial, 10) + ",\n  \"lineage\": ")
	_ = writeJSON(&b, lineage) // a string always encodes
	b.WriteString(",\n  \"hosts\": ")
	b.Write(hosts)
	b.WriteString("\n}\n")
	return b.Bytes()
}
