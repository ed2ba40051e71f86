package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A re-executed test binary with this variable set holds the lock on the named state file
// until its stdin closes: a real second process, since flock between processes is the point.
const holderEnv = "SPARKFORM_STATE_TEST_LOCK_HOLDER"

func TestMain(m *testing.M) {
	if path := os.Getenv(holderEnv); path != "" {
		release, err := NewStore(path).Lock(context.Background(), "apply", 0)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		if err := release(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startHolder starts a process holding the lock; closing stdin makes it release and exit.
func startHolder(t *testing.T, path string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder did not lock: %q", line)
	}
	return cmd, stdin
}

func TestLockHeldByAnotherProcessFailsNamingHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	cmd, stdin := startHolder(t, path)
	defer stdin.Close()

	start := time.Now()
	release, err := NewStore(path).Lock(context.Background(), "plan", 400*time.Millisecond)
	if err == nil {
		release()
		t.Fatal("second lock succeeded while another process holds it")
	}
	if waited := time.Since(start); waited < 400*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("gave up after %v, want about the 400ms timeout", waited)
	}
	var le *lockError
	if !errors.As(err, &le) {
		t.Fatalf("error %T %v is not a *lockError", err, err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{fmt.Sprintf("pid %d", cmd.Process.Pid), "(apply, since ", "@" + host, "-lock-timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !regexp.MustCompile(`, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)`).MatchString(err.Error()) {
		t.Errorf("error %q does not say since when as the views write a time (english.Time)", err)
	}
	if le.Info == nil || le.Info.Path != path || le.Info.ID == "" {
		t.Errorf("lock info = %+v", le.Info)
	}
}

func TestLockSucceedsAfterHolderReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	cmd, stdin := startHolder(t, path)
	go func() { time.Sleep(300 * time.Millisecond); stdin.Close() }()
	release, err := NewStore(path).Lock(context.Background(), "apply", 10*time.Second)
	if err != nil {
		t.Fatalf("lock after the holder released: %v", err)
	}
	defer release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	info := readLockInfo(path + ".lock")
	if info == nil || info.PID != os.Getpid() || info.Operation != "apply" {
		t.Fatalf("lock file after takeover = %+v", info)
	}
}

func TestSIGKILLedHolderLeavesNoStaleLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	cmd, _ := startHolder(t, path)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The dead holder's details are still in the file; the flock died with it.
	if info := readLockInfo(path + ".lock"); info == nil || info.PID != cmd.Process.Pid {
		t.Fatalf("expected the killed holder's details to remain, got %+v", info)
	}
	release, err := NewStore(path).Lock(context.Background(), "apply", 0)
	if err != nil {
		t.Fatalf("lock after SIGKILL of the holder: %v", err)
	}
	release()
}

func TestLockExcludesWithinOneProcessAndReleaseIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s := NewStore(path)
	release, err := s.Lock(context.Background(), "apply", 0)
	if err != nil {
		t.Fatal(err)
	}
	if r2, err := NewStore(path).Lock(context.Background(), "plan", 0); err == nil {
		r2()
		t.Fatal("a second Store in the same process took a held lock")
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if b, _ := os.ReadFile(path + ".lock"); len(b) != 0 {
		t.Fatalf("released lock file still names a holder: %s", b)
	}
	r3, err := s.Lock(context.Background(), "plan", 0)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	r3()
}

func TestLockWaitEndsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	release, err := NewStore(path).Lock(context.Background(), "apply", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = NewStore(path).Lock(ctx, "plan", time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("lock wait with a cancelled context: %v after %v", err, time.Since(start))
	}
}

// The lock file's holder details are printed in the error an operator reads, and anyone who can
// write the state's directory can write them: details Lock would not write (a process id that
// is not positive, a control or bidirectional character, a field of megabytes) are not shown;
// the error then says only that another process holds the lock.
func TestLockHolderDetailsLockWouldNotWriteAreNotShown(t *testing.T) {
	for _, doc := range []string{
		`{"who":"alice@laptop","pid":-1,"operation":"apply"}`,
		`{"who":"alice@laptop\u001b]0;owned\u0007","pid":42,"operation":"apply"}`,
		`{"who":"alice@laptop","pid":42,"operation":"apply\u202e"}`,
		`{"who":"` + strings.Repeat("a", maxLockField+1) + `","pid":42,"operation":"apply"}`,
	} {
		if info := parseLockInfo([]byte(doc)); info != nil {
			t.Errorf("%.80s: shown as %q", doc, (&lockError{Info: info}).Error())
		}
	}
	if info := parseLockInfo([]byte(`{"id":"x","operation":"state push","who":"alice@spark lab","pid":42,"created":"2026-01-01T00:00:00Z","path":"/srv/s.json"}` + "\n")); info == nil || info.PID != 42 {
		t.Fatalf("details as Lock writes them: %+v", info)
	}
}
