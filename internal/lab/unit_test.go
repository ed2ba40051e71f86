package lab

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These run without root: the parts of the lab that need no fleet.

func TestHostsHCLHasOneStrictBlockPerHost(t *testing.T) {
	l := &Lab{dir: "/abs/lab", cfg: labConfig{Hosts: []HostInfo{{Name: "spark-01", Address: "127.0.0.101", Port: 22}, {Name: "spark-02", Address: "127.0.0.102", Port: 22}}}}
	got := l.hostsHCL()
	want := `host "spark-01" {
  address         = "127.0.0.101"
  port            = 22
  user            = "root"
  identity_file   = "/abs/lab/id_ed25519"
  known_hosts     = "/abs/lab/known_hosts"
  host_key_policy = "strict"
  labels          = { lab = "true" }
}
`
	if !strings.Contains(got, want) || strings.Count(got, "host \"") != 2 {
		t.Errorf("hosts.hcl:\n%s", got)
	}
}

func TestWheelRecordHashesEveryFile(t *testing.T) {
	dir := t.TempDir()
	if err := writeWheel(dir, "fastsafetensors", "0.3.2"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "fastsafetensors-0.3.2-py3-none-any.whl"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		files[f.Name] = b.Bytes()
	}
	record := string(files["fastsafetensors-0.3.2.dist-info/RECORD"])
	for name, content := range files {
		if strings.HasSuffix(name, "RECORD") {
			continue
		}
		sum := sha256.Sum256(content)
		if !strings.Contains(record, name+",sha256="+base64.RawURLEncoding.EncodeToString(sum[:])+",") {
			t.Errorf("RECORD lacks a correct hash of %s:\n%s", name, record)
		}
	}
	if !strings.Contains(string(files["fastsafetensors/__init__.py"]), `__version__ = "0.3.2"`) {
		t.Errorf("__init__.py: %s", files["fastsafetensors/__init__.py"])
	}
}

func TestModelFileStartsWithGGUFMagic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := writeModel(p, 3<<20+5); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if len(data) != 3<<20+5 || string(data[:4]) != "GGUF" || bytes.Count(data[1<<20:2<<20], []byte{0}) > 1<<14 {
		t.Errorf("model file: len %d head %q", len(data), data[:8])
	}
}
