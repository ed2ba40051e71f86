package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestDurationFlagsTakeABareNumberAsSeconds(t *testing.T) {
	var d time.Duration
	f := durationFlag{d: &d}
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "0.5": 500 * time.Millisecond, "5s": 5 * time.Second, "2m": 2 * time.Minute} {
		if err := f.Set(in); err != nil || d != want {
			t.Errorf("%q: %v, %v; want %v", in, d, err, want)
		}
	}
	for d, want := range map[time.Duration]string{10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "1h30m", 10 * time.Second: "10s", 0: "0s", 90 * time.Second: "1m30s"} {
		if got := (durationFlag{d: &d}).String(); got != want {
			t.Errorf("%v is shown as %q, want %q", d, got, want)
		}
	}
	if _, out, _ := cli(t, "plan", "-h"); !strings.Contains(out, "(default 10m)") || strings.Contains(out, "10m0s") {
		t.Errorf("plan -h shows -step-timeout's default in Go's form:\n%s", out)
	}
	for _, bad := range []string{"five", "-3", "5x"} {
		if err := f.Set(bad); err == nil || bad != "-3" && !strings.Contains(err.Error(), "write e.g. 5s") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseInterleavedAcceptsFlagsAfterPositionalsAndDoubleDash(t *testing.T) {
	fs := newFlagSet("t", &bytes.Buffer{})
	out := fs.String("out", "", "")
	var hosts multiFlag
	fs.Var(&hosts, "host", "")
	pos, err := parseInterleaved(fs, []string{"dir", "--out", "p.json", "-host", "a", "--host=b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pos) != 1 || pos[0] != "dir" || *out != "p.json" || hosts.String() != "a,b" {
		t.Fatalf("pos %v out %q hosts %v", pos, *out, hosts)
	}
}
