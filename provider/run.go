package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Run executes script with privileges (see Host.Run).
func (h *SSHHost) Run(ctx context.Context, script string) (Result, error) {
	return h.run(ctx, script, h.useSudo(), nil)
}

// RunStream is Run delivering output lines to onLine as they arrive; onLine is never called
// concurrently with itself.
func (h *SSHHost) RunStream(ctx context.Context, script string, onLine func(stream, line string)) (Result, error) {
	return h.run(ctx, script, h.useSudo(), onLine)
}

// RunUnprivileged runs script as the login user, without sudo.
func (h *SSHHost) RunUnprivileged(ctx context.Context, script string) (Result, error) {
	return h.run(ctx, script, false, nil)
}

// ReadThenRun is the command line every script runs under: the shell reads the whole script from
// stdin, then runs it with stdin from /dev/null (providertest.Local runs local scripts with it too).
const ReadThenRun = `sh -c 'sparkform_script=$(cat) && exec </dev/null && eval "$sparkform_script"'`

// useSudo: root needs no sudo, even when the host block asks for it.
func (h *SSHHost) useSudo() bool { return h.cfg.Sudo && h.ep.user != "root" }

// run sends script on stdin to a shell that reads it whole: never on the command line, where the login shell would
// parse it again and `ps` would show it. No PTY: it would merge stderr into stdout.
func (h *SSHHost) run(ctx context.Context, script string, sudo bool, onLine func(stream, line string)) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	cn, err := h.conn()
	if err != nil {
		return Result{}, err
	}
	sess, err := cn.client.NewSession()
	if err != nil {
		return Result{}, h.transportError(cn, "opening a session", err)
	}
	defer sess.Close()

	// Separate buffers: one buffer shared by both streams has been seen to come back empty.
	var stdout, stderr bytes.Buffer
	sess.Stdin = strings.NewReader(script)
	sess.Stdout, sess.Stderr = &stdout, &stderr
	var lw *lineWriters
	if onLine != nil {
		lw = &lineWriters{onLine: onLine}
		sess.Stdout = io.MultiWriter(&stdout, &lineWriter{lw: lw, stream: "stdout"})
		sess.Stderr = io.MultiWriter(&stderr, &lineWriter{lw: lw, stream: "stderr"})
	}
	// The shell reads the whole script first and only then runs it with stdin from /dev/null:
	// with plain `sh -s`, any command in the script that reads stdin (apt's conffile prompt,
	// a pager, cat) would swallow the rest of the script and the shell would run what is left.
	cmd := ReadThenRun
	if sudo {
		// -n: fail at once instead of waiting for a password prompt nobody will answer.
		cmd = "sudo -n " + ReadThenRun
	}
	if err := sess.Start(cmd); err != nil {
		return Result{}, h.transportError(cn, "starting the command", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
	case <-cn.done:
		// The keepalive (or Close) ended the connection: the command's fate is unknown, and
		// waiting for its session would wait on a peer that no longer answers. A command that
		// had already finished keeps its result.
		select {
		case err = <-waited:
		default:
			return Result{ExitCode: -1}, h.transportError(cn, "running a command", errors.New("connection closed"))
		}
	case <-ctx.Done():
		// KILL the remote shell (OpenSSH ≥ 8.1 delivers signals), then drop the session.
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		// Output collected so far is returned only once the copiers have stopped writing to it.
		select {
		case <-waited:
			return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: -1}, ctx.Err()
		case <-time.After(time.Second):
			return Result{ExitCode: -1}, ctx.Err()
		}
	}
	if lw != nil {
		lw.flush()
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitStatus()
		if ee.Signal() != "" && res.ExitCode == 0 {
			res.ExitCode = 255
		}
		if sudo && res.ExitCode == 1 && bytes.Contains(res.Stderr, []byte("sudo: a password is required")) {
			return res, fmt.Errorf("%s: sudo -n for %q needs a password; allow passwordless sudo (NOPASSWD) for it, or log in as root", h.label, h.ep.user)
		}
	case errors.As(err, &missing):
		return res, h.transportError(cn, "running a command", errors.New("the connection ended before the command's exit status arrived (host rebooting or network lost?)"))
	default:
		return res, h.transportError(cn, "running a command", err)
	}
	return res, nil
}

// transportError names the host and prefers the keepalive's diagnosis when it closed the connection.
func (h *SSHHost) transportError(cn *conn, doing string, err error) error {
	if dead := cn.dead(); dead != nil {
		return dead
	}
	return fmt.Errorf("%s: %s: %w", h.label, doing, err)
}

// lineWriters serialises line delivery across stdout and stderr.
type lineWriters struct {
	mu     sync.Mutex
	onLine func(stream, line string)
	parts  []*lineWriter
}

type lineWriter struct {
	lw      *lineWriters
	stream  string
	partial []byte
	joined  bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.lw.mu.Lock()
	defer w.lw.mu.Unlock()
	if !w.joined {
		w.joined = true
		w.lw.parts = append(w.lw.parts, w)
	}
	data := append(w.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		w.lw.onLine(w.stream, string(data[:i]))
		data = data[i+1:]
	}
	w.partial = append([]byte(nil), data...)
	return len(p), nil
}

// flush delivers the last line of each stream when it did not end in a newline.
func (lw *lineWriters) flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	for _, w := range lw.parts {
		if len(w.partial) > 0 {
			lw.onLine(w.stream, string(w.partial))
			w.partial = nil
		}
	}
}
