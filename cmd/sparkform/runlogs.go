package main

// Per-host log files of a run, and their pruning.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// runLogs holds one log file per host for one run: DIR/.sparkform/logs/<command>-<time>/<host>.log,
// mode 0600 (tool output may name secrets). Every event goes in, tool output included, escaped
// as the terminal would show it. The newest logsKept runs are kept.
type runLogs struct {
	dir   string
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
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r < ' ' {
			return '_'
		}
		return r
	}, host)
	if safe == "." || safe == ".." {
		safe = "_" + safe
	}
	return filepath.Join(l.dir, safe+".log")
}

func (l *runLogs) write(host string, ev engine.Event) {
	if l == nil || l.err != nil {
		return
	}
	f := l.files[host]
	if f == nil {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			l.err = err
			return
		}
		if f, l.err = os.OpenFile(l.path(host), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); l.err != nil {
			return
		}
		l.files[host] = f
		if len(l.files) == 1 {
			pruneLogs(filepath.Dir(l.dir), logsKept)
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
}

// written reports whether any log file was written.
func (l *runLogs) written() bool { return l != nil && len(l.files) > 0 }

// tail returns the last n lines of a host's log (already escaped when written).
func (l *runLogs) tail(host string, n int) []string {
	if l == nil {
		return nil
	}
	f, err := os.Open(l.path(host))
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// pruneLogs removes all but the newest keep run directories (their names sort by time).
func pruneLogs(root string, keep int) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return runTime(dirs[i]) < runTime(dirs[j]) })
	for len(dirs) > keep {
		os.RemoveAll(filepath.Join(root, dirs[0]))
		dirs = dirs[1:]
	}
}

// runTime is the timestamp part of a run directory's name.
func runTime(name string) string {
	if i := strings.LastIndex(name, "-"); i >= 0 {
		return name[i+1:]
	}
	return name
}
