package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/pkg/sftp"
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
// It reads with the read builtin, line by line (a last line without a newline too), so that no
// process is started before the script's own: on a host a process start costs milliseconds.
// (Names no script uses: the script runs inside eval of sparkform_script.)
const ReadThenRun = `sh -c 'sparkform_script=; sparkform_line=; while IFS= read -r sparkform_line; do sparkform_script="$sparkform_script$sparkform_line
"; done; sparkform_script="$sparkform_script$sparkform_line"; exec </dev/null && eval "$sparkform_script"'`

// maxOutput is the host's bound on one stream of one command and on a file read.
func (h *SSHHost) maxOutput() int {
	if h.cfg.MaxOutput > 0 {
		return int(h.cfg.MaxOutput)
	}
	return DefaultMaxOutput
}

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
	// Both are bounded (host output is untrusted): Run fails past the bound, RunStream (long
	// steps whose log's end explains them) keeps the last max_output bytes of each stream.
	limit := h.maxOutput()
	over := make(chan string, 2)
	bout := &boundedBuffer{limit: limit, name: "stdout", over: over}
	berr := &boundedBuffer{limit: limit, name: "stderr", over: over}
	tout, terr := &tailBuffer{limit: limit}, &tailBuffer{limit: limit}
	collected := func() (Result, string) {
		if onLine != nil {
			return Result{Stdout: tout.bytes(), Stderr: terr.bytes()}, ""
		}
		o, oo := bout.result()
		e, eo := berr.result()
		switch {
		case oo:
			return Result{Stdout: o, Stderr: e}, "stdout"
		case eo:
			return Result{Stdout: o, Stderr: e}, "stderr"
		}
		return Result{Stdout: o, Stderr: e}, ""
	}
	sess.Stdin = strings.NewReader(script)
	sess.Stdout, sess.Stderr = bout, berr
	var lw *lineWriters
	if onLine != nil {
		lw = &lineWriters{onLine: onLine}
		sess.Stdout = io.MultiWriter(tout, &lineWriter{lw: lw, stream: "stdout"})
		sess.Stderr = io.MultiWriter(terr, &lineWriter{lw: lw, stream: "stderr"})
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
	case what := <-over:
		// Past the bound: stop the command (and the transfer) rather than read the rest.
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		select {
		case <-waited:
		case <-time.After(time.Second):
		}
		res, _ := collected()
		return Result{ExitCode: -1}, &OutputTooLargeError{Host: h.label, What: what, Limit: int64(limit), Result: res}
	case <-ctx.Done():
		// KILL the remote shell (OpenSSH ≥ 8.1 delivers signals), then drop the session.
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		// Output collected so far is returned only once the copiers have stopped writing to it.
		select {
		case <-waited:
			res, _ := collected()
			res.ExitCode = -1
			return res, ctx.Err()
		case <-time.After(time.Second):
			return Result{ExitCode: -1}, ctx.Err()
		}
	}
	if lw != nil {
		lw.flush()
	}
	res, what := collected()
	if what != "" {
		return Result{ExitCode: -1}, &OutputTooLargeError{Host: h.label, What: what, Limit: int64(limit), Result: res}
	}
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
		cn.waitDead()
		return res, h.transportError(cn, "running a command", errors.New("the connection ended before the command's exit status arrived (host rebooting or network lost?)"))
	default:
		return res, h.transportError(cn, "running a command", err)
	}
	return res, nil
}

// waitDead gives the connection's watchers a moment to say why it ended, when a call saw it end
// first (the session's EOF can come before the transport's).
func (cn *conn) waitDead() {
	select {
	case <-cn.done:
	case <-time.After(200 * time.Millisecond):
	}
}

// transportError names the host and prefers the keepalive's diagnosis when it closed the connection.
func (h *SSHHost) transportError(cn *conn, doing string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		cn.waitDead() // the call saw the connection end before its watchers could say why
	}
	if dead := cn.dead(); dead != nil {
		return dead
	}
	return fmt.Errorf("%s: %s: %w", h.label, doing, err)
}
