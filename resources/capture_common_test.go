package resources

import (
	"encoding/base64"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// capturedAttr finds an attribute of a captured block.
func capturedAttr(b CapturedBlock, name string) cty.Value {
	for _, a := range b.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return cty.NilVal
}

func TestCaptureName(t *testing.T) {
	for in, want := range map[string]string{"/opt/venv": "venv", "/opt/llama.cpp": "llama_cpp", "nvme0n1": "nvme0n1", "/opt/2venv/": "venv_2venv", "/": "venv"} {
		if got := captureName(in, "venv"); got != want {
			t.Errorf("captureName(%q) = %q, want %q", in, got, want)
		}
	}
}
