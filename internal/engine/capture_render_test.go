package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
)

// foldedName is a dist-info METADATA `Name:` header folded onto a second line (RFC 822 folding,
// which importlib.metadata keeps as a newline) that continues with a block of HCL.
const foldedName = "evil\n llama_cpp \"fleet\" { source = \"https://x.invalid/a.git\" ref = \"main\" dir = \"/opt/evil\" }"

// fakeVenv makes a venv whose bin/python answers the capture script with what the real
// interpreter printed for a dist-info whose METADATA has the folded Name above.
func fakeVenv(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "venv")
	report, _ := json.Marshal(map[string]any{"python": "3.12.3", "base": "/usr/bin/python3",
		"dists": map[string]string{"fastsafetensors": "0.1.10", foldedName: "1.0"}})
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "python"), []byte("#!/bin/sh\necho "+base64.StdEncoding.EncodeToString(report)+"\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644)
	return dir
}

// realVenvWithFoldedName makes a real venv holding a dist-info with the folded Name, so the real
// importlib.metadata parses it; "" when this machine cannot make a venv.
func realVenvWithFoldedName(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "venv")
	if err := exec.Command("python3", "-m", "venv", "--without-pip", dir).Run(); err != nil {
		return ""
	}
	sp, _ := filepath.Glob(filepath.Join(dir, "lib", "python3*", "site-packages"))
	if len(sp) != 1 {
		return ""
	}
	di := filepath.Join(sp[0], "evil-1.0.dist-info")
	os.MkdirAll(di, 0o755)
	os.WriteFile(filepath.Join(di, "METADATA"), []byte("Metadata-Version: 2.1\nName: "+foldedName+"\nVersion: 1.0\n\n"), 0o644)
	return dir
}

func parsedBlocks(t *testing.T, src []byte) []string {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "captured.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("rendered capture does not parse: %v\n%s", diags, src)
	}
	var got []string
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		got = append(got, b.Type+"."+strings.Join(b.Labels, "."))
	}
	return got
}

// The attack of issue #10 item 1: a package's folded METADATA Name must not become a live
// llama_cpp block in the captured file; the package is left out with a note that stays a comment.
func TestFoldedMetadataNameCannotAddABlockToTheCapture(t *testing.T) {
	venvs := map[string]string{"fake interpreter": fakeVenv(t)}
	if v := realVenvWithFoldedName(t); v != "" {
		venvs["real importlib.metadata"] = v
	}
	for name, venv := range venvs {
		t.Run(name, func(t *testing.T) {
			blocks, notes, err := Capture(context.Background(), providertest.NewReadOnlyLocal(t), resources.CaptureOptions{Venvs: []string{venv}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(notes, "\n"), "llama_cpp \"fleet\"") {
				t.Fatalf("the hostile package should be left out with a note, notes:\n%s", strings.Join(notes, "\n"))
			}
			src, err := RenderCapture("spark-01", time.Unix(0, 0).UTC(), blocks, notes)
			if err != nil {
				t.Fatal(err)
			}
			if got := parsedBlocks(t, src); len(got) != 1 || got[0] != "python_venv.venv" {
				t.Fatalf("captured file holds blocks %v, want only python_venv.venv:\n%s", got, src)
			}
			for _, l := range strings.Split(string(src), "\n") {
				if strings.Contains(l, "llama_cpp \"fleet\"") && !strings.HasPrefix(l, "#") {
					t.Fatalf("host text outside a comment: %q\n%s", l, src)
				}
			}
		})
	}
}

func TestCaptureCommentsAreSplitPerLineAndEscaped(t *testing.T) {
	notes := []string{"a\r\nsysctl \"x\" {\n}\rkernel \"y\" {}\u2028z\x1b[2J\x00"}
	blocks := []resources.CapturedBlock{{Type: "readahead", Name: "nvme0n1", Comment: "c\nreadahead \"z\" {}\n",
		Attrs: []resources.CapturedAttr{{Name: "device", Value: cty.StringVal("nvme0n1")}, {Name: "kb", Value: cty.NumberIntVal(8192)}}}}
	src, err := RenderCapture("h\nsysctl \"w\" {}", time.Unix(0, 0).UTC(), blocks, notes)
	if err != nil {
		t.Fatal(err)
	}
	if got := parsedBlocks(t, src); len(got) != 1 || got[0] != "readahead.nvme0n1" {
		t.Fatalf("blocks %v:\n%s", got, src)
	}
	if strings.ContainsAny(string(src), "\r\x1b\x00\u2028") {
		t.Fatalf("control characters reached the file: %q", src)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(src)), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "readahead \"nvme0n1\"") && !strings.HasPrefix(l, "  ") && l != "}" {
			t.Errorf("unexpected line %q", l)
		}
	}
}

// A value that would read back differently (or any block the renderer did not mean) fails the render.
func TestRenderCaptureRefusesWhatDoesNotReadBackExactly(t *testing.T) {
	for name, b := range map[string]resources.CapturedBlock{
		"label that is not a label":  {Type: "sysctl", Name: "x\" {}\nkernel \"y", Attrs: []resources.CapturedAttr{{Name: "values", Value: cty.EmptyObjectVal}}},
		"type that is not an ident":  {Type: "sysctl \"a\" {}\nkernel", Name: "x"},
		"attribute name with spaces": {Type: "sysctl", Name: "x", Attrs: []resources.CapturedAttr{{Name: "a = 1\nb", Value: cty.True}}},
	} {
		if _, err := RenderCapture("h", time.Unix(0, 0), []resources.CapturedBlock{b}, nil); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
	// A template sequence in a value is escaped and reads back as the same string.
	ok := resources.CapturedBlock{Type: "python_venv", Name: "v", Attrs: []resources.CapturedAttr{{Name: "path", Value: cty.StringVal("/opt/${file(\"/etc/shadow\")}%{if true}x%{endif}\"\n")}}}
	if _, err := RenderCapture("h", time.Unix(0, 0), []resources.CapturedBlock{ok}, nil); err != nil {
		t.Fatal(err)
	}
}
