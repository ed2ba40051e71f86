package pgstate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/pgtest"
)

// holdLockEnv makes the test binary a process that takes the lock and waits to be killed.
const holdLockEnv = "PGSTATE_TEST_HOLD_LOCK"

// holdLock is that process: it connects as an operator would (SPARKFORM_PG_CONN and
// PGPASSWORD from the environment), takes the lock for "apply", says so, and sleeps.
func holdLock() {
	b, err := OpenEnv(context.Background(), "", "tcp")
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	if _, err := b.Lock(context.Background(), "apply", 0); err != nil {
		fmt.Println("lock:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(10 * time.Minute)
}

func TestOverTCPTheLockOfAKilledProcessIsFreedAndThePasswordComesFromTheEnvironment(t *testing.T) {
	srv := pgtest.StartTCP(t)
	// Without the password the operator is refused, and the error does not leak one.
	t.Setenv("PGPASSWORD", "wrong")
	if _, err := Open(context.Background(), srv.TCPConnString(), "", "tcp"); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("login with a wrong password: %v", err)
	}
	t.Setenv("PGPASSWORD", pgtest.OperatorPassword)
	t.Setenv(ConnEnv, srv.TCPConnString())

	p := exec.Command(os.Args[0], "-test.run=^$")
	p.Env = append(os.Environ(), holdLockEnv+"=1")
	out, _ := p.StdoutPipe()
	p.Stderr = os.Stderr
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("lock holder: %q", line)
	}

	b, err := OpenEnv(context.Background(), "", "tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.Lock(context.Background(), "plan", 0)
	var le *LockError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != p.Process.Pid ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid %d (apply, since", p.Process.Pid)) {
		t.Fatalf("lock held by the other process: %v (holder %+v)", err, le)
	}
	p.Process.Signal(syscall.SIGKILL)
	p.Wait()
	start := time.Now()
	release, err := b.Lock(context.Background(), "plan", 30*time.Second)
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	release()
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("the killed holder's lock lingered %v over TCP", waited)
	}
}
