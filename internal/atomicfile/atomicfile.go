// Package atomicfile replaces files so that a reader, or a crash, sees the old content or the new
// one and never half of either: temp file beside the target, fsync, rename, fsync of the directory.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data and mode perm.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	// fsync before rename: otherwise a power cut can leave the new name on an empty file.
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// fsync the directory so the rename itself survives a power cut.
	d, err := os.Open(dir)
	if err != nil {
		return nil // the file is in place; only the rename's durability is unconfirmed
	}
	defer d.Close()
	d.Sync()
	return nil
}
