package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
)

func TestRenderCaptureWritesValidOrderedHCL(t *testing.T) {
	blocks := []resources.CapturedBlock{
		{Type: "python_venv", Name: "venv", Comment: "a venv", Attrs: []resources.CapturedAttr{
			{Name: "path", Value: cty.StringVal("/opt/venv")}, {Name: "python", Value: cty.StringVal("/usr/bin/python3")},
			{Name: "packages", Value: cty.ListVal([]cty.Value{cty.StringVal("fastsafetensors==0.1.10")})}}},
		{Type: "readahead", Name: "nvme0n1", Attrs: []resources.CapturedAttr{{Name: "device", Value: cty.StringVal("nvme0n1")}, {Name: "kb", Value: cty.NumberIntVal(8192)}}},
		{Type: "sysctl", Name: "loading", Comment: "two lines\nof comment", Attrs: []resources.CapturedAttr{{Name: "values",
			Value: cty.ObjectVal(map[string]cty.Value{"vm.swappiness": cty.NumberIntVal(10), "net.ipv4.tcp_rmem": cty.StringVal("4096 87380 6291456")})}}},
		{Type: "kernel", Name: "nvidia", Attrs: []resources.CapturedAttr{{Name: "line", Value: cty.StringVal("6.17")}, {Name: "hold", Value: cty.True}}},
	}
	srcb, err := engine.RenderCapture("spark-01 (127.0.0.1)", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), blocks, []string{"smoke_test: not captured: a check"})
	if err != nil {
		t.Fatal(err)
	}
	src := string(srcb)
	wantAll(t, "output", src,
		"# Captured by `sparkform capture` from spark-01 (127.0.0.1) at 2026-01-02 03:04:05 UTC.",
		"no host blocks", "# - smoke_test: not captured: a check", "# - host blocks:",
		"# two lines\n# of comment\nsysctl \"loading\" {",
		`"vm.swappiness"     = 10`, `"net.ipv4.tcp_rmem" = "4096 87380 6291456"`,
		"kb     = 8192", `packages = ["fastsafetensors==0.1.10"]`,
	)
	order := []string{`kernel "nvidia"`, `sysctl "loading"`, `readahead "nvme0n1"`, `python_venv "venv"`}
	last := -1
	for _, o := range order {
		i := strings.Index(src, o)
		if i <= last {
			t.Errorf("%s out of order:\n%s", o, src)
		}
		last = i
	}
	// The file is valid configuration beside a host block, and already formatted.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hosts.hcl": "host \"h\" {\n  address = \"127.0.0.1\"\n}\n", "captured.hcl": src})
	if code, out, stderr := cli(t, "validate", dir); code != 0 {
		t.Fatalf("validate: %d\n%s\n%s\n%s", code, out, stderr, src)
	}
	if code, out, stderr := cli(t, "fmt", "-check", dir); code != 0 {
		t.Fatalf("fmt -check: %d\n%s\n%s", code, out, stderr)
	}
}

func TestParseDirectTarget(t *testing.T) {
	cases := []struct {
		in, user, addr string
		port           int
		err            bool
	}{
		{"root@127.0.0.1", "root", "127.0.0.1", 0, false},
		{"ops@127.0.0.1:2222", "ops", "127.0.0.1", 2222, false},
		{"ops@[::1]:22", "ops", "::1", 22, false},
		{"ops@spark-01.lan", "ops", "spark-01.lan", 0, false},
		{"@127.0.0.1", "", "", 0, true},
		{"ops@127.0.0.1:99999", "", "", 0, true},
		{"ops@a b", "", "", 0, true},
	}
	for _, c := range cases {
		cfg, err := parseDirectTarget(c.in)
		if c.err {
			if err == nil {
				t.Errorf("%s: want an error", c.in)
			}
			continue
		}
		if err != nil || cfg.User != c.user || cfg.Address != c.addr || cfg.Port != c.port {
			t.Errorf("%s: %+v %v", c.in, cfg, err)
		}
	}
}

func TestCaptureArgumentErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hosts.hcl": "host \"a\" {\n  address = \"127.0.0.1\"\n}\nhost \"b\" {\n  address = \"127.0.0.2\"\n}\n"})
	// A fleet is named as plan names it, in ranges, with the closest name.
	fleet := t.TempDir()
	var hosts strings.Builder
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&hosts, "host \"spark-%02d\" {\n  address = \"127.0.0.%d\"\n}\n", i, i)
	}
	writeFiles(t, fleet, map[string]string{"hosts.hcl": hosts.String()})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-dir", dir}, "capture needs a host"},
		{[]string{"nope", "-dir", dir}, `no host "nope"`},
		{[]string{"a", "-dir", dir, "-known-hosts", "/x"}, "are for user@address"},
		{[]string{"root@127.0.0.1", "-host-key-policy", "yolo"}, "-host-key-policy"},
		{[]string{"a", "b"}, "too many arguments"},
		{[]string{"a", dir}, "the configuration directory is -dir DIR"},
		{[]string{"spark-55", "-dir", fleet}, `(hosts: spark-[01-20]); or give user@address. Did you mean spark-05?`},
		{[]string{"-dir", fleet}, "a host block name of " + fleet + " (spark-[01-20]) or user@address"},
	} {
		code, _, stderr := cli(t, append([]string{"capture"}, c.args...)...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("capture %v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}
