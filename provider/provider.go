// Package provider reaches hosts: the Host interface the engine and resources use, and its
// SSH implementation (x/crypto/ssh, sftp, known_hosts, agent, ~/.ssh/config, sudo).
// It knows nothing of sparkform's domain.
package provider

import (
	"context"
	"io/fs"
	"time"
)

// Result is what one remote command produced. Stdout and Stderr are kept apart on purpose:
// x/crypto/ssh sharing one buffer for both has been seen to lose output.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Host is one reachable machine, over one connection reused for every call of a run.
// Every method is safe for concurrent use.
type Host interface {
	// Name is the host's name in the configuration (e.g. "spark-01").
	Name() string
	// Run executes a POSIX sh script (sent on stdin and read whole before it runs, never on the command line)
	// with privileges: as root, or through `sudo -n` when the host is configured with sudo.
	// A non-zero exit is not an error: err is reserved for transport failures.
	Run(ctx context.Context, script string) (Result, error)
	// RunStream is Run with stdout and stderr also delivered line by line to onLine
	// as they arrive (for progress of long steps). onLine may be nil.
	RunStream(ctx context.Context, script string, onLine func(stream, line string)) (Result, error)
	// ReadFile returns a file's content; fs.ErrNotExist (wrapped) when it is absent.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// WriteFile writes data atomically: into a temp file beside path, then owner/mode set,
	// then renamed over path. A reader sees the old or the new content, never a mix.
	WriteFile(ctx context.Context, path string, data []byte, mode fs.FileMode, owner string) error
	// Remove deletes a file; removing an absent file is not an error.
	Remove(ctx context.Context, path string) error
	// Reconnect drops the current connection and opens a fresh one (used after reboots:
	// confirmation must never ride an old connection).
	Reconnect(ctx context.Context) error
	// HostKey is the key the server presented, in authorized_keys format ("ssh-ed25519 AAAA...").
	HostKey() string
	// Close ends the connection.
	Close() error
}

// Timeouts bound every network wait of a host connection.
type Timeouts struct {
	Connect   time.Duration // TCP connect + SSH handshake
	Keepalive time.Duration // interval between keepalives on an open connection; 0 disables
	// KeepaliveMax is how many unanswered keepalives mark the connection dead.
	KeepaliveMax int
}

// DefaultTimeouts are used when a host sets none.
var DefaultTimeouts = Timeouts{Connect: 10 * time.Second, Keepalive: 2 * time.Second, KeepaliveMax: 3}
