package resources

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
)

// sf_untrusted decides whether a program may run as root: it, every directory above it and
// every symlink on the way (targets followed) must belong to root or the login user and not be
// writable by group or others, except directories with the sticky bit.
func TestUntrustedProgramRules(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string, mode os.FileMode) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	chmod := func(rel string, mode os.FileMode) {
		if err := os.Chmod(filepath.Join(root, rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	ok := mk("ok/bin/prog", 0o755)
	groupW := mk("gw/bin/prog", 0o755)
	chmod("gw/bin", 0o775)
	otherW := mk("ow/prog", 0o757)
	sticky := mk("st/prog", 0o755)
	chmod("st", 0o777|os.ModeSticky)
	linkDir := filepath.Join(root, "lnk")
	os.MkdirAll(linkDir, 0o755)
	os.Symlink(groupW, filepath.Join(linkDir, "prog")) // a trusted name for an untrusted target
	for _, d := range []string{root, filepath.Dir(root)} {
		os.Chmod(d, 0o755) // t.TempDir's own directories are the test's to open
	}
	cases := []struct {
		path, want string
	}{
		{ok, ""},
		{sticky, ""},
		{groupW, "/gw/bin is writable by its group"},
		{otherW, "/ow/prog is writable by others"},
		{filepath.Join(linkDir, "prog"), "/gw/bin is writable by its group"},
		{filepath.Join(root, "missing"), "cannot check"},
	}
	var script strings.Builder
	script.WriteString(trustLib)
	for _, c := range cases {
		script.WriteString("printf '%s\\n' \"$(sf_untrusted " + provider.Quote(c.path) + ")\"\n")
	}
	got := strings.Split(strings.TrimSuffix(string(providertest.MustRun(t, script.String())), "\n"), "\n")
	if len(got) != len(cases) {
		t.Fatalf("%d lines for %d cases: %q", len(got), len(cases), got)
	}
	// Several programs in one call (one namei, one awk): the first untrusted one is named.
	both := string(providertest.MustRun(t, trustLib+"sf_untrusted "+provider.QuoteAll(ok, sticky, groupW, otherW)+"\n"))
	if !strings.HasPrefix(both, groupW+"\t") || !strings.Contains(both, "/gw/bin is writable by its group") {
		t.Errorf("ok, sticky, group-writable, other-writable in one call: %q", both)
	}
	if out := string(providertest.MustRun(t, trustLib+"sf_untrusted "+provider.QuoteAll(ok, sticky)+"\n")); out != "" {
		t.Errorf("two trusted programs: %q", out)
	}
	for i, c := range cases {
		if c.want == "" && got[i] != "" || c.want != "" && !strings.Contains(got[i], c.want) {
			t.Errorf("%s: %q, want %q", c.path, got[i], c.want)
		}
	}
	if os.Geteuid() == 0 {
		// Another owner anywhere on the way is refused.
		nobody := mk("nb/bin/prog", 0o755)
		if err := os.Chown(filepath.Join(root, "nb"), 65534, 65534); err != nil {
			t.Fatal(err)
		}
		out := string(providertest.MustRun(t, trustLib+"sf_untrusted "+provider.Quote(nobody)+"\n"))
		if !strings.Contains(out, "/nb is owned by") {
			t.Errorf("a directory owned by uid 65534: %q", out)
		}
	}
}
