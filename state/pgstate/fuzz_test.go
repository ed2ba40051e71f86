package pgstate

import (
	"bytes"
	"testing"

	"github.com/sparkform/sparkform/state"
)

// FuzzRowsDecode feeds arbitrary documents as a resource row and as history rows (what a
// database anyone can write may hold): decoding never panics, and what it accepts encodes and
// decodes back to the same state.
func FuzzRowsDecode(f *testing.F) {
	st := sample()
	snap, _, err := encodeState(st, nil)
	if err != nil {
		f.Fatal(err)
	}
	h := snap.hosts["spark-01"]
	f.Add(h.resources["sysctl.loading"], h.lists[0][0].doc, h.lists[2][0].doc)
	f.Add([]byte(`{"type":"x","name":"y","attributes":null,"original":null,"applied_at":"2026-01-01T00:00:00Z"}`), []byte(`{}`), []byte(`null`))
	f.Add([]byte(`{"attributes":{"type":"string","value":1}}`), []byte(`{"n":-1,"resources":{"a":null}}`), []byte(`{"runs":[1e400]}`))
	f.Fuzz(func(t *testing.T, res, gen, run []byte) {
		s := &snapshot{lineage: "l", serial: 3, hosts: map[string]*hostRows{
			"h": {resources: map[string][]byte{"t.n": canonical[state.Resource](res)},
				lists: [len(lists)][]row{{{seq: 1, doc: canonicalRow(0, gen)}}, nil, {{seq: 1, doc: canonicalRow(2, run)}}}},
		}}
		got, err := s.state()
		if err != nil {
			return
		}
		again, _, err := encodeState(got, nil)
		if err != nil {
			t.Fatalf("accepted state does not encode: %v", err)
		}
		back, err := again.state()
		if err != nil {
			t.Fatalf("accepted state does not decode again: %v", err)
		}
		a, _ := state.Encode(got)
		b, _ := state.Encode(back)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip differs:\n%s\n%s", a, b)
		}
	})
}
