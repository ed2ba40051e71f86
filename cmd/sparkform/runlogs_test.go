package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/internal/engine"
)

// Per-host logs go in DIR/.sparkform/logs, and the oldest runs there are removed. Whoever can
// write DIR (a shared checkout) could put a link where .sparkform or logs belongs: root must
// then neither write its logs through the link nor prune the directories the link points at.
func TestRunLogsNeverFollowALinkNorPruneOutsideTheirDirectory(t *testing.T) {
	ev := engine.Event{Host: "spark-01", Kind: "progress", Message: "hello"}
	victimWith := func(t *testing.T) string {
		v := t.TempDir()
		for i := 0; i < 25; i++ {
			os.Mkdir(filepath.Join(v, fmt.Sprintf("etc-%02d", i)), 0o755)
		}
		return v
	}
	untouched := func(t *testing.T, victim string) {
		t.Helper()
		entries, _ := os.ReadDir(victim)
		if len(entries) != 25 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("the directory the link points at holds %d entries, want its 25 untouched: %v", len(entries), names)
		}
	}
	for _, link := range []string{".sparkform", ".sparkform/logs"} {
		t.Run(link, func(t *testing.T) {
			dir, victim := t.TempDir(), victimWith(t)
			os.MkdirAll(filepath.Dir(filepath.Join(dir, link)), 0o700)
			if err := os.Symlink(victim, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
			l := newRunLogs(dir, "apply")
			l.write("spark-01", ev)
			l.close()
			untouched(t, victim)
			if l.written() || l.problem() == nil || !strings.Contains(l.problem().Error(), "symbolic link") {
				t.Errorf("logs through a link: written %v, problem %v", l.written(), l.problem())
			}
		})
	}
	t.Run("writable by others", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, ".sparkform", "logs"), 0o700)
		os.Chmod(filepath.Join(dir, ".sparkform", "logs"), 0o777)
		l := newRunLogs(dir, "apply")
		l.write("spark-01", ev)
		l.close()
		if l.written() || l.problem() == nil || !strings.Contains(l.problem().Error(), "writable by group or others") {
			t.Errorf("logs in a directory anyone can write: written %v, problem %v", l.written(), l.problem())
		}
	})
	t.Run("own directory", func(t *testing.T) {
		dir := t.TempDir()
		for i := 0; i < 25; i++ {
			os.MkdirAll(filepath.Join(dir, ".sparkform", "logs", fmt.Sprintf("apply-20260101T0000%02d.000Z", i)), 0o700)
		}
		l := newRunLogs(dir, "apply")
		l.write("spark-01", ev)
		l.close()
		if !l.written() || l.problem() != nil {
			t.Fatalf("logs in their own directory: written %v, problem %v", l.written(), l.problem())
		}
		if tail := l.tail("spark-01", 5); len(tail) != 1 || !strings.HasSuffix(tail[0], "hello") {
			t.Errorf("tail: %q", tail)
		}
		fi, err := os.Stat(l.path("spark-01"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("log file: %v, mode %v", err, fi.Mode())
		}
		entries, _ := os.ReadDir(filepath.Join(dir, ".sparkform", "logs"))
		if len(entries) != logsKept {
			t.Errorf("%d runs kept, want %d", len(entries), logsKept)
		}
	})
}

// An event whose message is an excerpt of a host's output writes the whole (its Detail) to the
// log; the tail shown under a failed host's error stays a few short lines however long the
// log's last lines are.
func TestRunLogKeepsTheWholeHostTextAndItsTailStaysShort(t *testing.T) {
	dir := t.TempDir()
	l := newRunLogs(dir, "apply")
	whole := "make failed:\n" + strings.Repeat("x", 3<<20) + "\n" + strings.Repeat("y", 10000) + "\nerror: the end"
	l.write("spark-01", engine.Event{Host: "spark-01", Kind: "apply_error", Message: "make failed: [... left out]", Detail: whole})
	l.close()
	log, err := os.ReadFile(l.path("spark-01"))
	if err != nil || !strings.Contains(string(log), strings.Repeat("x", 3<<20)) || strings.Contains(string(log), "[... left out]") {
		t.Fatalf("the log does not hold the whole text: %d bytes, %v", len(log), err)
	}
	tail := l.tail("spark-01", 10)
	if len(tail) != 2 || !strings.HasSuffix(tail[1], "error: the end") || !strings.Contains(tail[0], "yyy") || len(tail[0]) > 4*tailWidth {
		t.Errorf("tail: %d lines, first %d bytes: %.200q", len(tail), len(tail[0]), tail)
	}
}
