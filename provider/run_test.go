package provider

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRunReportsExitCodeAndKeepsStreamsApart(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	tests := []struct {
		name, script, stdout, stderr string
		code                         int
	}{
		{"success", "echo out", "out\n", "", 0},
		{"non-zero exit is a result, not an error", "echo bad >&2; exit 3", "", "bad\n", 3},
		{"both streams interleaved", "for i in 1 2 3; do echo o$i; echo e$i >&2; done; exit 1", "o1\no2\no3\n", "e1\ne2\ne3\n", 1},
		{"exit code of last command", "false", "", "", 1},
		{"runs as the login user", "id -un", loginUser() + "\n", "", 0},
		{"no tty: stdin is not a terminal", "[ -t 0 ] && echo tty || echo notty", "notty\n", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := h.Run(context.Background(), tc.script)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Stdout) != tc.stdout || string(res.Stderr) != tc.stderr || res.ExitCode != tc.code {
				t.Fatalf("got stdout %q stderr %q exit %d; want %q %q %d", res.Stdout, res.Stderr, res.ExitCode, tc.stdout, tc.stderr, tc.code)
			}
		})
	}
}

func TestRunCarriesLargeOutputOnBothStreams(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	// Both streams at once, larger than any channel window: a lost or merged chunk shows.
	res, err := h.Run(context.Background(), "head -c 4000000 /dev/zero | tr '\\0' o & head -c 3000000 /dev/zero | tr '\\0' e >&2; wait")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != 4000000 || bytes.Count(res.Stdout, []byte("o")) != 4000000 {
		t.Fatalf("stdout: %d bytes", len(res.Stdout))
	}
	if len(res.Stderr) != 3000000 || bytes.Count(res.Stderr, []byte("e")) != 3000000 {
		t.Fatalf("stderr: %d bytes", len(res.Stderr))
	}
}

func TestRunFeedsScriptOnStdinVerbatim(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	script := `a='single '"'"'quoted'"'"''
b="double \"quoted\" $a"
cat <<'EOF'
heredoc $not_expanded ` + "`backticks`" + `
EOF
printf '%s\n' "$b"
# a comment; with ; semicolons && and || operators
printf 'tab\there\n'
`
	res, err := h.Run(context.Background(), script)
	if err != nil {
		t.Fatal(err)
	}
	want := "heredoc $not_expanded `backticks`\ndouble \"quoted\" single 'quoted'\ntab\there\n"
	if string(res.Stdout) != want || res.ExitCode != 0 {
		t.Fatalf("stdout %q (stderr %q, exit %d), want %q", res.Stdout, res.Stderr, res.ExitCode, want)
	}
}

func TestRunScriptCommandReadingStdinDoesNotSwallowTheRestOfTheScript(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	res, err := h.Run(context.Background(), "echo before\ncat\nread x || echo read-got-eof\necho after\n")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "before\nread-got-eof\nafter\n" {
		t.Fatalf("stdout %q: a command reading stdin consumed the script", res.Stdout)
	}
}

func TestQuoteRoundTripsHostileStringsThroughRemoteShell(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"plain", "vm.swappiness"},
		{"command injection", "'; rm -rf /"},
		{"semicolon", "10; touch /tmp/pwned"},
		{"newline", "a\nb\n"},
		{"command substitution", "$(touch /tmp/pwned)"},
		{"backticks", "`id`"},
		{"variables", "$HOME ${PATH} $0 $$"},
		{"single quotes", "it's 'quoted' ''"},
		{"double quotes and backslashes", `"\"\\ \n \'`},
		{"globs", "* ? [a-z] ~"},
		{"leading dash", "-n -e"},
		{"unicode", "Grüße, 世界 🚀 \u202e"},
		{"control characters", "\t\r\x1b[31m\x7f"},
		{"redirections and pipes", "> /x < /y | z & w"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := h.Run(context.Background(), "printf %s "+Quote(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Stdout) != tc.in || res.ExitCode != 0 {
				t.Fatalf("printf %%s %s → %q (stderr %q), want %q", Quote(tc.in), res.Stdout, res.Stderr, tc.in)
			}
		})
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Fatal("/tmp/pwned exists: a quoted value was executed")
	}
}

func TestRunStreamDeliversLinesAsTheyArrive(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	type line struct {
		stream, text string
		at           time.Time
	}
	var mu sync.Mutex
	var lines []line
	start := time.Now()
	res, err := h.RunStream(context.Background(), "echo first; echo warn >&2; sleep 1; printf 'last-no-newline'", func(stream, text string) {
		mu.Lock()
		lines = append(lines, line{stream, text, time.Now()})
		mu.Unlock()
	})
	end := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 {
		t.Fatalf("lines = %+v", lines)
	}
	byText := map[string]line{}
	for _, l := range lines {
		byText[l.text] = l
	}
	if l := byText["first"]; l.stream != "stdout" || l.at.Sub(start) > end.Sub(start)-500*time.Millisecond {
		t.Fatalf("first line %+v arrived at the end (%v of %v), not as it was printed", l, l.at.Sub(start), end.Sub(start))
	}
	if byText["warn"].stream != "stderr" || byText["last-no-newline"].stream != "stdout" {
		t.Fatalf("streams wrong: %+v", lines)
	}
	if string(res.Stdout) != "first\nlast-no-newline" || string(res.Stderr) != "warn\n" {
		t.Fatalf("result %q %q", res.Stdout, res.Stderr)
	}
}

func TestContextCancelEndsLongRun(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Run(ctx, "sleep 30")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancelled Run returned after %v", d)
	}
	// The connection survives a cancelled command.
	res, err := h.Run(context.Background(), "echo ok")
	if err != nil || string(res.Stdout) != "ok\n" {
		t.Fatalf("Run after cancel: %q, %v", res.Stdout, err)
	}
}

func TestDroppedConnectionDuringRunIsTransportError(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	// Kill the session's sshd process: the channel ends without an exit status, as in a reboot.
	_, err := h.Run(context.Background(), "kill -KILL $PPID; sleep 5")
	if err == nil {
		t.Fatal("a connection dropped mid-command returned no error")
	}
	if !strings.Contains(err.Error(), "spark-test (127.0.0.1:") {
		t.Fatalf("error does not name the host: %v", err)
	}
}

func TestConnectionReusedAndReconnectOpensFreshOne(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	conn := func() string {
		res, err := h.Run(context.Background(), "echo $SSH_CONNECTION")
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Stdout)
	}
	a, b := conn(), conn()
	if a != b {
		t.Fatalf("two calls used two connections: %q %q", a, b)
	}
	if err := h.Reconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := conn(); c == a {
		t.Fatalf("Reconnect kept the old connection %q", c)
	}
}

func TestKeepaliveDetectsPeerThatStopsAnswering(t *testing.T) {
	f := newFixture(t, sshdOpts{})
	f.cfg.Timeouts.Keepalive = 200 * time.Millisecond
	f.cfg.Timeouts.KeepaliveMax = 3
	h := f.dial(t)
	if _, err := h.Run(context.Background(), "true"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.Run(context.Background(), "sleep 60")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	freezeServer(t, f) // as a hung host would be
	start := time.Now()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "keepalive") {
			t.Fatalf("err = %v, want the keepalive's diagnosis", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run on a frozen peer still blocked after 5s: keepalives did not close the connection")
	}
	if _, err := h.Run(context.Background(), "true"); err == nil {
		t.Fatal("Run on the dead connection succeeded")
	}
}

// freezeServer stops every process serving the fixture (as a frozen host: the kernel still
// accepts packets, nothing answers) and resumes them when the test ends.
func freezeServer(t *testing.T, f *fixture) {
	stopped := descendants(f.srv.cmd.Process.Pid)
	for _, pid := range stopped {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	t.Cleanup(func() {
		for _, pid := range stopped {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
}

func TestDeadConnectionEndsEveryCallOnItIncludingSFTP(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SFTP calls run as root here (a non-root login goes through sudo)")
	}
	f := newFixture(t, sshdOpts{})
	f.cfg.Timeouts.Keepalive = 200 * time.Millisecond
	f.cfg.Timeouts.KeepaliveMax = 3
	h := f.dial(t)
	dir := t.TempDir()
	if err := h.WriteFile(context.Background(), filepath.Join(dir, "warm"), []byte("x"), 0o644, ""); err != nil {
		t.Fatal(err) // SFTP is open on the connection from here on
	}
	// A FIFO nobody writes: reading it keeps an SFTP request in flight on the server.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	type call struct {
		name string
		err  error
	}
	done := make(chan call, 4)
	go func() { _, err := h.Run(context.Background(), "sleep 60"); done <- call{"Run", err} }()
	go func() { _, err := h.ReadFile(context.Background(), fifo); done <- call{"ReadFile", err} }()
	time.Sleep(300 * time.Millisecond)
	freezeServer(t, f)
	// A call started on the frozen connection before the keepalive gives up waits no longer.
	go func() {
		err := h.WriteFile(context.Background(), filepath.Join(dir, "new"), make([]byte, 4<<20), 0o644, "")
		done <- call{"WriteFile", err}
	}()
	start := time.Now()
	// 3 × 200 ms keepalives, generously more under a loaded machine; before the fix these
	// calls waited forever (the SFTP close waited on the frozen peer before the transport closed).
	bound := time.After(10 * time.Second)
	for range 3 {
		select {
		case c := <-done:
			if c.err == nil || !strings.Contains(c.err.Error(), "keepalive") || !strings.Contains(c.err.Error(), "spark-test") {
				t.Errorf("%s: err = %v, want the keepalive's diagnosis naming the host", c.name, c.err)
			}
		case <-bound:
			t.Fatalf("calls on a frozen peer still blocked %v after the freeze", time.Since(start))
		}
	}
	closed := make(chan struct{})
	go func() { h.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close blocked on the frozen peer")
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("a write cut off by the dead connection left the target file")
	}
}

func TestWriteFileIsAtomicWithModeAndOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting file owners over SFTP needs a root login")
	}
	h := newFixture(t, sshdOpts{}).dial(t)
	dir := t.TempDir() // the server runs on this machine: check its files directly
	tests := []struct {
		name     string
		owner    string
		mode     fs.FileMode
		uid, gid uint32
		existing bool
	}{
		{"new file, root", "root", 0o644, 0, 0, false},
		{"numeric owner", "1234:5678", 0o640, 1234, 5678, false},
		{"replace existing, secret mode", "", 0o600, 0, 0, true},
		{"user name resolved on host", "nobody", 0o444, 65534, 65534, false},
		{"user:group names", "nobody:nogroup", 0o755, 65534, 65534, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "f"+string(rune('a'+i)))
			if tc.existing {
				os.WriteFile(p, []byte("old content that is longer than the new"), 0o666)
			}
			data := []byte("new content\n" + tc.name)
			if err := h.WriteFile(context.Background(), p, data, tc.mode, tc.owner); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			if !bytes.Equal(got, data) {
				t.Fatalf("content %q", got)
			}
			fi, _ := os.Stat(p)
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode().Perm() != tc.mode || st.Uid != tc.uid || st.Gid != tc.gid {
				t.Fatalf("mode %v owner %d:%d, want %v %d:%d", fi.Mode().Perm(), st.Uid, st.Gid, tc.mode, tc.uid, tc.gid)
			}
		})
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "sparkform") {
			t.Fatalf("temp file left behind: %s", e.Name())
		}
	}
}

func TestWriteFileFailureLeavesTargetAndNoTemp(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "target")
	os.WriteFile(p, []byte("old"), 0o644)
	err := h.WriteFile(context.Background(), p, []byte("new"), 0o644, "no-such-user-xyz")
	if err == nil || !strings.Contains(err.Error(), "no-such-user-xyz") {
		t.Fatalf("err = %v", err)
	}
	// Renaming over a directory fails after the temp was written: it must be cleaned up.
	sub := filepath.Join(dir, "adir")
	os.Mkdir(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "keep"), nil, 0o644)
	if err := h.WriteFile(context.Background(), sub, []byte("new"), 0o644, ""); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("target changed to %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v: a temp file was left behind", names)
	}
}

func TestReadFileAndRemove(t *testing.T) {
	h := newFixture(t, sshdOpts{}).dial(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "present")
	os.WriteFile(p, []byte("hello\x00binary\n"), 0o600)
	got, err := h.ReadFile(context.Background(), p)
	if err != nil || string(got) != "hello\x00binary\n" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	_, err = h.ReadFile(context.Background(), filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("ReadFile of a missing file: %v, want fs.ErrNotExist naming it", err)
	}
	if err := h.Remove(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file still there: %v", err)
	}
	if err := h.Remove(context.Background(), p); err != nil {
		t.Fatalf("removing an absent file: %v", err)
	}
}

func TestSudoIgnoredWhenLoginIsRoot(t *testing.T) {
	if loginUser() != "root" {
		t.Skip("needs a root login")
	}
	f := newFixture(t, sshdOpts{})
	f.cfg.Sudo = true
	h := f.dial(t)
	// Through sudo this would fail where sudo is absent or asks for a password; root needs none.
	res, err := h.Run(context.Background(), "ps -o args= -p $$; id -u")
	if err != nil || res.ExitCode != 0 || strings.Contains(string(res.Stdout), "sudo") || !strings.HasSuffix(string(res.Stdout), "\n0\n") {
		t.Fatalf("Run as root with sudo=true: %q %q %v", res.Stdout, res.Stderr, err)
	}
}

// TestSudoPath needs a non-root user with passwordless sudo, named by SPARKFORM_TEST_SUDO_USER
// (the lab's `deploy` user), and root to start an sshd that can log in as that user.
func TestSudoPath(t *testing.T) {
	user := os.Getenv("SPARKFORM_TEST_SUDO_USER")
	if user == "" || os.Geteuid() != 0 {
		t.Skip("set SPARKFORM_TEST_SUDO_USER to a non-root user with passwordless sudo (and run as root) to test the sudo path; the lab integration tests cover it with its deploy user")
	}
	f := newFixture(t, sshdOpts{})
	f.cfg.User, f.cfg.Sudo = user, true
	h := f.dial(t)
	ctx := context.Background()
	res, err := h.Run(ctx, "id -u")
	if err != nil || string(res.Stdout) != "0\n" {
		t.Fatalf("privileged Run: %q %q %v", res.Stdout, res.Stderr, err)
	}
	res, err = h.RunUnprivileged(ctx, "id -u")
	if err != nil || string(res.Stdout) == "0\n" {
		t.Fatalf("unprivileged Run: %q %v", res.Stdout, err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // only root may write here
	p := filepath.Join(dir, "conf")
	if err := h.WriteFile(ctx, p, []byte("x=1\n"), 0o640, "root:nogroup"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o640 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatalf("written file: %v %v", fi, err)
	}
	if got, err := h.ReadFile(ctx, p); err != nil || string(got) != "x=1\n" {
		t.Fatalf("ReadFile: %q %v", got, err)
	}
	if _, err := h.ReadFile(ctx, p+".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile missing: %v", err)
	}
	if err := h.Remove(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The passwd home, where SFTP starts (the test sshd points $HOME elsewhere).
	res, _ = h.RunUnprivileged(ctx, `ls -a "$(getent passwd "$(id -un)" | cut -d: -f6)" | grep -c sparkform`)
	if strings.TrimSpace(string(res.Stdout)) != "0" {
		t.Fatalf("temp dirs left in the user's home: %q", res.Stdout)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("%d files left in the target dir", len(ents))
	}
}
