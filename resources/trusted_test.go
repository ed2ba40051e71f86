package resources

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/zclconf/go-cty/cty"
)

// sf_untrusted decides whether a program may run as root: it, every directory above it and
// every symlink on the way (targets followed) must belong to root or the login user and not be
// writable by group or others, except directories with the sticky bit.
func TestUntrustedProgramRules(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string, mode os.FileMode) string {
		p := filepath.Join(root, rel)
		writeProgram(t, p, "#!/bin/sh\n")
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
// venv, conda environment or CMake build tree in which a non-root user can write a single file is a tree whose
// program that user can make run their code as root: plan must not run it.
func TestPlanDoesNotRunAVenvOrBuildTreeANonRootUserCanWriteInto(t *testing.T) {
	root := rootSandbox(t, "the tree's parts are given to another user", false)
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

	// A conda environment (conda-meta/) is a tree like a venv: a smoke test's vllm from one
	// imports its site-packages.
	conda := filepath.Join(root, "conda")
	os.MkdirAll(filepath.Join(conda, "conda-meta"), 0o755)
	os.MkdirAll(filepath.Join(conda, "bin"), 0o755)
	site := filepath.Join(conda, "lib", "python3.12", "site-packages")
	os.MkdirAll(site, 0o755)
	os.WriteFile(filepath.Join(site, "vllm.sh"), []byte("touch "+provider.Quote(canary)+"\n"), 0o644)
	os.WriteFile(filepath.Join(conda, "bin", "vllm"), []byte("#!/bin/sh\n. \"${0%/bin/*}/lib/python3.12/site-packages/vllm.sh\"\n"), 0o755)
	smoke := func() provider.Result {
		res, err := providertest.NewReadOnlyLocal(t).Run(context.Background(), smokeProbeScript(smokeServers["vllm"], []string{filepath.Join(conda, "bin", "vllm"), "serve"}, false, "MARK"))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := smoke(); res.ExitCode != 0 || !ran() {
		t.Fatalf("a root-owned conda environment: the smoke probe must run its vllm: exit %d %s", res.ExitCode, res.Stderr)
	}
	os.Chown(site, 65534, 65534)
	if res := smoke(); ran() || res.ExitCode != 126 || !strings.Contains(string(res.Stderr), "site-packages is owned by") {
		t.Errorf("a conda environment whose site-packages uid 65534 owns: exit %d %q (ran: vllm)", res.ExitCode, res.Stderr)
	}
}

// Apply builds and runs as root in a llama_cpp dir and beside a venv path: a non-root user who
// can write there (the directory or one above it) can swap the checked-out source between git
// and cmake, or the new venv between its creation and pip, or turn builds/ into a link to / for
// the pruning of failed builds. Plan refuses such a place and apply checks it again once the
// directories exist (from then on nobody else can change them), before anything runs there.
func TestApplyDoesNotBuildInADirectoryANonRootUserCanWrite(t *testing.T) {
	root := rootSandbox(t, "a directory is given to another user", true)
	src := sourceRepo(t, filepath.Join(root, "source"))
	shared := filepath.Join(root, "shared") // a directory another user owns
	os.Mkdir(shared, 0o755)
	if err := os.Chown(shared, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	fetch := func(dir string) provider.Result { return llamaFetch(t, "", dir, src) }
	if res := fetch(filepath.Join(root, "llama")); res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "commit ") {
		t.Fatalf("fetching into a root-owned directory: exit %d %s %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	dir := filepath.Join(shared, "llama")
	out := providertest.MustRun(t, llamaFact.command(dir))
	if _, err := llamaFact.parse(parseProbe(out), dir); err == nil || !strings.Contains(err.Error(), "untrusted: not building in "+dir+": "+shared+" is owned by") {
		t.Errorf("plan of a llama_cpp dir inside a directory uid 65534 owns: %v", err)
	}
	if res := fetch(dir); res.ExitCode != llamaExitFetch || !strings.Contains(string(res.Stderr), "untrusted") {
		t.Errorf("fetching into a directory inside one uid 65534 owns: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "src")); err == nil {
		t.Errorf("git cloned into %s/src, which uid 65534 can swap before cmake runs", dir)
	}
	// builds/ replaced by a link before the switch prunes failed builds: nothing outside is touched.
	victim := filepath.Join(root, "victim")
	os.MkdirAll(filepath.Join(victim, "failed-build"), 0o755)
	os.Remove(filepath.Join(dir, "builds"))
	os.Symlink(victim, filepath.Join(dir, "builds"))
	res, err := providertest.NewReadOnlyLocal(t).Run(context.Background(), trustLib+shellArgs(dir, "1", "2", "0", llamaManifestFile)+llamaSwitchSh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(victim, "failed-build")); err != nil || res.ExitCode == 0 {
		t.Errorf("switching in a directory uid 65534 owns: exit %d (%s), and the directory builds/ linked to: %v", res.ExitCode, res.Stderr, err)
	}

	// A venv beside which another user can write: plan refuses, the build script creates nothing.
	venv := filepath.Join(shared, "venv")
	out = providertest.MustRun(t, venvFact.command(venv, venvGensDir(venv), "/usr/bin/python3"))
	if _, err := venvFact.parse(parseProbe(out)); err == nil || !strings.Contains(err.Error(), "untrusted: not building in "+venvGensDir(venv)+": "+shared+" is owned by") {
		t.Errorf("plan of a venv inside a directory uid 65534 owns: %v", err)
	}
	res, err = providertest.NewReadOnlyLocal(t).Run(context.Background(), trustLib+shellArgs(venv, venvGensDir(venv), venvGensDir(venv)+"/1", "/usr/bin/python3", "1", "x", "{}", venvManifestFile, venvInspect, "11", "12", "13", "14")+venvBuildSh+"venv_create\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(venvGensDir(venv) + "/1"); err == nil || res.ExitCode != 11 || !strings.Contains(string(res.Stderr), "untrusted") {
		t.Errorf("building a venv inside a directory uid 65534 owns: exit %d (%s), new generation: %v", res.ExitCode, res.Stderr, err)
	}
}

// capture -llama-dir reads a plain checkout with git, as root. A repository's own config can make
// git run programs (core.sshCommand for the lazy fetch of a partial clone, core.fsmonitor, hooks),
// so git must not read a checkout a non-root user can write, and never reaches the network.
func TestCaptureDoesNotRunGitInACheckoutANonRootUserCanWrite(t *testing.T) {
	root := rootSandbox(t, "the checkout is given to another user", true)
	canary := filepath.Join(root, "canary")
	// checkout makes a clone at DIR whose tag v1 and HEAD name a commit it lacks: reading them
	// makes git fetch it from origin (a promisor remote) with core.sshCommand.
	checkout := func(name string) string {
		d := filepath.Join(root, name)
		for _, args := range [][]string{{"init", "-q", d}, {"-C", d, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"},
			{"-C", d, "remote", "add", "origin", "ssh://example.invalid/llama.cpp"}, {"-C", d, "config", "core.repositoryformatversion", "1"},
			{"-C", d, "config", "extensions.partialClone", "origin"}, {"-C", d, "config", "remote.origin.promisor", "true"},
			{"-C", d, "config", "core.sshCommand", "touch " + canary + "; false"}} {
			if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v %s", args, err, out)
			}
		}
		head, _ := exec.Command("git", "-C", d, "symbolic-ref", "HEAD").Output()
		missing := []byte("1111111111111111111111111111111111111111\n")
		os.WriteFile(filepath.Join(d, ".git", strings.TrimSpace(string(head))), missing, 0o644)
		os.WriteFile(filepath.Join(d, ".git", "refs", "tags", "v1"), missing, 0o644)
		return d
	}
	capture := func(d string) []string {
		opts := CaptureOptions{LlamaDirs: []string{d}}
		out := providertest.MustRun(t, llamaCpp{}.CaptureProbe(opts))
		_, notes, err := llamaCpp{}.Capture(opts, out)
		if err != nil {
			t.Fatal(err)
		}
		return notes
	}

	own := checkout("own")
	capture(own)
	if _, err := os.Stat(canary); err == nil {
		t.Errorf("capture let git reach the network (core.sshCommand ran) in a root-owned checkout")
		os.Remove(canary)
	}
	theirs := checkout("theirs")
	if out, err := exec.Command("chown", "-R", "65534:65534", theirs).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	notes := capture(theirs)
	if _, err := os.Stat(canary); err == nil {
		t.Errorf("capture ran the core.sshCommand of a checkout owned by uid 65534 as root")
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "untrusted") || !strings.Contains(notes[0], theirs+" is owned by") {
		t.Errorf("a checkout owned by uid 65534: notes %q, want one saying it is untrusted", notes)
	}
}

// A python_venv's find_links directory is where pip takes wheels from, as root, into a venv whose
// code plan and the smoke tests then run as root: a directory another user can write is a way to
// put their code there. pip must not read one.
func TestPipDoesNotInstallFromAFindLinksDirectoryANonRootUserCanWrite(t *testing.T) {
	root := rootSandbox(t, "the wheel directory is given to another user", false)
	venv := filepath.Join(root, "venv")
	if out, err := exec.Command("/usr/bin/python3", "-m", "venv", venv).CombinedOutput(); err != nil {
		t.Skipf("python3 -m venv (with pip): %v %s", err, out)
	}
	wheels := filepath.Join(root, "wheels")
	os.Mkdir(wheels, 0o755)
	wheel := func(name string) {
		var b bytes.Buffer
		z := zip.NewWriter(&b)
		for f, text := range map[string]string{
			name + ".py":                     "X = 1\n",
			name + "-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: " + name + "\nVersion: 1.0\n",
			name + "-1.0.dist-info/WHEEL":    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
			name + "-1.0.dist-info/RECORD":   name + ".py,,\n" + name + "-1.0.dist-info/METADATA,,\n" + name + "-1.0.dist-info/WHEEL,,\n" + name + "-1.0.dist-info/RECORD,,\n",
		} {
			w, _ := z.Create(f)
			w.Write([]byte(text))
		}
		z.Close()
		if err := os.WriteFile(filepath.Join(wheels, name+"-1.0-py3-none-any.whl"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pip := func(pkg string) provider.Result {
		script := trustLib + shellArgs(filepath.Join(root, "p"), filepath.Join(root, "g"), venv, "/usr/bin/python3", "1", "x", "{}", venvManifestFile, venvInspect, "11", "12", "13", "14") +
			venvBuildSh + "venv_pip " + provider.QuoteAll("--no-index", "--find-links", wheels, "--", pkg) + "\n"
		res, err := providertest.NewReadOnlyLocal(t).Run(context.Background(), script)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	installed := func(pkg string) bool {
		return exec.Command(filepath.Join(venv, "bin", "python"), "-c", "import "+pkg).Run() == nil
	}
	wheel("sfcontrol")
	if res := pip("sfcontrol"); res.ExitCode != 0 || !installed("sfcontrol") {
		t.Fatalf("pip from a root-owned wheel directory: exit %d %s", res.ExitCode, res.Stderr)
	}
	wheel("sfplanted")
	if err := os.Chown(wheels, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	res := pip("sfplanted") // a failed step removes the new generation (here: the venv) too
	if strings.Contains(string(res.Stdout), "sparkform: pip install") {
		t.Errorf("pip ran, as root, on a wheel directory uid 65534 owns: %s", res.Stdout)
	}
	if res.ExitCode != 12 || !strings.Contains(string(res.Stderr), "untrusted") || !strings.Contains(string(res.Stderr), wheels+" is owned by") {
		t.Errorf("find_links owned by uid 65534: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
}

// rootSandbox is a directory for a test that gives files to another user (why says which; it
// skips unless run as root) and, with git, runs git (it skips without one): t.TempDir with its
// own directories opened to everyone, so the other user can reach what they are given.
func rootSandbox(t *testing.T, why string, git bool) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
	if git {
		needProgram(t, "git")
	}
	root := t.TempDir()
	for _, d := range []string{root, filepath.Dir(root)} {
		os.Chmod(d, 0o755)
	}
	return root
}

// sourceRepo makes a git repository at dir with one empty commit on main: a llama_cpp source.
func sourceRepo(t *testing.T, dir string) string {
	t.Helper()
	for _, args := range [][]string{{"init", "-q", "-b", "main", dir}, {"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	return dir
}

// llamaFetch runs apply's llama.cpp fetch script on this machine, after prefix (say a umask):
// a clone of source's main into dir.
func llamaFetch(t *testing.T, prefix, dir, source string) provider.Result {
	t.Helper()
	res, err := providertest.NewReadOnlyLocal(t).Run(context.Background(),
		prefix+trustLib+shellArgs(dir, source, "main", strconv.Itoa(llamaExitFetch), strconv.Itoa(llamaExitRef))+llamaFetchSh)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A smoke test's program is found on root's PATH. An entry of PATH that is relative (".", "bin")
// names a directory relative to wherever the script runs; `command -v` then answers a relative
// path, which sf_untrusted was never asked about: the program ran unchecked. Such a program is
// not run, nor is the venv python fst_check would find that way.
func TestSmokeTestProgramFoundThroughARelativePATHEntryIsNotRun(t *testing.T) {
	root := t.TempDir()
	canary := filepath.Join(root, "canary")
	os.MkdirAll(filepath.Join(root, "venv", "bin"), 0o777)
	os.WriteFile(filepath.Join(root, "venv", "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o666)
	for _, p := range []string{"server", "python"} {
		os.WriteFile(filepath.Join(root, "venv", "bin", p), []byte("#!/bin/sh\ntouch "+provider.Quote(canary)+"\n"), 0o777)
	}
	srv := smokeServers["vllm"]
	script := "cd " + provider.Quote(root) + " && PATH=venv/bin:$PATH\n" + smokeProbeScript(srv, []string{"server", "serve"}, true, "MARK")
	res, err := providertest.NewReadOnlyLocal(t).Run(context.Background(), script)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(canary); err == nil {
		t.Errorf("a program found through a relative PATH entry ran unchecked (exit %d): %s", res.ExitCode, res.Stderr)
	}
	if res.ExitCode != 126 || !strings.Contains(string(res.Stderr), "relative") {
		t.Errorf("exit %d, stderr %q: want 126 and why", res.ExitCode, res.Stderr)
	}
	out := providertest.MustRun(t, "cd "+provider.Quote(root)+" && PATH=venv/bin:$PATH\n"+trustLib+fstCheckSh+"fst_check server\n")
	if _, err := os.Stat(canary); err == nil || !strings.Contains(string(out), "fst untrusted") {
		t.Errorf("fst_check of a program found through a relative PATH entry: %q (ran: %v)", out, err == nil)
	}
}

// What apply builds as root (a llama.cpp clone and build tree, a venv) is what plan later runs
// as root, so nobody else may be able to write it, whatever umask root has on the host (000
// and 002 are seen on hand-tuned machines): the scripts set their own.
func TestBuildTreesAreClosedToOthersWhateverTheHostsUmask(t *testing.T) {
	root := rootSandbox(t, "root builds the trees", true)
	src := sourceRepo(t, filepath.Join(root, "source"))
	dir := filepath.Join(root, "llama")
	if res := llamaFetch(t, "umask 000\n", dir, src); res.ExitCode != 0 {
		t.Fatalf("fetch: exit %d %s", res.ExitCode, res.Stderr)
	}
	venv := filepath.Join(root, "venv")
	res, err := providertest.NewReadOnlyLocal(t).Run(context.Background(), "umask 000\n"+trustLib+shellArgs(venv, venvGensDir(venv), venvGensDir(venv)+"/1", "/usr/bin/python3", "1", "x", "{}", venvManifestFile, venvInspect, "11", "12", "13", "14")+venvBuildSh+"venv_create\n")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("venv_create: %v exit %d %s", err, res.ExitCode, res.Stderr)
	}
	for _, tree := range []string{dir, venvGensDir(venv)} {
		filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 {
				return err
			}
			if fi, err := os.Lstat(p); err == nil && fi.Mode().Perm()&0o022 != 0 {
				t.Errorf("%s is %v under root's umask 000: others could change what plan runs as root", p, fi.Mode().Perm())
				return filepath.SkipAll
			}
			return nil
		})
	}
}

// A llama_cpp source may be a repository on the host (an absolute path or file://): whoever can
// write it chooses the code root configures with cmake and then runs as llama-server. It is
// held to the same rule as a program: fetch refuses one another user can write.
func TestLlamaSourceOnTheHostThatAnotherUserCanWriteIsNotBuilt(t *testing.T) {
	root := rootSandbox(t, "the source repository is given to another user", true)
	src := sourceRepo(t, filepath.Join(root, "source"))
	if res := llamaFetch(t, "", filepath.Join(root, "a"), src); res.ExitCode != 0 {
		t.Fatalf("a root-owned source: exit %d %s", res.ExitCode, res.Stderr)
	}
	if out, err := exec.Command("chown", "-R", "65534:65534", filepath.Join(src, ".git", "refs")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	for i, source := range []string{src, "file://" + src} {
		dir := filepath.Join(root, "b"+strconv.Itoa(i))
		res := llamaFetch(t, "", dir, source)
		if res.ExitCode != llamaExitFetch || !strings.Contains(string(res.Stderr), "untrusted: not building from "+src) || !strings.Contains(string(res.Stderr), "refs is owned by") {
			t.Errorf("source %s whose refs uid 65534 owns: exit %d, stderr %s", source, res.ExitCode, res.Stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "src")); err == nil {
			t.Errorf("source %s whose refs uid 65534 owns was cloned", source)
		}
	}
}

// Probe output is one report per line, host text after a tag, so no name on a host can pass for
// another report. Directory names (a venv's generations, llama.cpp's builds) may hold a newline:
// such a name is not printed, and so cannot add a "current" or "venv" report of its own.
func TestDirectoryNamesCannotForgeProbeLines(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "llama")
	os.MkdirAll(filepath.Join(dir, "builds", "aaaaaaaaaaaa"), 0o755)
	os.Symlink("builds/aaaaaaaaaaaa", filepath.Join(dir, "current"))
	forged := "x\ncurrent " + base64.StdEncoding.EncodeToString([]byte("builds/bbbbbbbbbbbb"))
	if err := os.Mkdir(filepath.Join(dir, "builds", forged), 0o755); err != nil {
		t.Fatal(err)
	}
	out := providertest.MustRun(t, llamaFact.command(dir))
	if o, err := llamaFact.parse(parseProbe(out), dir); err != nil || o.Current != "aaaaaaaaaaaa" {
		t.Errorf("a build directory named %q: current %q (%v), want aaaaaaaaaaaa", forged, o.Current, err)
	}
	venv := filepath.Join(root, "venv")
	gens := venvGensDir(venv)
	os.MkdirAll(filepath.Join(gens, "1"), 0o755)
	os.Symlink(filepath.Base(gens)+"/1", venv)
	if err := os.Mkdir(filepath.Join(gens, "2\nkind absent"), 0o755); err != nil {
		t.Fatal(err)
	}
	out = providertest.MustRun(t, venvFact.command(venv, gens, ""))
	if v, err := venvFact.parse(parseProbe(out)); err != nil || v.Kind != "link" || len(v.Generations) != 1 {
		t.Errorf("a generation named \"2\\nkind absent\": kind %q, generations %q (%v)", v.Kind, v.Generations, err)
	}
}

// smokeBody is a smoke_test block with only its command set.
func smokeBody(cmd string) cty.Value {
	attrs := map[string]cty.Value{}
	for name, spec := range *(smokeTest{}).Spec().(*hcldec.ObjectSpec) {
		attrs[name] = cty.NullVal(spec.(*hcldec.AttrSpec).Type)
	}
	attrs["command"] = cty.StringVal(cmd)
	return cty.ObjectVal(attrs)
}

// A smoke test's server runs as root on the model its command names: a GGUF parser fed a
// crafted file, or vLLM with --trust-remote-code importing the model directory's Python. A model
// file or directory (or anything in it, or a directory above it) that a user other than root
// and the login user can write is not loaded: the test fails before the server runs at all.
func TestSmokeTestDoesNotLoadAModelANonRootUserCanWrite(t *testing.T) {
	root := rootSandbox(t, "the model is given to another user", false)
	canary := filepath.Join(root, "canary")
	server := filepath.Join(root, "bin", "llama-server")
	os.MkdirAll(filepath.Dir(server), 0o755)
	os.WriteFile(server, []byte("#!/bin/sh\ntouch "+provider.Quote(canary)+"\necho 'version: 1 (abc)'\n"), 0o755)
	models := filepath.Join(root, "models")
	os.MkdirAll(filepath.Join(models, "qwen"), 0o755)
	gguf := filepath.Join(models, "m.gguf")
	os.WriteFile(gguf, []byte("GGUF"), 0o644)
	code := filepath.Join(models, "qwen", "modeling_qwen.py")
	os.WriteFile(code, []byte("import os\n"), 0o644)

	probe := func(srv *smokeServer, argv ...string) provider.Result {
		t.Helper()
		os.Remove(canary)
		res, err := providertest.NewReadOnlyLocal(t).Run(context.Background(), smokeProbeScript(srv, argv, false, "MARK"))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	refused := func(what string, res provider.Result, want string) {
		t.Helper()
		if _, err := os.Stat(canary); err == nil || res.ExitCode != 125 || !strings.Contains(string(res.Stderr), want) {
			t.Errorf("%s: exit %d %q (server ran: %v); want 125 and %q, the server not run", what, res.ExitCode, res.Stderr, err == nil, want)
		}
	}
	llama, vllm := smokeServers["llama.cpp"], smokeServers["vllm"]
	for _, argv := range [][]string{{server, "-m", gguf, "-ngl", "999"}, {server, "--model=" + gguf}, {server, "-hf", "ggml-org/gpt-oss-120b-GGUF"}} {
		if res := probe(llama, argv...); res.ExitCode != 0 {
			t.Fatalf("%v, all root's: exit %d %s", argv, res.ExitCode, res.Stderr)
		}
	}
	if res := probe(vllm, server, "serve", filepath.Join(models, "qwen"), "--trust-remote-code"); res.ExitCode != 0 {
		t.Fatalf("a root-owned model directory: exit %d %s", res.ExitCode, res.Stderr)
	}

	os.Chown(gguf, 65534, 65534)
	refused("a GGUF another user owns", probe(llama, server, "-m", gguf), "m.gguf is owned by")
	os.Chown(gguf, 0, 0)
	os.Chmod(models, 0o775)
	refused("a GGUF in a directory its group can write", probe(llama, server, "-md", gguf), "models is writable by its group")
	os.Chmod(models, 0o755)
	os.Chmod(code, 0o666)
	refused("a model directory with Python anyone can write", probe(vllm, server, "serve", filepath.Join(models, "qwen"), "--trust-remote-code"), "modeling_qwen.py is writable by its group")

	// Through Test: the error names the model and why, and no mode runs.
	os.Rename(server, filepath.Join(root, "bin", "vllm"))
	in := Instance{Type: "smoke_test", Name: "m", Desired: smokeBody(filepath.Join(root, "bin", "vllm") + " serve " + filepath.Join(models, "qwen") + " --trust-remote-code")}
	_, err := (smokeTest{}).Test(context.Background(), providertest.NewLocal(t), in, TestContext{}, nil)
	if _, ran := os.Stat(canary); ran == nil || err == nil || !strings.Contains(err.Error(), "untrusted: not loading the model "+filepath.Join(models, "qwen")+": ") ||
		!strings.Contains(err.Error(), "modeling_qwen.py is writable by its group") {
		t.Errorf("Test of a writable model: %v (server ran: %v)", err, ran == nil)
	}
}
