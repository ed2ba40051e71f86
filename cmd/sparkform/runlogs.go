package main

// Per-host log files of a run, and their pruning.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"golang.org/x/sys/unix"
)

// runLogs holds one log file per host for one run: DIR/.sparkform/logs/<command>-<time>/<host>.log,
// mode 0600 (tool output may name secrets). Every event goes in, tool output included, escaped
// as the terminal would show it. The newest logsKept runs are kept.
//
// DIR may be writable by others (a shared checkout). The directories are opened one at a time
// relative to the one above, never through a symbolic link, and each must belong to this user
// and be closed to group and others; from then on everything is reached through them, so a link
// or rename put in DIR later changes nothing: root never writes, reads or prunes elsewhere.
type runLogs struct {
	dir   string
	base  *os.File // DIR/.sparkform/logs
	run   *os.File // the run's directory
	files map[string]*os.File
	err   error
}

const logsKept = 20

func newRunLogs(configDir, command string) *runLogs {
	root := filepath.Join(configDir, ".sparkform", "logs")
	name := command + "-" + time.Now().UTC().Format("20060102T150405.000Z")
	return &runLogs{dir: filepath.Join(root, name), files: map[string]*os.File{}}
}

// path is the log file of a host.
func (l *runLogs) path(host string) string {
	return filepath.Join(l.dir, l.fileName(host))
}

func (l *runLogs) fileName(host string) string {
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r < ' ' {
			return '_'
		}
		return r
	}, host)
	if safe == "." || safe == ".." {
		safe = "_" + safe
	}
	return safe + ".log"
}

// open opens (creating them 0700) DIR/.sparkform, its logs and the run's directory.
func (l *runLogs) open() error {
	logs := filepath.Dir(l.dir)
	top, err := os.Open(filepath.Dir(filepath.Dir(logs)))
	if err != nil {
		return err
	}
	sf, err := openPrivateDir(top, filepath.Dir(logs))
	top.Close()
	if err != nil {
		return err
	}
	l.base, err = openPrivateDir(sf, logs)
	sf.Close()
	if err != nil {
		return err
	}
	l.run, err = openPrivateDir(l.base, l.dir)
	return err
}

// openPrivateDir opens the directory p (its last element, relative to parent, created 0700 when
// absent) without following a symbolic link, and checks that it belongs to this user and that
// neither group nor others can write it.
func openPrivateDir(parent *os.File, p string) (*os.File, error) {
	name := filepath.Base(p)
	if err := unix.Mkdirat(int(parent.Fd()), name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdir", Path: p, Err: err}
	}
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	var lst unix.Stat_t
	isLink := err != nil && unix.Fstatat(int(parent.Fd()), name, &lst, unix.AT_SYMLINK_NOFOLLOW) == nil && lst.Mode&unix.S_IFMT == unix.S_IFLNK
	switch {
	case errors.Is(err, unix.ELOOP) || isLink:
		return nil, fmt.Errorf("%s is a symbolic link: refusing to follow it (whoever can write %s could point it anywhere); remove the link", p, filepath.Dir(p))
	case errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("%s is not a directory", p)
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	switch {
	case int(st.Uid) != os.Geteuid():
		unix.Close(fd)
		return nil, fmt.Errorf("%s belongs to uid %d, not to the user running sparkform: whoever owns it can replace what is written there", p, st.Uid)
	case st.Mode&0o022 != 0:
		unix.Close(fd)
		return nil, fmt.Errorf("%s is writable by group or others (mode %04o): chmod go-w %s", p, st.Mode&0o7777, p)
	}
	return os.NewFile(uintptr(fd), p), nil
}

func (l *runLogs) write(host string, ev engine.Event) {
	if l == nil || l.err != nil {
		return
	}
	f := l.files[host]
	if f == nil {
		if l.run == nil {
			if l.err = l.open(); l.err != nil {
				return
			}
		}
		fd, err := unix.Openat(int(l.run.Fd()), l.fileName(host), unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			l.err = &os.PathError{Op: "open", Path: l.path(host), Err: err}
			return
		}
		f = os.NewFile(uintptr(fd), l.path(host))
		l.files[host] = f
		if len(l.files) == 1 {
			pruneLogs(l.base, logsKept)
		}
	}
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	prefix := t.Local().Format("15:04:05.000") + " "
	if ev.Addr != "" {
		prefix += ev.Addr + ": "
	}
	msg := ev.Message
	if ev.Detail != "" { // the whole of what the views show an excerpt of
		msg = ev.Detail
	}
	if ev.Kind != "progress" {
		msg = "== " + ev.Kind + " " + msg
	}
	for _, line := range strings.Split(termsafe.Text(msg), "\n") {
		fmt.Fprintf(f, "%s%s\n", prefix, line)
	}
}

func (l *runLogs) close() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		f.Close()
	}
	for _, d := range []*os.File{l.run, l.base} {
		if d != nil {
			d.Close()
		}
	}
	l.run, l.base = nil, nil
}

// written reports whether any log file was written.
func (l *runLogs) written() bool { return l != nil && len(l.files) > 0 }

// tail returns the last n lines of a host's log (already escaped when written), read from the
// run's directory as it was opened: at most the log's last tailBytes, each line cut to
// tailWidth characters (a log may end in a host's 16 MiB line).
func (l *runLogs) tail(host string, n int) []string {
	if !l.written() {
		return nil
	}
	if l.run == nil { // closed at the end of the run: open the directories again, as checked
		if err := l.open(); err != nil {
			return nil
		}
		defer l.close()
	}
	fd, err := unix.Openat(int(l.run.Fd()), l.fileName(host), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), l.path(host))
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	from := max(0, fi.Size()-tailBytes)
	buf := make([]byte, fi.Size()-from)
	if _, err := f.ReadAt(buf, from); err != nil {
		return nil
	}
	text := strings.TrimSuffix(string(buf), "\n")
	if from > 0 { // the first line read is only the end of one
		_, text, _ = strings.Cut(text, "\n")
	}
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	lines = lines[max(0, len(lines)-n):]
	for i, line := range lines {
		lines[i] = clip(line, tailWidth)
	}
	return lines
}

const (
	tailBytes = 64 << 10
	tailWidth = 300
)

// problem is why the logs could not be written, or nil.
func (l *runLogs) problem() error {
	if l == nil {
		return nil
	}
	return l.err
}
