package lab

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
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
	for _, w := range wheels {
		dir := t.TempDir()
		if err := writeWheel(dir, w); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, w.Name+"-"+w.Version+"-py3-none-any.whl"))
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
		di := w.Name + "-" + w.Version + ".dist-info/"
		record := string(files[di+"RECORD"])
		for name, content := range files {
			if strings.HasSuffix(name, "RECORD") {
				continue
			}
			sum := sha256.Sum256(content)
			if !strings.Contains(record, name+",sha256="+base64.RawURLEncoding.EncodeToString(sum[:])+",") {
				t.Errorf("%s: RECORD lacks a correct hash of %s:\n%s", w.Name, name, record)
			}
		}
		if !strings.Contains(string(files[w.Name+"/__init__.py"]), `__version__ = "`+w.Version+`"`) {
			t.Errorf("%s/__init__.py: %s", w.Name, files[w.Name+"/__init__.py"])
		}
		if w.Name == "vllm" && !strings.Contains(string(files[di+"entry_points.txt"]), "vllm = vllm.cli:main") {
			t.Errorf("vllm has no console script: %q", files[di+"entry_points.txt"])
		}
	}
}

// The safetensors model must parse as safetensors: an 8-byte header length, a JSON header whose
// tensors tile the data section exactly, then the data.
func TestSafetensorsModelHeaderDescribesItsData(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := writeSafetensorsModel(p, 3<<20+5); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	n := binary.LittleEndian.Uint64(data[:8])
	var head map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &head); err != nil {
		t.Fatalf("header: %v", err)
	}
	var end int64
	for k, raw := range head {
		if k == "__metadata__" {
			continue
		}
		var ti struct {
			Dtype       string  `json:"dtype"`
			Shape       []int64 `json:"shape"`
			DataOffsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &ti); err != nil || len(ti.DataOffsets) != 2 {
			t.Fatalf("tensor %s: %s", k, raw)
		}
		if ti.DataOffsets[1]-ti.DataOffsets[0] != ti.Shape[0]*ti.Shape[1] {
			t.Errorf("tensor %s: shape %v does not fill %v", k, ti.Shape, ti.DataOffsets)
		}
		end = max(end, ti.DataOffsets[1])
	}
	if int64(len(data)) != 8+int64(n)+end || (8+n)%8 != 0 {
		t.Errorf("file is %d bytes; header ends at %d, data at %d", len(data), 8+n, end)
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
