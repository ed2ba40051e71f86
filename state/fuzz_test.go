package state

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzDecode: a state file is untrusted input (someone else may have written or edited it): it
// decodes or fails, never panics, and what decodes encodes to a file that decodes to the same
// encoding, laid out byte for byte as json.MarshalIndent lays it out; its history can be used
// (baselines, the next generation) without a crash, a negative time or a wrapped generation
// number. Seed corpus: testdata/fuzz/FuzzDecode; `.ci/fuzz` runs it briefly.
func FuzzDecode(f *testing.F) {
	st := New()
	st.Hosts["spark-01"] = &Host{Resources: map[string]*Resource{}}
	if b, err := Encode(st); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"lineage":"x","hosts":{"h":null}}`))
	f.Add([]byte(`{"version":99}`))
	f.Add([]byte(`{"version":1,"lineage":"x","hosts":{"h":{"resources":{},"generations":[{"n":3,"time":"2026-01-01T00:00:00Z","config_hash":"c","resources":{}}],"tests":[{"time":"2026-01-01T00:00:00Z","test":"t","mode":"m","seconds":2,"runs":[2],"passed":true,"kernel":"k"}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Decode(b)
		if err != nil {
			return
		}
		for name, h := range st.Hosts {
			for _, tr := range h.Tests {
				for _, r := range h.BaselineResults(tr.Test, tr.Mode, BaselineRuns) {
					if r.Seconds < 0 {
						t.Fatalf("host %s: baseline of %v s", name, r.Seconds)
					}
				}
			}
			if n := len(h.Generations); n > 0 && h.Generations[n-1].N+1 <= 0 {
				t.Fatalf("host %s: the next generation after %d wraps", name, h.Generations[n-1].N)
			}
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

// FuzzLockInfo: the lock file's holder details (anyone who can write the state's directory can
// write them) are taken only as Lock writes them, and the error naming the holder is one line
// of printable text; what Lock writes is always taken.
func FuzzLockInfo(f *testing.F) {
	f.Add([]byte(`{"id":"x","operation":"apply","who":"alice@laptop","pid":4242,"created":"2026-01-01T00:00:00Z","path":"/srv/s.json"}`), "apply", "alice@laptop")
	f.Add([]byte(`{"pid":-1,"who":"\u001b[2J"}`), "a\nb", "\u202e")
	f.Fuzz(func(t *testing.T, b []byte, op, who string) {
		if info := parseLockInfo(b); info != nil {
			msg := (&lockError{LockFile: "/srv/s.json.lock", Info: info}).Error()
			if info.PID <= 0 || strings.ContainsFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) || len(msg) > 5*maxLockField {
				t.Fatalf("holder %+v: %q", info, msg)
			}
		}
		// Lock writes operation names and user@hostname: valid UTF-8 (JSON would write each
		// invalid byte as a 3-byte U+FFFD, past the bound), printable, short.
		if len(op) > maxLockField || len(who) > maxLockField || !utf8.ValidString(op+who) || strings.ContainsFunc(op+who, func(r rune) bool { return !unicode.IsPrint(r) }) {
			return
		}
		written, _ := json.Marshal(lockInfo{ID: "id", Operation: op, Who: who, PID: 7, Created: time.Unix(0, 0).UTC(), Path: "/srv/s.json"})
		if parseLockInfo(append(written, '\n')) == nil {
			t.Fatalf("details Lock writes were refused: %s", written)
		}
	})
}
