package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
)

func TestCaptureLocalHostOneRoundTripValidBlocks(t *testing.T) {
	opts := resources.CaptureOptions{SysctlKeys: []string{"kernel.ostype", "vm.no_such_key", "Bad Key"}}
	// A real venv when this machine can make one.
	venv := filepath.Join(t.TempDir(), "venv")
	if err := exec.Command("python3", "-m", "venv", "--without-pip", venv).Run(); err == nil {
		opts.Venvs = []string{venv}
	}
	blocks, notes, err := Capture(context.Background(), providertest.NewReadOnlyLocal(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(notes, "\n")
	for _, want := range []string{"smoke_test: not captured", "no key vm.no_such_key", `"Bad Key" is not a sysctl key`} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
	var sysctl *resources.CapturedBlock
	for i, b := range blocks {
		r, _ := resources.Lookup(b.Type)
		if err := validateCaptured(r, b); err != nil {
			t.Errorf("%s.%s does not validate: %v", b.Type, b.Name, err)
		}
		if b.Type == "sysctl" {
			sysctl = &blocks[i]
		}
	}
	if sysctl == nil {
		t.Fatalf("no sysctl block (an explicit -sysctl key is always captured): %+v\n%s", blocks, joined)
	}
	vals := sysctl.Attrs[0].Value
	if !vals.Type().HasAttribute("kernel.ostype") || vals.GetAttr("kernel.ostype").AsString() != "Linux" {
		t.Errorf("kernel.ostype not captured: %#v", vals)
	}
	if len(opts.Venvs) == 1 {
		found := false
		for _, b := range blocks {
			if b.Type == "python_venv" {
				found = true
				if b.Name != "venv" || b.Attrs[0].Value.AsString() != venv {
					t.Errorf("venv block %+v", b)
				}
			}
		}
		if !found {
			t.Errorf("venv %s not captured: %s", venv, joined)
		}
	}
}

func TestValidateCapturedUsesTheTypesValidate(t *testing.T) {
	r, _ := resources.Lookup("sysctl")
	bad := resources.CapturedBlock{Type: "sysctl", Name: "x", Attrs: []resources.CapturedAttr{{Name: "values",
		Value: cty.ObjectVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("1; reboot")})}}}
	if err := validateCaptured(r, bad); err == nil || !strings.Contains(err.Error(), "characters") {
		t.Fatalf("a hostile value must fail the type's Validate, got %v", err)
	}
	good := resources.CapturedBlock{Type: "sysctl", Name: "x", Attrs: []resources.CapturedAttr{{Name: "values",
		Value: cty.ObjectVal(map[string]cty.Value{"vm.swappiness": cty.NumberIntVal(10)})}}}
	if err := validateCaptured(r, good); err != nil {
		t.Fatal(err)
	}
	unknown := resources.CapturedBlock{Type: "sysctl", Name: "x", Attrs: []resources.CapturedAttr{{Name: "nope", Value: cty.True}}}
	if err := validateCaptured(r, unknown); err == nil {
		t.Fatal("an attribute the type lacks must be refused")
	}
}

// A llama.cpp checkout made by hand (git clone + cmake) is captured from git and CMakeCache.txt.
func TestCaptureLlamaCheckoutLocally(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	root := t.TempDir()
	origin, dir := filepath.Join(root, "origin.git"), filepath.Join(root, "llama")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(cmd.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	run("init", "-q", "--bare", origin)
	run("init", "-q", dir)
	run("-C", dir, "commit", "-q", "--allow-empty", "-m", "x")
	run("-C", dir, "tag", "b6800")
	run("-C", dir, "remote", "add", "origin", origin)
	os.MkdirAll(filepath.Join(dir, "build"), 0o755)
	os.WriteFile(filepath.Join(dir, "build", "CMakeCache.txt"), []byte("GGML_CUDA:BOOL=ON\nCMAKE_CUDA_ARCHITECTURES:STRING=121a-real\nCMAKE_BUILD_TYPE:STRING=Release\n"), 0o644)
	blocks, notes, err := Capture(context.Background(), providertest.NewReadOnlyLocal(t), resources.CaptureOptions{LlamaDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	var got *resources.CapturedBlock
	for i := range blocks {
		if blocks[i].Type == "llama_cpp" {
			got = &blocks[i]
		}
	}
	if got == nil {
		t.Fatalf("no llama_cpp block; notes:\n%s", strings.Join(notes, "\n"))
	}
	attrs := map[string]cty.Value{}
	for _, a := range got.Attrs {
		attrs[a.Name] = a.Value
	}
	if attrs["source"].AsString() != origin || attrs["ref"].AsString() != "b6800" || attrs["cmake_flags"].LengthInt() != 2 {
		t.Fatalf("block %+v", got)
	}
}
