package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The state file, its backup, its temp files and its lock live in a directory that someone else
// may be able to write. None of them is ever reached through a symbolic link (root would otherwise
// read, truncate or replace whatever file the link names) or through a second hard link.

// errLink is the refusal for a path that is a symbolic link.
func errLink(what, path string) error {
	return fmt.Errorf("%s %s is a symbolic link: refusing to follow it (whoever can write %s could point it at any file); remove the link", what, path, filepath.Dir(path))
}

// openNoFollow opens path with flag|O_NOFOLLOW and checks that it is a regular file with one link.
func openNoFollow(what, path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errLink(what, path)
	}
	if err != nil {
		return nil, err
	}
	if err := checkRegular(what, path, f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkRegular(what, path string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s %s is not a regular file (%s): refusing to use it", what, path, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("%s %s has %d hard links: refusing to use it (another name for the same file could be anything)", what, path, st.Nlink)
	}
	return nil
}

// MaxStateBytes bounds a state read whole: the file backend's state (and lock) file, a file
// given to `state push`, the documents of a PostgreSQL state. State is untrusted input and an
// unbounded read of a corrupt or hostile one could exhaust memory; the state of 100 hosts with
// long history is ~7 MB, so 256 MiB refuses nothing a real fleet writes. A variable so tests can
// lower it.
var MaxStateBytes int64 = 256 << 20

// ReadAtMost reads r whole, refusing it when it holds more than limit bytes with an error naming
// what (e.g. "state file") and name (its path).
func ReadAtMost(r io.Reader, limit int64, what, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", what, name, err)
	}
	if int64(len(b)) > limit {
		return nil, TooLarge(what, name, limit)
	}
	return b, nil
}

// TooLarge is the error for input over its size limit.
func TooLarge(what, name string, limit int64) error {
	size := fmt.Sprintf("%d bytes", limit)
	if limit >= 1<<20 && limit%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", limit>>20)
	}
	return fmt.Errorf("%s %s is larger than %s: refusing to read it (not one sparkform wrote; the limit keeps a corrupt or hostile file from exhausting memory)", what, name, size)
}

// readNoFollow is os.ReadFile that refuses links, anything but a regular file and more than
// MaxStateBytes; fs.ErrNotExist (wrapped) when absent.
func readNoFollow(what, path string) ([]byte, error) {
	f, err := openNoFollow(what, path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAtMost(f, MaxStateBytes, what, path)
}

// refuseLink fails when path exists as a symbolic link (writeAtomic would replace the link, not
// follow it, but a link where the state belongs means someone is meddling: say so).
func refuseLink(what, path string) error {
	fi, err := os.Lstat(path)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return errLink(what, path)
	}
	return nil
}

// DirWarning returns a warning when the directory holding the state file can be written by
// group or others without the sticky bit (anyone with that access can replace the state, its
// backup or its lock); "" otherwise.
func (s *Store) DirWarning() string {
	dir := filepath.Dir(s.path)
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	m := fi.Mode()
	if m.Perm()&0o022 == 0 || m&fs.ModeSticky != 0 {
		return ""
	}
	who := "group"
	if m.Perm()&0o002 != 0 {
		who = "everyone"
	}
	return fmt.Sprintf("the state directory %s is writable by %s (mode %04o, no sticky bit): whoever can write it can replace the state or its lock; keep the state in a directory only its operators can write (chmod go-w %s)", dir, who, m.Perm(), dir)
}
