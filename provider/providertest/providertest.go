// Package providertest provides provider.Host implementations for unit tests, as net/http/httptest
// does for HTTP: Local runs scripts with this machine's sh, Scripted answers from a list of replies,
// Counting counts another Host's round trips. Integration tests use real sshd hosts (internal/lab).
package providertest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sparkform/sparkform/provider"
)

// Local is a Host on this machine: Run executes the script with the local sh exactly as the SSH
// provider runs it remotely (provider.ReadThenRun), with the test process's privileges. File
// methods act on the local file system, or fail the test when the Host is read-only.
type Local struct {
	t        testing.TB
	readOnly bool
}

// NewLocal is a Local Host whose file methods read, write and remove local files.
func NewLocal(t testing.TB) *Local { return &Local{t: t} }

// NewReadOnlyLocal is a Local Host on which any ReadFile, WriteFile or Remove fails the test (and
// returns an error): for code that must do all its work in scripts, or must change nothing.
func NewReadOnlyLocal(t testing.TB) *Local { return &Local{t: t, readOnly: true} }

// Name is "local".
func (*Local) Name() string { return "local" }

// Run runs script with the local sh; a non-zero exit is a Result, not an error.
func (h *Local) Run(ctx context.Context, script string) (provider.Result, error) {
	return h.RunStream(ctx, script, nil)
}

// RunStream is Run; onLine, when set, gets every line of output after the script ended.
func (h *Local) RunStream(ctx context.Context, script string, onLine func(stream, line string)) (provider.Result, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", provider.ReadThenRun)
	cmd.Stdin = strings.NewReader(script)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	if onLine != nil {
		for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			onLine("stdout", l)
		}
		for _, l := range strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n") {
			onLine("stderr", l)
		}
	}
	return provider.Result{Stdout: []byte(out.String()), Stderr: []byte(errb.String()), ExitCode: code}, err
}

func (h *Local) refuse(op, path string) error {
	h.t.Helper()
	h.t.Errorf("providertest: %s %s on a read-only host", op, path)
	return fmt.Errorf("providertest: %s %s on a read-only host", op, path)
}

// ReadFile reads a local file.
func (h *Local) ReadFile(_ context.Context, path string) ([]byte, error) {
	if h.readOnly {
		return nil, h.refuse("ReadFile", path)
	}
	return os.ReadFile(path)
}

// WriteFile writes a local file atomically (temp file, mode, rename); owner must be "" or
// the current user's ownership is kept.
func (h *Local) WriteFile(_ context.Context, path string, data []byte, mode fs.FileMode, owner string) error {
	if h.readOnly {
		return h.refuse("WriteFile", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".providertest-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Remove removes a local file; an absent file is not an error.
func (h *Local) Remove(_ context.Context, path string) error {
	if h.readOnly {
		return h.refuse("Remove", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Reconnect does nothing: there is no connection.
func (*Local) Reconnect(context.Context) error { return nil }

// HostKey is "".
func (*Local) HostKey() string { return "" }

// Close does nothing.
func (*Local) Close() error { return nil }

// MustRun runs script with the local sh as a Host would and returns its stdout; the test fails
// when the script cannot run or exits non-zero (a probe that is not valid shell is caught here).
func MustRun(t testing.TB, script string) []byte {
	t.Helper()
	res, err := NewReadOnlyLocal(t).Run(context.Background(), script)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("script failed (exit %d, %v): %s\n%s", res.ExitCode, err, res.Stderr, script)
	}
	return res.Stdout
}

// Reply is what Scripted answers to one Run: output and exit status, or a transport error.
type Reply struct {
	Stdout, Stderr string
	ExitCode       int
	Err            error
}

// Scripted is a Host that answers each Run with the next of its Replies (a host that misbehaves
// in a planned way: failed reads, garbage, a reboot in progress) and records what it was sent.
// Run fails with an error once the replies are used up. Files written are kept in memory.
// It is safe for concurrent use.
type Scripted struct {
	HostName string
	Replies  []Reply
	// ReconnectErrs answer the calls of Reconnect in order (a host still down, a changed host
	// key); nil once used up.
	ReconnectErrs []error

	mu         sync.Mutex
	scripts    []string
	reconnects int
	files      map[string][]byte
}

// Name is HostName, "scripted" when empty.
func (h *Scripted) Name() string {
	if h.HostName == "" {
		return "scripted"
	}
	return h.HostName
}

// Run answers with the next reply.
func (h *Scripted) Run(_ context.Context, script string) (provider.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scripts = append(h.scripts, script)
	if len(h.Replies) == 0 {
		return provider.Result{}, errors.New("providertest: no more replies")
	}
	r := h.Replies[0]
	h.Replies = h.Replies[1:]
	return provider.Result{Stdout: []byte(r.Stdout), Stderr: []byte(r.Stderr), ExitCode: r.ExitCode}, r.Err
}

// RunStream is Run (onLine is not called).
func (h *Scripted) RunStream(ctx context.Context, script string, _ func(stream, line string)) (provider.Result, error) {
	return h.Run(ctx, script)
}

// Scripts are the scripts Run received, in order.
func (h *Scripted) Scripts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.scripts...)
}

// Reconnects counts the calls of Reconnect.
func (h *Scripted) Reconnects() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reconnects
}

// ReadFile returns what WriteFile wrote, fs.ErrNotExist otherwise.
func (h *Scripted) ReadFile(_ context.Context, path string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.files[path]; ok {
		return append([]byte(nil), b...), nil
	}
	return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
}

// WriteFile keeps data in memory under path.
func (h *Scripted) WriteFile(_ context.Context, path string, data []byte, _ fs.FileMode, _ string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.files == nil {
		h.files = map[string][]byte{}
	}
	h.files[path] = append([]byte(nil), data...)
	return nil
}

// Remove forgets a file written with WriteFile.
func (h *Scripted) Remove(_ context.Context, path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.files, path)
	return nil
}

// Reconnect is counted and answers with the next of ReconnectErrs.
func (h *Scripted) Reconnect(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reconnects++
	if len(h.ReconnectErrs) == 0 {
		return nil
	}
	err := h.ReconnectErrs[0]
	h.ReconnectErrs = h.ReconnectErrs[1:]
	return err
}

// HostKey is "".
func (*Scripted) HostKey() string { return "" }

// Close does nothing.
func (*Scripted) Close() error { return nil }

// Counting wraps a Host and counts its round trips in N: every Run, RunStream, ReadFile,
// WriteFile and Remove is one request on the wire. N may be shared by several hosts.
type Counting struct {
	provider.Host
	N *atomic.Int64
}

func (c Counting) Run(ctx context.Context, s string) (provider.Result, error) {
	c.N.Add(1)
	return c.Host.Run(ctx, s)
}

func (c Counting) RunStream(ctx context.Context, s string, f func(string, string)) (provider.Result, error) {
	c.N.Add(1)
	return c.Host.RunStream(ctx, s, f)
}

func (c Counting) ReadFile(ctx context.Context, p string) ([]byte, error) {
	c.N.Add(1)
	return c.Host.ReadFile(ctx, p)
}

func (c Counting) WriteFile(ctx context.Context, p string, d []byte, m fs.FileMode, o string) error {
	c.N.Add(1)
	return c.Host.WriteFile(ctx, p, d, m, o)
}

func (c Counting) Remove(ctx context.Context, p string) error {
	c.N.Add(1)
	return c.Host.Remove(ctx, p)
}

var (
	_ provider.Host = (*Local)(nil)
	_ provider.Host = (*Scripted)(nil)
	_ provider.Host = Counting{}
)
