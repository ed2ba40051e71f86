package lab

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// kernelPkg is a stand-in NVIDIA kernel image package (linux-image-KVER).
type kernelPkg struct {
	KVer, Version string
	FailsToBoot   bool // the boot script "panics" on it and reboots into the saved default
}

// StockKernel is the kernel preinstalled in every lab host, as on a DGX Spark out of the box.
const StockKernel = "6.11.0-1016-nvidia"

// BrokenKernel is the stand-in kernel that fails to boot (see README.md).
const BrokenKernel = "6.17.0-1099-nvidia"

var kernelPkgs = []kernelPkg{
	{KVer: StockKernel, Version: "6.11.0-1016.16"},
	{KVer: "6.14.0-1015-nvidia", Version: "6.14.0-1015.15"},
	{KVer: "6.17.0-1014-nvidia", Version: "6.17.0-1014.14"},
	{KVer: "7.0.0-1019-nvidia", Version: "7.0.0-1019.19"},
	{KVer: BrokenKernel, Version: "6.17.0-1099.99", FailsToBoot: true},
}

// metaPkg mirrors Ubuntu's kernel metapackages: linux-nvidia-X -> linux-image-nvidia-X -> linux-image-KVER.
type metaPkg struct{ Name, Version, Depends, Description string }

var metaPkgs = []metaPkg{
	{"linux-image-nvidia-6.14", "6.14.0-1015.15", "linux-image-6.14.0-1015-nvidia", "NVIDIA Linux kernel image (6.14)"},
	{"linux-nvidia-6.14", "6.14.0-1015.15", "linux-image-nvidia-6.14 (= 6.14.0-1015.15)", "Complete NVIDIA Linux kernel (6.14)"},
	{"linux-image-nvidia-6.17", "6.17.0-1014.14", "linux-image-6.17.0-1014-nvidia", "NVIDIA Linux kernel image (6.17)"},
	{"linux-nvidia-6.17", "6.17.0-1014.14", "linux-image-nvidia-6.17 (= 6.17.0-1014.14)", "Complete NVIDIA Linux kernel (6.17)"},
	{"linux-image-nvidia-hwe-24.04", "7.0.0-1019.19", "linux-image-7.0.0-1019-nvidia", "NVIDIA Linux kernel image (HWE 24.04)"},
	{"linux-nvidia-hwe-24.04", "7.0.0-1019.19", "linux-image-nvidia-hwe-24.04 (= 7.0.0-1019.19)", "Complete NVIDIA Linux kernel (HWE 24.04)"},
	{"linux-image-nvidia-6.17-broken", "6.17.0-1099.99", "linux-image-" + BrokenKernel, "NVIDIA Linux kernel image (6.17, fails to boot: lab stand-in)"},
	{"linux-nvidia-6.17-broken", "6.17.0-1099.99", "linux-image-nvidia-6.17-broken (= 6.17.0-1099.99)", "Complete NVIDIA Linux kernel (6.17, fails to boot: lab stand-in)"},
}

// wheel is a stand-in Python distribution of the lab's wheelhouse, built from assets/wheels/NAME.
type wheel struct {
	Name, Version, Summary string
	// EntryPoints is the dist-info's entry_points.txt ("" for none): pip makes bin/ scripts from it.
	EntryPoints string
	// Requires are extra METADATA lines (Requires-Dist, Provides-Extra).
	Requires []string
}

// wheels are the distributions in the lab's wheelhouse (/srv/wheels).
var wheels = []wheel{
	{Name: "fastsafetensors", Version: "0.1.10", Summary: "High-performance safetensors model loader"},
	{Name: "fastsafetensors", Version: "0.3.2", Summary: "High-performance safetensors model loader"},
	{Name: "vllm", Version: VLLMVersion, Summary: "A high-throughput and memory-efficient inference and serving engine for LLMs",
		EntryPoints: "[console_scripts]\nvllm = vllm.cli:main\n",
		Requires:    []string{"Provides-Extra: fastsafetensors", "Requires-Dist: fastsafetensors>=0.1.10; extra == \"fastsafetensors\""}},
}

// VLLMVersion is the version of the lab's vLLM stand-in.
const VLLMVersion = "0.11.0"

// llamaTags are the stand-in llama.cpp releases (tag -> build number), oldest first.
var llamaTags = []struct {
	Tag   string
	Build int
}{{"b6800", 6800}, {"b10900", 10900}}

// artifactsKey changes whenever anything that goes into the artifacts changes.
func artifactsKey(arch string) string {
	h := sha256.New()
	fmt.Fprintf(h, "epoch=%s arch=%s kernels=%v metas=%v wheels=%v llama=%v\n", cacheEpoch, arch, kernelPkgs, metaPkgs, wheels, llamaTags)
	hashTree(h, "assets/llama")
	hashTree(h, "assets/wheels")
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}

// buildArtifacts writes the apt repository, wheelhouse and git repository into dir.
func buildArtifacts(ctx context.Context, dir, arch string, log io.Writer) error {
	for _, d := range []string{"repo", "wheels", "git", "build"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := buildDebs(ctx, dir, arch); err != nil {
		return fmt.Errorf("kernel packages: %w", err)
	}
	for _, w := range wheels {
		if err := writeWheel(filepath.Join(dir, "wheels"), w); err != nil {
			return fmt.Errorf("wheel %s %s: %w", w.Name, w.Version, err)
		}
	}
	if err := buildLlamaRepo(ctx, dir); err != nil {
		return fmt.Errorf("llama.cpp repository: %w", err)
	}
	return os.RemoveAll(filepath.Join(dir, "build"))
}

func buildDebs(ctx context.Context, dir, arch string) error {
	build := filepath.Join(dir, "build", "debs")
	write := func(root, rel, content string, mode os.FileMode) error {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			return err
		}
		return os.Chmod(p, mode)
	}
	var roots []string
	for _, k := range kernelPkgs {
		root := filepath.Join(build, "linux-image-"+k.KVer)
		vmlinuz := fmt.Sprintf("sparkform lab stand-in kernel image %s\n", k.KVer)
		if k.FailsToBoot {
			vmlinuz += "sparkform-lab: fails-to-boot\n"
		}
		files := map[string]string{
			"boot/vmlinuz-" + k.KVer:                 vmlinuz,
			"boot/initrd.img-" + k.KVer:              "sparkform lab stand-in initramfs\n",
			"boot/config-" + k.KVer:                  "CONFIG_LOCALVERSION=\"-nvidia\"\nCONFIG_ARM64_64K_PAGES=n\n",
			"boot/System.map-" + k.KVer:              "0000000000000000 T _text\n",
			"lib/modules/" + k.KVer + "/modules.dep": "",
		}
		for rel, c := range files {
			if err := write(root, rel, c, 0o644); err != nil {
				return err
			}
		}
		control := fmt.Sprintf(`Package: linux-image-%s
Version: %s
Architecture: %s
Maintainer: sparkform lab <lab@sparkform.invalid>
Section: kernel
Priority: optional
Provides: linux-image
Description: Signed kernel image nvidia (sparkform lab stand-in)
 A kernel image for version %s, standing in for Ubuntu's package of that name.
`, k.KVer, k.Version, arch, k.KVer)
		hook := func(dirName, when string) string {
			return fmt.Sprintf(`#!/bin/sh
set -e
if [ "$1" = %s ] && [ -d /etc/kernel/%s ]; then
  run-parts --report --exit-on-error --arg=%s --arg=/boot/vmlinuz-%s /etc/kernel/%s
fi
`, when, dirName, k.KVer, k.KVer, dirName)
		}
		if err := write(root, "DEBIAN/control", control, 0o644); err != nil {
			return err
		}
		if err := write(root, "DEBIAN/postinst", hook("postinst.d", "configure"), 0o755); err != nil {
			return err
		}
		if err := write(root, "DEBIAN/postrm", hook("postrm.d", "remove"), 0o755); err != nil {
			return err
		}
		roots = append(roots, root)
	}
	for _, m := range metaPkgs {
		root := filepath.Join(build, m.Name)
		control := fmt.Sprintf(`Package: %s
Version: %s
Architecture: %s
Maintainer: sparkform lab <lab@sparkform.invalid>
Depends: %s
Section: kernel
Priority: optional
Description: %s
 sparkform lab stand-in for Ubuntu's metapackage of that name.
`, m.Name, m.Version, arch, m.Depends, m.Description)
		if err := write(root, "DEBIAN/control", control, 0o644); err != nil {
			return err
		}
		roots = append(roots, root)
	}
	for _, root := range roots {
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, filepath.Join(dir, "repo")).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb %s: %v: %s", filepath.Base(root), err, out)
		}
	}
	scan := exec.CommandContext(ctx, "dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	scan.Dir = filepath.Join(dir, "repo")
	var stderr bytes.Buffer
	scan.Stderr = &stderr
	idx, err := scan.Output()
	if err != nil {
		return fmt.Errorf("dpkg-scanpackages: %v: %s", err, stderr.String())
	}
	return os.WriteFile(filepath.Join(dir, "repo", "Packages"), idx, 0o644)
}

// writeWheel builds a pure-Python wheel (a zip with a dist-info whose RECORD hashes every file)
// from the embedded sources in assets/wheels/NAME, with @VERSION@ replaced.
func writeWheel(dir string, w wheel) error {
	di := fmt.Sprintf("%s-%s.dist-info", w.Name, w.Version)
	type file struct{ path, data string }
	var files []file
	root := "assets/wheels/" + w.Name
	err := eachAsset(root, func(rel string, data []byte) error {
		files = append(files, file{rel, strings.ReplaceAll(string(data), "@VERSION@", w.Version)})
		return nil
	})
	if err != nil {
		return err
	}
	meta := fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s (sparkform lab stand-in)\nRequires-Python: >=3.9\n", w.Name, w.Version, w.Summary)
	for _, r := range w.Requires {
		meta += r + "\n"
	}
	files = append(files,
		file{di + "/METADATA", meta},
		file{di + "/WHEEL", "Wheel-Version: 1.0\nGenerator: sparkform-lab\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		file{di + "/top_level.txt", w.Name + "\n"})
	if w.EntryPoints != "" {
		files = append(files, file{di + "/entry_points.txt", w.EntryPoints})
	}
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256([]byte(f.data))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.path, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.data))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", di)
	files = append(files, file{di + "/RECORD", record.String()})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.path, Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, f.data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-py3-none-any.whl", w.Name, w.Version)), buf.Bytes(), 0o644)
}

// buildLlamaRepo makes the bare repository /srv/git/llama.cpp.git: one commit and tag per release,
// with fixed authors and dates so the commit hashes are the same on every machine.
func buildLlamaRepo(ctx context.Context, dir string) error {
	work := filepath.Join(dir, "build", "llama.cpp")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	git := func(env []string, args ...string) error {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		cmd.Env = append(cmd.Env, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := git(nil, "init", "-q", "-b", "master", "."); err != nil {
		return err
	}
	for i, t := range llamaTags {
		err := eachAsset("assets/llama", func(rel string, data []byte) error {
			data = bytes.ReplaceAll(data, []byte("@BUILD_NUMBER@"), []byte(fmt.Sprint(t.Build)))
			dst := filepath.Join(work, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return os.WriteFile(dst, data, 0o644)
		})
		if err != nil {
			return err
		}
		date := fmt.Sprintf("2025-%02d-15T12:00:00Z", 10+i)
		env := []string{"GIT_AUTHOR_NAME=ggml", "GIT_AUTHOR_EMAIL=ggml@sparkform.invalid", "GIT_COMMITTER_NAME=ggml",
			"GIT_COMMITTER_EMAIL=ggml@sparkform.invalid", "GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
		if err := git(env, "add", "-A"); err != nil {
			return err
		}
		if err := git(env, "commit", "-q", "-m", "release "+t.Tag); err != nil {
			return err
		}
		if err := git(env, "tag", t.Tag); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, "git", "clone", "-q", "--bare", work, filepath.Join(dir, "git", "llama.cpp.git"))
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git clone --bare: %v: %s", err, out)
	}
	return nil
}

// writeModel writes a GGUF-looking file of the given size: the magic and version, then
// pseudo-random bytes (not zeros, so nothing can shortcut reading it).
func writeModel(path string, size int64) error {
	f, err := os.OpenFile(path+".tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(size))
	r := rand.NewChaCha8(seed)
	head := []byte("GGUF\x03\x00\x00\x00")
	buf := make([]byte, 1<<20)
	var done int64
	for done < size {
		n := int64(len(buf))
		if size-done < n {
			n = size - done
		}
		b := buf[:n]
		_, _ = r.Read(b)
		if done == 0 {
			copy(b, head)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
		done += n
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// writeSafetensorsModel writes a safetensors file of about size bytes: the 8-byte little-endian
// header length, a JSON header (padded with spaces to 8 bytes) naming F8_E4M3 tensors of 1 MiB
// that tile the data section, then pseudo-random data.
func writeSafetensorsModel(path string, size int64) error {
	const tensor = 1 << 20
	type info struct {
		Dtype       string   `json:"dtype"`
		Shape       [2]int64 `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	head := map[string]any{"__metadata__": map[string]string{"format": "pt", "producer": "sparkform lab stand-in"}}
	var off int64
	for i := 0; off < size; i++ {
		n := min(int64(tensor), size-off)
		head[fmt.Sprintf("model.layers.%d.mlp.experts.weight", i)] = info{Dtype: "F8_E4M3", Shape: [2]int64{1, n}, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(head)
	if err != nil {
		return err
	}
	for (8+len(hj))%8 != 0 {
		hj = append(hj, ' ')
	}
	f, err := os.OpenFile(path+".tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(size)+1)
	r := rand.NewChaCha8(seed)
	_, err = f.Write(append(n[:], hj...))
	buf := make([]byte, 1<<20)
	for done := int64(0); err == nil && done < size; {
		k := min(int64(len(buf)), size-done)
		_, _ = r.Read(buf[:k])
		_, err = f.Write(buf[:k])
		done += k
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
