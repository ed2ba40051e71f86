package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sparkform/sparkform/state"
	"github.com/sparkform/sparkform/state/pgstate"
)

// pgBackend is the backend block the lab tests add to their configuration: every command
// then keeps its state in the test's own PostgreSQL cluster.
const pgBackend = "backend \"pg\" {}\n"

func TestPGApplyKilledMidRunLeavesConsistentStateFreesTheLockAndRerunConverges(t *testing.T) {
	l := needLab(t)
	pgServer(t)
	resetHosts(t, labHosts...)
	dir := configDir(t, l, map[string]string{"main.hcl": tuning, "backend.hcl": pgBackend})
	p, stdout, _ := startCLI(t, "apply", dir, "-auto-approve", "-parallelism", "1")
	waitFor(t, stdout, ": created (")
	p.Process.Signal(syscall.SIGKILL)
	p.Wait()

	// The lock died with the killed process's session: taking it again does not wait for a timeout.
	b, err := pgstate.OpenEnv(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	start := time.Now()
	release, err := b.Lock(context.Background(), "check", 30*time.Second)
	if err != nil {
		t.Fatalf("lock after SIGKILL: %v", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("the killed apply's lock lingered %v", waited)
	}
	release()
	st, err := b.Load()
	if err != nil {
		t.Fatalf("state after SIGKILL: %v", err)
	}
	if st.Serial == 0 || len(st.Addresses()) == 0 {
		t.Fatalf("nothing persisted before the kill: serial %d", st.Serial)
	}
	rerunConverges(t, dir, "rerun")
	// history and the write history come from the database.
	if code, out, stderr := cli(t, "history", dir, "-host", "spark-03"); code != 0 || !strings.Contains(out, "spark-03") {
		t.Fatalf("history: %d\n%s\n%s", code, out, stderr)
	}
	if code, out, stderr := cliIn(t, dir, "state", "versions", "-n", "100"); code != 0 || !strings.Contains(out, "spark-01/sysctl.loading") || !strings.Contains(out, " apply") {
		t.Fatalf("state versions: %d\n%s\n%s", code, out, stderr)
	}
	// ... and -json streams them in the documented schema.
	code, out, _ := cliIn(t, dir, "state", "versions", "-n", "100", "-json")
	if v := ofType(checkJSONUI(t, out), "state_version"); code != 0 || len(v) == 0 {
		t.Errorf("state versions -json: exit %d, %d state_version messages\n%s", code, len(v), out)
	}
}

func TestPGSecondApplyFailsNamingTheHolderOrWaitsForIt(t *testing.T) {
	l := needLab(t)
	pgServer(t)
	resetHosts(t, "spark-01")
	dir := configDir(t, l, map[string]string{"main.hcl": tuning, "backend.hcl": pgBackend})
	// The first apply holds the lock while it waits at the confirmation prompt.
	first, stdinW := applyAtPrompt(t, dir, "-host", "spark-01")

	code, _, stderr := cli(t, "apply", dir, "-auto-approve", "-lock-timeout", "1s")
	if code != 1 || !strings.Contains(stderr, "locked by") || !strings.Contains(stderr, "(apply,") || !strings.Contains(stderr, "database session") {
		t.Fatalf("second apply: exit %d, stderr %q", code, stderr)
	}
	// A second apply with a long enough -lock-timeout waits, then goes through.
	second := cliProcess("apply", dir, "-auto-approve", "-lock-timeout", "2m", "-host", "spark-01")
	var out2 strings.Builder
	second.Stdout, second.Stderr = &out2, &out2
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer second.Process.Kill()
	time.Sleep(time.Second) // let it start waiting
	stdinW.Write([]byte("yes\n"))
	stdinW.Close()
	if err := first.Wait(); err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("waiting apply: %v\n%s", err, out2.String())
	}
	if code, out, _ := cli(t, "plan", dir, "-detailed-exitcode", "-host", "spark-01"); code != 0 {
		t.Fatalf("not converged:\n%s", out)
	}
}

func TestPGDatabaseStoppedMidApplyStartsNoNewStepReportsTheChangedHostAndRerunConverges(t *testing.T) {
	l := needLab(t)
	srv := pgServer(t)
	resetHosts(t, labHosts...)
	dir := configDir(t, l, map[string]string{"main.hcl": tuning, "backend.hcl": pgBackend})
	mustApply(t, dir, "first apply")
	before := loadPG(t)

	// A second apply changes swappiness and read-ahead; the database stops while it waits
	// for confirmation, so its first persist fails after the first step changed spark-01.
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(strings.Replace(tuning, "ra = 8192", "ra = 4096", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := cliProcess("apply", dir, "-parallelism", "1", "-var", "swappiness=20")
	stdinW, _ := p.StdinPipe()
	var out, errOut lockedBuffer
	p.Stdout, p.Stderr = &out, &errOut
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Process.Kill()
	out.waitFor(t, "Enter a value:")
	srv.Stop(t)
	stdinW.Write([]byte("yes\n"))
	stdinW.Close()
	err := p.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("apply with the database gone: %v, want exit 1\n%s\n%s", err, out.String(), errOut.String())
	}
	all := out.String() + errOut.String()
	if !strings.Contains(all, "spark-01: sysctl.loading: changed on the host, but the state could not record it") {
		t.Errorf("the changed host is not reported:\n%s", all)
	}
	if !strings.Contains(all, "the state could not be saved") {
		t.Errorf("no word on why the apply stopped:\n%s", all)
	}
	// No new step started: the other hosts never ran. spark-01's step finished; a change it
	// made in the same exec (read-ahead, when the engine batches them) is named too.
	if got := onHost(t, l, "spark-01", "sysctl -n vm.swappiness"); got != "20" {
		t.Errorf("spark-01 swappiness %s, want 20 (the step in flight finished)", got)
	}
	if got := onHost(t, l, "spark-01", "cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != "8192" && !strings.Contains(all, "not recorded: readahead.nvme") {
		t.Errorf("spark-01's read-ahead changed to %s, and the output does not say so:\n%s", got, all)
	}
	for _, h := range []string{"spark-02", "spark-03"} {
		if got := onHost(t, l, h, "sysctl -n vm.swappiness; cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != "10\n8192" {
			t.Errorf("%s was changed after the database went away: swappiness and read-ahead %q", h, got)
		}
	}

	// What was persisted is intact, and the rerun converges.
	srv.Start(t)
	after := loadPG(t)
	if a, b := encodedState(t, after), encodedState(t, before); a != b {
		t.Fatalf("the persisted state changed while the database was down:\n%s\nwas\n%s", a, b)
	}
	// The complete state the apply kept aside goes in with state push (its serial is the next):
	// the database then knows spark-01's new swappiness, and the rerun has only the rest to do.
	errored := regexp.MustCompile(`\S*sparkform\.errored-state-\d+\.json`).FindString(all)
	if errored == "" {
		t.Fatalf("no errored state file named:\n%s", all)
	}
	if code, out, stderr := cliIn(t, dir, "state", "push", "-backup", filepath.Join(t.TempDir(), "b.json"), errored); code != 0 {
		t.Fatalf("state push of the errored state: %d\n%s\n%s", code, out, stderr)
	}
	if r := loadPG(t).Lookup("spark-01", "sysctl.loading"); r == nil || !strings.Contains(r.Attributes.GoString(), `"20"`) {
		t.Fatalf("spark-01's sysctl in the database after the push: %#v", r)
	}
	if code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-var", "swappiness=20"); code != 0 {
		t.Fatalf("rerun with the database back: %d\n%s\n%s", code, out, stderr)
	}
	if code, out, _ := cli(t, "plan", dir, "-detailed-exitcode", "-var", "swappiness=20"); code != 0 {
		t.Fatalf("not converged after the rerun:\n%s", out)
	}
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls until the output holds want (or fails after 60 s).
func (l *lockedBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(l.String(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in:\n%s", want, l.String())
		}
	}
}

func encodedState(t *testing.T, st *state.State) string {
	t.Helper()
	b, err := state.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPGHistoryAndRollbackWorkFromTheDatabase(t *testing.T) {
	l := needLab(t)
	pgServer(t)
	dir := historyAndRollback(t, l, map[string]string{"main.hcl": tuning, "backend.hcl": pgBackend})
	if _, err := os.Stat(filepath.Join(dir, "sparkform.state.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a local state file appeared beside a pg backend block: %v", err)
	}
	if g := loadPG(t).Hosts["spark-01"].Generations; len(g) != 4 || g[3].Note != "rollback to generation 2" {
		t.Fatalf("generations in the database: %+v", g)
	}
	// The real state round-trips: database → file → database, byte for byte.
	code, pulled, stderr := cliIn(t, dir, "state", "pull")
	if code != 0 {
		t.Fatalf("state pull: %d %s", code, stderr)
	}
	if code, out, stderr := cliIn(t, dir, "state", "migrate", "-to", "local"); code != 0 {
		t.Fatalf("migrate -to local: %d\n%s\n%s", code, out, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sparkform.state.json")); err != nil || string(b) != pulled {
		t.Fatalf("the file after migrate -to local differs from the pulled state: %v", err)
	}
	if code, out, stderr := cliIn(t, dir, "state", "migrate", "-to", "pg"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("migrate -to pg of the same state: %d\n%s\n%s", code, out, stderr)
	}
	if code, again, _ := cliIn(t, dir, "state", "pull"); code != 0 || again != pulled {
		t.Fatal("the database's state changed in the round trip")
	}
}

// applyAtPrompt starts an apply as its own process and returns once it waits for "yes", holding
// the state lock; it is killed at the end of the test if still running.
func applyAtPrompt(t *testing.T, dir string, args ...string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	p := cliProcess(append([]string{"apply", dir}, args...)...)
	stdin, err := p.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, _ := p.StdoutPipe()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Process.Kill() })
	waitFor(t, stdout, "Enter a value:")
	return p, stdin
}

// cliIn runs sparkform as `sparkform -chdir=DIR ...` and then restores this process's working
// directory, which -chdir changes.
func cliIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	return cli(t, append([]string{"-chdir=" + dir}, args...)...)
}
