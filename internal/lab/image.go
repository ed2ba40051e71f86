package lab

import (
	"context"
	"crypto/sha256"
	"embed"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sparkform/sparkform/internal/english"
)

//go:embed all:assets
var assets embed.FS // all: keeps the wheels' __init__.py files

// cacheEpoch is bumped when the Go code that builds the image or artifacts changes in a way the
// hashed inputs (embedded files, package lists) do not show.
const cacheEpoch = "1"

// DefaultCacheDir holds the host image and artifacts, shared by every lab on this machine.
const DefaultCacheDir = "/var/cache/sparkform-lab"

// imagePackages is the package list of the host image (mmdebstrap --include). grub2-common (with
// grub-common) is Debian's GRUB userland, used as it is; no bootloader package (grub-pc, grub-efi-*)
// is installed, so nothing can try to write a boot sector or an EFI partition.
var imagePackages = []string{"openssh-server", "sudo", "procps", "udev", "iproute2", "python3", "python3-venv", "grub2-common",
	"git", "cmake", "make", "g++", "ca-certificates"}

const imageSuite = "bookworm"

func mmdebstrapArgs(dir string) []string {
	return []string{"--variant=minbase", "--include=" + strings.Join(imagePackages, ","), imageSuite, dir}
}

// hashTree adds every embedded file under root (name and content) to h.
func hashTree(h hash.Hash, root string) {
	_ = fs.WalkDir(assets, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := assets.ReadFile(p)
		fmt.Fprintf(h, "%s %d\n", p, len(data))
		h.Write(data)
		return nil
	})
}

func baseKey() string {
	h := sha256.New()
	fmt.Fprintf(h, "mmdebstrap %v\n", mmdebstrapArgs(""))
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}

func imageKey(artKey string) string {
	h := sha256.New()
	fmt.Fprintf(h, "epoch=%s base=%s artifacts=%s stock=%s\n", cacheEpoch, baseKey(), artKey, StockKernel)
	hashTree(h, "assets/image")
	data, _ := assets.ReadFile("assets/customize.sh")
	h.Write(data)
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}

// eachAsset calls f with the path below root and the content of every embedded file under root,
// in lexical order, stopping at the first error.
func eachAsset(root string, f func(rel string, data []byte) error) error {
	return fs.WalkDir(assets, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		return f(strings.TrimPrefix(p, root+"/"), data)
	})
}

// flock takes an exclusive lock on path, waiting for other processes that hold it (polling,
// so that ctx can cancel the wait). The returned function releases it.
func flock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cached is what the lab needs from the shared cache: the image (lower dir of every host's
// overlay), the artifacts (bound read-only into hosts) and model files.
type cached struct {
	Image, Artifacts string
}

// ensureCache builds whatever is missing from the cache, under the cache lock so that concurrent
// labs (tests of several packages) build each thing once. Finished entries are never modified.
func ensureCache(ctx context.Context, cacheDir string, log io.Writer) (cached, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return cached{}, err
	}
	unlock, err := flock(ctx, filepath.Join(cacheDir, "lock"))
	if err != nil {
		return cached{}, err
	}
	defer unlock()
	arch, err := output(ctx, "dpkg", "--print-architecture")
	if err != nil {
		return cached{}, err
	}
	ak := artifactsKey(arch)
	c := cached{Artifacts: filepath.Join(cacheDir, "artifacts-"+ak), Image: filepath.Join(cacheDir, "image-"+imageKey(ak))}
	if !exists(c.Artifacts) {
		fmt.Fprintf(log, "lab: building artifacts (apt repository, wheelhouse, llama.cpp repository) in %s\n", c.Artifacts)
		if err := buildInto(c.Artifacts, func(tmp string) error { return buildArtifacts(ctx, tmp, arch, log) }); err != nil {
			return cached{}, err
		}
	}
	if exists(c.Image) {
		return c, nil
	}
	base := filepath.Join(cacheDir, "base-"+baseKey())
	if !exists(base) {
		fmt.Fprintf(log, "lab: building the base image with mmdebstrap (about 1-2 minutes) in %s\n", base)
		t0 := time.Now()
		err := buildInto(base, func(tmp string) error {
			if err := os.Remove(tmp); err != nil { // mmdebstrap wants to create (or find empty) the directory
				return err
			}
			cmd := exec.CommandContext(ctx, "mmdebstrap", mmdebstrapArgs(tmp)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("mmdebstrap: %v\n%s", err, tail(out, 3000))
			}
			return nil
		})
		if err != nil {
			return cached{}, err
		}
		fmt.Fprintf(log, "lab: base image built in %s\n", english.Duration(time.Since(t0)))
	}
	fmt.Fprintf(log, "lab: customising the host image %s\n", c.Image)
	err = buildInto(c.Image, func(tmp string) error {
		if err := os.Remove(tmp); err != nil {
			return err
		}
		// A copy of the base rather than a tarball: measured faster to make (cp -a 4 s vs unpack 5 s).
		if out, err := exec.CommandContext(ctx, "cp", "-a", base, tmp).CombinedOutput(); err != nil {
			return fmt.Errorf("cp: %v: %s", err, out)
		}
		return customizeImage(ctx, tmp, c.Artifacts)
	})
	return c, err
}

// buildInto runs build on a fresh temporary directory next to dst and renames it to dst when the
// build succeeded, so a dst that exists is always complete.
func buildInto(dst string, build func(tmp string) error) error {
	tmp := dst + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := build(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// customizeImage copies the stand-ins into the image root, compiles the uname shim with the host's
// gcc (same Debian release as the image), and runs customize.sh for what needs the image's tools.
func customizeImage(ctx context.Context, root, artifacts string) error {
	err := eachAsset("assets/image", func(rel string, data []byte) error {
		dst := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(string(data), "#!") {
			mode = 0o755
		}
		os.Remove(dst) // replace, never write through an existing symlink
		if err := os.WriteFile(dst, data, mode); err != nil {
			return err
		}
		return os.Chmod(dst, mode)
	})
	if err != nil {
		return err
	}
	shim := filepath.Join(root, "usr/local/lib/sparkform-lab/uname-shim")
	if out, err := exec.CommandContext(ctx, "gcc", "-shared", "-fPIC", "-O2", "-o", shim+".so", shim+".c").CombinedOutput(); err != nil {
		return fmt.Errorf("gcc uname shim: %v: %s", err, out)
	}
	script, _ := assets.ReadFile("assets/customize.sh")
	cmd := exec.CommandContext(ctx, "bash", "-c", string(script), "customize.sh", root, artifacts, "linux-image-"+StockKernel)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("customize.sh: %v: %s", err, tail(out, 3000))
	}
	return nil
}

// ensureModel returns a cached model file of the given size and kind (its extension), creating
// it with write if needed.
func ensureModel(ctx context.Context, cacheDir string, size int64, kind string, write func(string, int64) error) (string, error) {
	dir := filepath.Join(cacheDir, "models")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, fmt.Sprintf("model-%d.%s", size, kind))
	if exists(p) {
		return p, nil
	}
	unlock, err := flock(ctx, p+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if exists(p) {
		return p, nil
	}
	return p, write(p, size)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// assetText returns an embedded file by its path under assets/.
func assetText(name string) []byte {
	data, err := assets.ReadFile(path.Join("assets", name))
	if err != nil {
		panic(err) // embedded at build time: a missing name is a programming error
	}
	return data
}
