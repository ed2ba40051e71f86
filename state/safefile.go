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

// readNoFollow is os.ReadFile that refuses links and anything but a regular file;
// fs.ErrNotExist (wrapped) when absent.
func readNoFollow(what, path string) ([]byte, error) {
	f, err := openNoFollow(what, path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
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
