package provider

import (
	"strconv"
	"strings"
	"testing"
)

// The uid and gid a host prints for an owner name are host output: "-1" (which chown reads as
// "leave unchanged"), a sign, 2^32-1 or anything past 32 bits is no id, and the write is
// refused rather than done with the wrong owner.
func TestOwnerIDsFromTheHostArePlain32BitIDs(t *testing.T) {
	for _, out := range []string{"-1 -1\n", "+0 0\n", "4294967295 0\n", "4294967296 0\n", "0x10 0\n", "1000\n", "1000 1000 1000\n"} {
		if uid, gid, ok := parseOwnerIDs([]byte(out)); ok {
			t.Errorf("%q: read as %d:%d", out, uid, gid)
		}
	}
	if uid, gid, ok := parseOwnerIDs([]byte("1000\n100\n")); !ok || uid != 1000 || gid != 100 {
		t.Fatalf("id -u; id -g: %d:%d %v", uid, gid, ok)
	}
}

// FuzzParseOwnerIDs: ids read from a host are from 0 to 2^32-2 and are what it printed.
func FuzzParseOwnerIDs(f *testing.F) {
	f.Add([]byte("1000\n1000\n"))
	f.Add([]byte("-1 4294967295"))
	f.Fuzz(func(t *testing.T, out []byte) {
		uid, gid, ok := parseOwnerIDs(out)
		if !ok {
			return
		}
		if uid < 0 || gid < 0 || uid >= 1<<32-1 || gid >= 1<<32-1 {
			t.Fatalf("%q: %d:%d", out, uid, gid)
		}
		if f := strings.Fields(string(out)); strings.TrimLeft(f[0], "0") != strings.TrimLeft(strconv.Itoa(uid), "0") || strings.TrimLeft(f[1], "0") != strings.TrimLeft(strconv.Itoa(gid), "0") {
			t.Fatalf("%q read as %d:%d", out, uid, gid)
		}
	})
}
