package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/sys/unix"
)

// lockInfo is what the lock file says about its holder.
type lockInfo struct {
	ID        string    `json:"id"`
	Operation string    `json:"operation"`
	Who       string    `json:"who"` // user@hostname
	PID       int       `json:"pid"`
	Created   time.Time `json:"created"`
	Path      string    `json:"path"` // the state file locked
}

// lockError reports a lock held by someone else when the wait ran out.
type lockError struct {
	LockFile string
	Info     *lockInfo // nil when the holder had not yet written its details
	Err      error     // why the wait ended (timeout or context)
}

func (e *lockError) Error() string {
	if e.Info == nil {
		return fmt.Sprintf("state is locked by another process (lock file %s); wait, or use -lock-timeout", e.LockFile)
	}
	return fmt.Sprintf("state is locked by %s pid %d (%s, since %s); wait, or use -lock-timeout",
		e.Info.Who, e.Info.PID, e.Info.Operation, e.Info.Created.UTC().Format("2006-01-02 15:04:05 UTC")) // as english.Time writes it
}

func (e *lockError) Unwrap() error { return e.Err }

// Lock takes the state lock for operation, retrying with backoff until timeout (0: one try).
// The lock is flock(2) on path+".lock": advisory and owned by the open file, so it dies with the
// process and a SIGKILLed apply never leaves a stale lock (Terraform's recurring complaint).
// The lock file is never deleted: deleting it would let two processes lock different inodes.
func (s *Store) Lock(ctx context.Context, operation string, timeout time.Duration) (release func() error, err error) {
	f, err := openNoFollow("state lock", s.lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening state lock %s: %w", s.lockPath, err)
	}
	deadline := time.Now().Add(timeout)
	wait := 50 * time.Millisecond
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", s.lockPath, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			f.Close()
			return nil, &lockError{LockFile: s.lockPath, Info: readLockInfo(s.lockPath), Err: context.DeadlineExceeded}
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, &lockError{LockFile: s.lockPath, Info: readLockInfo(s.lockPath), Err: ctx.Err()}
		case <-t.C:
		}
		wait = min(wait*2, 2*time.Second)
	}

	info := lockInfo{ID: newUUID(), Operation: operation, Who: who(), PID: os.Getpid(), Created: time.Now().UTC().Truncate(time.Second), Path: s.path}
	b, _ := json.Marshal(info)
	if err := writeLockInfo(f, append(b, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing state lock %s: %w", s.lockPath, err)
	}
	var once sync.Once
	var rerr error
	return func() error {
		once.Do(func() {
			// Clear the holder's details first so nobody reads a released lock as held.
			_ = f.Truncate(0)
			rerr = f.Close() // closing the last descriptor releases the flock
		})
		return rerr
	}, nil
}

func writeLockInfo(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(b, 0)
	return err
}

// readLockInfo reads the holder's details; nil when absent or half-written (the holder may have
// just taken the lock and not yet written them).
func readLockInfo(path string) *lockInfo {
	b, err := readNoFollow("state lock", path)
	if err != nil {
		return nil
	}
	return parseLockInfo(b)
}

// maxLockField bounds each text field of the lock details (who, operation, id, path).
const maxLockField = 4096

// parseLockInfo reads the holder's details as Lock writes them; nil when they are not (half
// written, or written by something else: anyone who can write the state's directory can write
// the lock file, and the details are printed in the error an operator reads): a process id that
// is not positive, or a text field over maxLockField bytes or with a character that is not
// printable.
func parseLockInfo(b []byte) *lockInfo {
	var info lockInfo
	if json.Unmarshal(b, &info) != nil || !LockDetailsOK(info.PID, info.ID, info.Operation, info.Who, info.Path) {
		return nil
	}
	return &info
}

// LockDetailsOK reports whether a lock holder's details are ones a sparkform process writes (any
// backend's): a positive process id, and text fields of at most maxLockField bytes of printable
// characters.
func LockDetailsOK(pid int, fields ...string) bool {
	if pid <= 0 {
		return false
	}
	for _, f := range fields {
		if len(f) > maxLockField || strings.ContainsFunc(f, func(r rune) bool { return !unicode.IsPrint(r) }) {
			return false
		}
	}
	return true
}

func who() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
