package resources

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// canaryHost runs every script in the local sh with stub programs first on PATH (apt, dpkg,
// GRUB, sysctl, udevadm, git, cmake, python3, nvcc, the built llama-server: each logs its
// arguments and answers just enough for the resource to go on), and keeps WriteFile inside a
// sandbox. Scripts also write /proc/sys, /sys and /etc themselves, so as root they run as
// nobody: nothing they run can change this machine beyond the sandbox.
type canaryHost struct {
	dir, stubs, log string
	mu              sync.Mutex
	scripts         []string
	writes          map[string]fs.FileMode
}

// stubProgram is every stub: it logs its name and arguments (base64, so any byte survives),
// then plays its part.
const stubProgram = `#!/bin/sh
n=${0##*/}
{ printf '%s' "$n"; for a; do printf ' %s' "$(printf '%s' "$a" | base64 -w0)"; done; echo; } >> "$SF_LOG"
case "$n" in
git)
  case " $* " in
  *" rev-parse "*) echo 0123456789abcdef0123456789abcdef01234567 ;;
  *" clone "*) for a; do d=$a; done; mkdir -p "$d/.git" ;;
  esac ;;
cmake)
  if [ "$1" = --build ]; then mkdir -p "$2/bin" && cp "$0" "$2/bin/llama-server"; fi ;;
llama-server)
  case "$1" in --version) echo "version: 1 (abc)" ;; --help) echo "-lm, --load-mode {mmap,none,dio}" ;; esac ;;
python3)
  if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi ;;
python)
  case " $* " in *" -c "*) printf '%s\n' '{"python":"3.12.3","dists":{},"verify":{},"verify_errors":{}}' | base64 -w0; echo ;; esac ;;
sysctl)
  [ "$1" = -n ] && echo 1 ;;
esac
exit 0
`

func newCanaryHost(t *testing.T) *canaryHost {
	dir, err := os.MkdirTemp("", "sparkform-canary-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &canaryHost{dir: dir, stubs: filepath.Join(dir, "stubs"), log: filepath.Join(dir, "argv.log"), writes: map[string]fs.FileMode{}}
	os.MkdirAll(h.stubs, 0o755)
	for _, n := range []string{"git", "cmake", "llama-server", "python3", "python", "nvcc", "sysctl", "udevadm", "apt-get", "apt-mark",
		"apt-cache", "dpkg-query", "update-grub", "grub-editenv", "grub-set-default", "grub-reboot", "grub-mkconfig"} {
		writeProgram(t, filepath.Join(h.stubs, n), stubProgram)
	}
	if os.Geteuid() == 0 {
		filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error { return os.Lchown(p, nobody, nobody) })
	}
	return h
}

// nobody is the uid and gid scripts run as when the test runs as root.
const nobody = 65534

// canary is the file a value would create if it ever reached a shell unquoted.
func (h *canaryHost) canary() string { return filepath.Join(h.dir, "canary") }

func (*canaryHost) Name() string { return "canary" }
func (h *canaryHost) Run(ctx context.Context, script string) (provider.Result, error) {
	return h.RunStream(ctx, script, nil)
}
func (h *canaryHost) RunStream(ctx context.Context, script string, _ func(string, string)) (provider.Result, error) {
	h.mu.Lock()
	h.scripts = append(h.scripts, script)
	h.mu.Unlock()
	cmd := exec.CommandContext(ctx, "sh", "-c", provider.ReadThenRun)
	cmd.Stdin = strings.NewReader(script)
	login := "root"
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		login = "nobody" // the sandbox is nobody's: sf_untrusted trusts the login user's files
	} else if u := os.Getenv("LOGNAME"); u != "" {
		login = u
	}
	cmd.Env = []string{"PATH=" + h.stubs + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SF_LOG=" + h.log, "HOME=" + h.dir, "LOGNAME=" + login}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code, err = ee.ExitCode(), nil
	}
	return provider.Result{Stdout: []byte(out.String()), Stderr: []byte(errb.String()), ExitCode: code}, err
}
func (h *canaryHost) ReadFile(context.Context, string) ([]byte, error) { return nil, fs.ErrNotExist }
func (h *canaryHost) WriteFile(_ context.Context, path string, data []byte, mode fs.FileMode, _ string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes[path] = mode
	return nil
}
func (h *canaryHost) Remove(context.Context, string) error { return nil }
func (h *canaryHost) Reconnect(context.Context) error      { return nil }
func (h *canaryHost) HostKey() string                      { return "" }
func (h *canaryHost) Close() error                         { return nil }

// argv is every stub call logged: program name and its arguments.
func (h *canaryHost) argv(t *testing.T) [][]string {
	b, _ := os.ReadFile(h.log)
	var calls [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, " ")
		call := []string{f[0]}
		for _, a := range f[1:] {
			d, err := base64.StdEncoding.DecodeString(a)
			if err != nil {
				t.Fatalf("stub log %q: %v", line, err)
			}
			call = append(call, string(d))
		}
		calls = append(calls, call)
	}
	return calls
}

// decodeBody decodes an HCL block body with the type's Spec, as the configuration does.
func decodeBody(t *testing.T, r Resource, src string) cty.Value {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := hcldec.Decode(f.Body, r.Spec(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if errs := r.Validate(v); len(errs) > 0 {
		t.Fatalf("the edge values must pass Validate: %v", errs)
	}
	return v
}

// llamaEdgeBody is a llama_cpp block with cmake flags and targets at the edges of what Validate
// accepts (';' and spaces in values, two targets); GGML_CUDA is cuda.
func llamaEdgeBody(source, ref, dir, cuda string) string {
	return fmt.Sprintf(`
source      = %q
ref         = %q
dir         = %q
cmake_flags = { GGML_CUDA = %q, CMAKE_CUDA_ARCHITECTURES = "121a-real;touch CANARY", X_Y = "a b:c=d" }
targets     = ["llama-server", "llama-bench"]
jobs        = 3`, source, ref, dir, cuda)
}

// No value reaches a shell except through provider.Quote: each resource type's probe and apply
// scripts (create, then destroy) run in a local sh with values at the edges of what Validate
// accepts (spaces, ';', '<', '>', '[', '%', '@', unicode, '-' inside values) and host- or
// state-provided values full of shell syntax ($(), backticks, quotes, newlines). The canary file
// those would create must never exist, and the programs must get each value as one argument.
func TestNoValueReachesAShellUnquoted(t *testing.T) {
	for _, c := range []struct {
		typ, body string
		// hostile returns host- and state-provided values (Prior.Original, observed) to use
		// along with the body; canary is the path a successful injection would create.
		original func(canary string) cty.Value
		observed func(canary string, obs cty.Value) cty.Value
		args     []string                          // arguments some program must get whole
		created  func(t *testing.T, h *canaryHost) // checks after the create step
	}{
		{typ: "sysctl", body: `values = { "net.ipv4.tcp_rmem" = "4096 87380 6291456", "kernel.perf_event_paranoid" = "-1", "vm.x-y_z" = "a:b,c/d+e@f" }`,
			original: func(c string) cty.Value {
				return cty.MapVal(map[string]cty.Value{"vm.dirty_ratio": cty.StringVal(hostile(c))})
			},
			observed: func(c string, obs cty.Value) cty.Value {
				live := map[string]cty.Value{"vm.dirty_ratio": cty.StringVal("1")}
				for _, k := range []string{"net.ipv4.tcp_rmem", "kernel.perf_event_paranoid", "vm.x-y_z"} {
					live[k] = cty.StringVal(hostile(c))
				}
				return cty.ObjectVal(map[string]cty.Value{"live": cty.MapVal(live), "file": cty.NullVal(cty.String), "boot": cty.MapValEmpty(cty.String)})
			}},
		{typ: "readahead", body: `
device = "nvme9n9"
kb     = 8192`,
			original: func(c string) cty.Value {
				return cty.MapVal(map[string]cty.Value{"nvme9n8": cty.StringVal(hostile(c))})
			}},
		{typ: "kernel", body: `
package = "linux-image-6.17.0-1014-nvidia"
hold    = true`,
			original: func(c string) cty.Value {
				return cty.ObjectVal(map[string]cty.Value{"holds_before": cty.ListValEmpty(cty.String),
					"held": cty.ListVal([]cty.Value{cty.StringVal(hostile(c))}), "release": cty.StringVal(hostile(c))})
			}},
		{typ: "llama_cpp", body: llamaEdgeBody("https://git.example.com:8443/a~b/llama.cpp%20x@y=z.git", "release/b6800-x.y", "/opt/llama@x+y", "ON"),
			observed: func(c string, obs cty.Value) cty.Value {
				m := obs.AsValueMap()
				m["nvcc"], m["nvcc_on_path"] = cty.StringVal("/usr/local/cuda/bin/nvcc"+hostile(c)), cty.False
				return cty.ObjectVal(m)
			}},
		{typ: "llama_cpp", body: llamaEdgeBody("/srv/git/llama.cpp.git", "b6800", "/opt/llama2", "OFF"),
			args:    []string{"-DCMAKE_CUDA_ARCHITECTURES=121a-real;touch CANARY", "-DX_Y=a b:c=d", "llama-bench"},
			created: func(t *testing.T, h *canaryHost) { wantManifestMode(t, h, "sparkform-manifest.json") }},
		{typ: "smoke_test", body: `
command     = "llama-server -m /m/ünï-cödé.gguf --alias x:y@z,w=1 -c 4096"
ready       = "listening'\"$(touch CANARY)` + "`touch CANARY`" + `;touch CANARY|[a-z]{1,3}"
drop_caches = false
timeout     = "2s"`,
			args: []string{"/m/ünï-cödé.gguf", "x:y@z,w=1"}},
		{typ: "python_venv", body: `
path       = "/opt/venv@x+y"
python     = "python3"
packages   = ["numpy >= 1.26, < 2", "fastsafetensors[a, b]==0.3.2", "x-y.z_w~=1.0"]
find_links = ["/srv/wheels@x", "https://h.example:8080/a,b=c@d%20e"]
verify     = ["fastsafetensors"]`,
			args:    []string{"numpy >= 1.26, < 2", "fastsafetensors[a, b]==0.3.2", "https://h.example:8080/a,b=c@d%20e"},
			created: func(t *testing.T, h *canaryHost) { wantManifestMode(t, h, "sparkform-venv.json") }},
	} {
		t.Run(c.typ, func(t *testing.T) {
			h := newCanaryHost(t)
			canary := h.canary()
			r, _ := Lookup(c.typ)
			body := strings.ReplaceAll(strings.ReplaceAll(c.body, "/opt/", h.dir+"/"), "CANARY", canary)
			desired := decodeBody(t, r, body)
			original := cty.NullVal(cty.DynamicPseudoType)
			if c.original != nil {
				original = c.original(canary)
			}
			ctx := context.Background()
			step := func(in Instance) {
				res, err := h.Run(ctx, r.Probe(in))
				if err != nil {
					t.Fatal(err)
				}
				obs, err := r.Read(in, res.Stdout)
				if err != nil {
					t.Logf("%s: Read: %v", in.Addr(), err)
					return
				}
				if c.observed != nil {
					obs = c.observed(canary, obs)
				}
				d, err := r.Diff(in, obs)
				if err != nil {
					t.Logf("%s: Diff: %v", in.Addr(), err)
					d = Diff{Action: Update, Fields: []FieldChange{{Path: "file"}}}
				}
				if _, err := r.Apply(ctx, h, in, obs, d, func(string) {}); err != nil {
					t.Logf("%s: Apply: %v", in.Addr(), err)
				}
				if tr, ok := r.(Tester); ok && !in.Destroying() {
					if _, err := tr.Test(ctx, h, in, TestContext{}, func(string) {}); err != nil {
						t.Logf("%s: Test: %v", in.Addr(), err)
					}
				}
			}
			step(Instance{Type: c.typ, Name: "edge", Desired: desired, Prior: Prior{Attributes: cty.NullVal(desired.Type()), Original: original}})
			if c.created != nil {
				c.created(t, h)
			}
			step(Instance{Type: c.typ, Name: "edge", Desired: cty.NullVal(cty.DynamicPseudoType), Prior: Prior{Attributes: desired, Original: original}})
			if _, err := os.Stat(canary); err == nil {
				t.Fatalf("the canary fired: a value reached a shell unquoted; scripts:\n%s", strings.Join(h.scripts, "\n----\n"))
			}
			calls := h.argv(t)
			for _, want := range c.args {
				found := false
				for _, call := range calls {
					for _, a := range call[1:] {
						found = found || a == strings.ReplaceAll(want, "CANARY", canary)
					}
				}
				if !found {
					t.Errorf("no program got %q as one argument; calls: %q", want, calls)
				}
			}
		})
	}
}

// hostile is a value a host or a state file could hand sparkform: every way out of a shell word.
func hostile(canary string) string {
	return fmt.Sprintf("x'\"$(touch %[1]s)`touch %[1]s`;touch %[1]s;\ntouch %[1]s #\\", canary)
}

// wantManifestMode asserts that the manifest called name was written (through WriteFile or by a
// script into the sandbox) readable by root only: it names the source and settings of a build
// (issue #10 item 8: manifests on hosts are not world-readable).
func wantManifestMode(t *testing.T, h *canaryHost, name string) {
	t.Helper()
	found := false
	for p, mode := range h.writes {
		if filepath.Base(p) == name {
			found = true
			if mode != 0o600 {
				t.Errorf("%s written with mode %v, want 0600", p, mode)
			}
		}
	}
	filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			found = true
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %v, want no access for group and others", p, fi.Mode().Perm())
			}
		}
		return nil
	})
	if !found {
		t.Errorf("no %s was written", name)
	}
}
