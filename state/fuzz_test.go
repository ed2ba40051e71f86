package state

import (
	"bytes"
	"testing"
)

// FuzzDecode: a state file is untrusted input (someone else may have written or edited it): it
// decodes or fails, never panics, and what decodes encodes to a file that decodes to the same
// encoding, laid out byte for byte as json.MarshalIndent lays it out. Seed corpus:
// testdata/fuzz/FuzzDecode; `.ci/fuzz` runs it briefly.
func FuzzDecode(f *testing.F) {
	st := New()
	st.Hosts["spark-01"] = &Host{Resources: map[string]*Resource{}}
	if b, err := Encode(st); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"lineage":"x","hosts":{"h":null}}`))
	f.Add([]byte(`{"version":99}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(st)
		if err != nil {
			return // e.g. a value that cannot be written back: refused at Persist, not a crash
		}
		if want := marshalIndent(t, st, st.Serial); !bytes.Equal(enc, want) {
			t.Fatalf("encoding differs from json.MarshalIndent:\n%s\n---\n%s", enc, want)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("own encoding does not decode: %v\n%s", err, enc)
		}
		enc2, err := Encode(again)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %v\n%s\n%s", err, enc, enc2)
		}
	})
}
