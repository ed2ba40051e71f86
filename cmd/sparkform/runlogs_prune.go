package main

// Pruning the run log directories: only the newest logsKept runs stay, removed through the
// directory handles runLogs opened, never following a link.

import (
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// pruneLogs removes all but the newest keep run directories of base (their names sort by time).
// A run directory holds only files: anything else in it stays, and so does the directory.
func pruneLogs(base *os.File, keep int) {
	d, err := unix.Openat(int(base.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	list := os.NewFile(uintptr(d), base.Name())
	entries, err := list.ReadDir(-1)
	list.Close()
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
		removeRunDir(base, dirs[0])
		dirs = dirs[1:]
	}
}

// removeRunDir removes the files of base/name, then the directory, without following links.
func removeRunDir(base *os.File, name string) {
	fd, err := unix.Openat(int(base.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	dir := os.NewFile(uintptr(fd), name)
	defer dir.Close()
	entries, _ := dir.ReadDir(-1)
	for _, e := range entries {
		unix.Unlinkat(fd, e.Name(), 0) // a directory fails and stays
	}
	unix.Unlinkat(int(base.Fd()), name, unix.AT_REMOVEDIR)
}

// runTime is the timestamp part of a run directory's name.
func runTime(name string) string {
	if i := strings.LastIndex(name, "-"); i >= 0 {
		return name[i+1:]
	}
	return name
}
