package engine

import (
	"context"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
)

// localHost runs scripts with the local sh, as the SSH provider does remotely; everything but
// Run fails, so a capture that tried to write would be caught.
type localHost struct{ t *testing.T }

func (localHost) Name() string { return "local" }
func (h localHost) Run(ctx context.Context, script string) (provider.Result, error) {
	cmd := exec.CommandContext(ctx, "sh", "-s")
	cmd.Stdin = strings.NewReader(script)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code, err = ee.ExitCode(), nil
	}
	return provider.Result{Stdout: []byte(out.String()), Stderr: []byte(errb.String()), ExitCode: code}, err
}
func (h localHost) RunStream(ctx context.Context, script string, _ func(string, string)) (provider.Result, error) {
	return h.Run(ctx, script)
}
func (h localHost) ReadFile(context.Context, string) ([]byte, error) {
	h.t.Fatal("capture read a file outside its probe")
	return nil, nil
}
func (h localHost) WriteFile(context.Context, string, []byte, fs.FileMode, string) error {
	h.t.Fatal("capture wrote a file")
	return nil
}
func (h localHost) Remove(context.Context, string) error {
	h.t.Fatal("capture removed a file")
	return nil
}
func (localHost) Reconnect(context.Context) error { return nil }
func (localHost) HostKey() string                 { return "" }
func (localHost) Close() error                    { return nil }

func TestCaptureLocalHostOneRoundTripValidBlocks(t *testing.T) {
	opts := resources.CaptureOptions{SysctlKeys: []string{"kernel.ostype", "vm.no_such_key", "Bad Key"}}
	// A real venv when this machine can make one.
	venv := filepath.Join(t.TempDir(), "venv")
	if err := exec.Command("python3", "-m", "venv", "--without-pip", venv).Run(); err == nil {
		opts.Venvs = []string{venv}
	}
	blocks, notes, err := Capture(context.Background(), localHost{t}, opts)
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
