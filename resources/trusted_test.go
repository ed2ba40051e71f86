package resources

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// A program's path is not all it runs: a venv's python executes the .pth files and imports the
// modules of its site-packages, llama-server loads the libraries beside it in its build tree. A
// venv or CMake build tree in which a non-root user can write a single file is a tree whose
// program that user can make run their code as root: plan must not run it.
func TestPlanDoesNotRunAVenvOrBuildTreeANonRootUserCanWriteInto(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tree's parts are given to another user")
	}
	root := t.TempDir()
	for _, d := range []string{root, filepath.Dir(root)} {
		os.Chmod(d, 0o755)
	}
	canary := filepath.Join(root, "canary")
	ran := func() bool {
		_, err := os.Stat(canary)
		os.Remove(canary)
		return err == nil
	}

	// A venv whose site-packages holds a .pth line (python runs it at start-up, even with -I).
	venv := filepath.Join(root, "venv")
	if out, err := exec.Command("/usr/bin/python3", "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Skipf("python3 -m venv: %v %s", err, out)
	}
	sites, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages"))
	if len(sites) != 1 {
		t.Fatalf("site-packages of %s: %v", venv, sites)
	}
	pth := filepath.Join(sites[0], "evil.pth")
	if err := os.WriteFile(pth, []byte("import os; open("+strconv.Quote(canary)+", 'w').close()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	probeVenv := func() error {
		out := providertest.MustRun(t, venvFact.command(venv, venvGensDir(venv), "/usr/bin/python3", "json"))
		_, err := venvFact.parse(parseProbe(out))
		return err
	}
	if err := probeVenv(); err != nil || !ran() {
		t.Fatalf("a root-owned venv: the probe must run its python (and so the .pth): err %v, ran %v", err, ran())
	}
	if err := os.Chown(sites[0], 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := probeVenv()
	if ran() {
		t.Errorf("plan ran code from a site-packages owned by uid 65534 as root")
	}
	if err == nil || !strings.Contains(err.Error(), "untrusted") || !strings.Contains(err.Error(), "site-packages is owned by") {
		t.Errorf("a venv with a site-packages owned by another user: %v, want untrusted naming site-packages", err)
	}
	os.Chown(sites[0], 0, 0)
	os.Chmod(pth, 0o666)
	if err := probeVenv(); ran() || err == nil || !strings.Contains(err.Error(), "evil.pth is writable by") {
		t.Errorf("a venv with a world-writable .pth: err %v", err)
	}

	// A build tree (CMakeCache.txt) whose llama-server loads a library anyone can write; a shell
	// script sourcing a file stands in for the dynamic loader.
	dir := filepath.Join(root, "llama")
	bin := filepath.Join(dir, "builds", "1", "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(dir, "builds", "1", "CMakeCache.txt"), []byte("# cmake\n"), 0o644)
	lib := filepath.Join(bin, "libggml.so")
	os.WriteFile(lib, []byte("touch "+provider.Quote(canary)+"\n"), 0o644)
	os.WriteFile(filepath.Join(bin, "llama-server"), []byte("#!/bin/sh\n. \"${0%/*}/libggml.so\"\necho 'version: 1 (abc)'\n"), 0o755)
	os.Symlink("builds/1", filepath.Join(dir, "current"))
	probeLlama := func() error {
		out := providertest.MustRun(t, llamaFact.command(dir))
		_, err := llamaFact.parse(parseProbe(out), dir)
		return err
	}
	if err := probeLlama(); err != nil || !ran() {
		t.Fatalf("a root-owned build: the probe must run its llama-server: err %v, ran %v", err, ran())
	}
	os.Chown(lib, 65534, 65534)
	err = probeLlama()
	if ran() {
		t.Errorf("plan ran llama-server with a library owned by uid 65534 as root")
	}
	if err == nil || !strings.Contains(err.Error(), "libggml.so is owned by") {
		t.Errorf("a build whose library another user owns: %v, want untrusted naming the library", err)
	}
}
