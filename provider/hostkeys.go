package provider

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"
)

// Host key policies.
const (
	PolicyStrict    = "strict"     // the key must already be in known_hosts
	PolicyAcceptNew = "accept-new" // an unknown host is pinned on first use; a changed key is refused
)

// HostKeyError is a refused host key. Its message names the host, the key offered and the
// known_hosts file and says what to do, so the handshake passes it on as it is (handshakeError)
// instead of explaining it as a network failure, and callers that retry (the reboot wait) stop.
type HostKeyError struct {
	Unknown bool   // the host is not in known_hosts (strict policy); otherwise its key changed
	Message string // the whole message
}

func (e *HostKeyError) Error() string { return e.Message }

func hostKeyErrorf(unknown bool, format string, args ...any) error {
	return &HostKeyError{Unknown: unknown, Message: fmt.Sprintf(format, args...)}
}

// hostKeyChecker checks presented keys against one known_hosts file under a policy.
type hostKeyChecker struct {
	file   string
	policy string
}

// appendMu serialises accept-new appends between goroutines of this process; flock on the file
// serialises them between processes.
var appendMu sync.Mutex

// callback returns the HostKeyCallback for one hop; presented receives the key the server showed.
func (k *hostKeyChecker) callback(label string, pinned ssh.PublicKey, presented *ssh.PublicKey) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		*presented = key
		if pinned != nil && !bytes.Equal(pinned.Marshal(), key.Marshal()) {
			return hostKeyErrorf(false, "%s: host key differs from the one pinned in state: state has %s, server presented %s; if the host was reinstalled, update host_key in state (or remove the host from state) and run again",
				label, ssh.FingerprintSHA256(pinned), ssh.FingerprintSHA256(key))
		}
		unknown, err := k.known(label, hostname, remote, key)
		switch {
		case !unknown:
			return err
		case k.policy == PolicyAcceptNew:
			return k.appendKey(label, hostname, remote, key)
		}
		host, port, _ := net.SplitHostPort(hostname)
		scan := "ssh-keyscan"
		if port != "22" {
			scan += " -p " + port
		}
		return hostKeyErrorf(true, "%s: host is not in known_hosts %s (server presented %s %s); verify that fingerprint, then add the key with `%s %s >> %s`, or set host_key_policy = \"accept-new\"",
			label, k.file, key.Type(), ssh.FingerprintSHA256(key), scan, host, k.file)
	}
}

// known checks key against the known_hosts file: nil when the file has it for the host, a
// mismatch or a read error, or unknown (and no error) when the file has no key for the host.
func (k *hostKeyChecker) known(label, hostname string, remote net.Addr, key ssh.PublicKey) (unknown bool, err error) {
	err = k.check(hostname, remote, key)
	var ke *knownhosts.KeyError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return false, mismatchError(label, k.file, key, ke.Want)
	case errors.As(err, &ke):
		return true, nil
	}
	return false, fmt.Errorf("%s: checking host key: %w", label, err)
}

// check reads the known_hosts file afresh: accept-new may have added keys since the last dial.
func (k *hostKeyChecker) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := knownhosts.New(k.file)
	if errors.Is(err, fs.ErrNotExist) {
		return &knownhosts.KeyError{} // no file: every host is unknown
	}
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", k.file, err)
	}
	return cb(hostname, remote, key)
}

func mismatchError(label, file string, presented ssh.PublicKey, want []knownhosts.KnownKey) error {
	var have, lines []string
	for _, w := range want {
		have = append(have, fmt.Sprintf("%s:%d has %s", w.Filename, w.Line, ssh.FingerprintSHA256(w.Key)))
		lines = append(lines, fmt.Sprint(w.Line))
	}
	return hostKeyErrorf(false, "%s: host key mismatch: known_hosts %s, server presented %s; if the host was reinstalled, remove line %s of %s and run again",
		label, strings.Join(have, ", "), ssh.FingerprintSHA256(presented), strings.Join(lines, ", "), file)
}

// appendKey pins an unknown host (accept-new). Under the lock the file is checked again: another
// goroutine or process may have pinned this host meanwhile, possibly with another key.
func (k *hostKeyChecker) appendKey(label, hostname string, remote net.Addr, key ssh.PublicKey) error {
	appendMu.Lock()
	defer appendMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(k.file), 0o700); err != nil {
		return fmt.Errorf("%s: pinning host key: %w", label, err)
	}
	f, err := os.OpenFile(k.file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%s: pinning host key in %s: %w", label, k.file, err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("%s: locking %s: %w", label, k.file, err)
	}
	if unknown, err := k.known(label, hostname, remote, key); !unknown {
		return err // pinned meanwhile (nil), with another key, or unreadable
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("%s: pinning host key in %s: %w", label, k.file, err)
	}
	return f.Sync()
}

// hostKeyAlgorithms lists the algorithms of the keys known_hosts (and state) hold for hostname.
// Without this restriction the server picks its preferred key type, which may not be the one
// recorded, and a perfectly known host fails as a "mismatch".
func (k *hostKeyChecker) hostKeyAlgorithms(hostname string, pinned ssh.PublicKey) []string {
	var keys []ssh.PublicKey
	if pinned != nil {
		keys = append(keys, pinned)
	} else {
		// knownhosts exposes no lookup; checking a key nobody has returns every key on file for the host.
		var ke *knownhosts.KeyError
		if err := k.check(hostname, probeAddr(hostname), probeKey()); errors.As(err, &ke) {
			for _, w := range ke.Want {
				keys = append(keys, w.Key)
			}
		}
	}
	var algos []string
	seen := map[string]bool{}
	for _, key := range keys {
		for _, a := range algorithmsFor(key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

func probeAddr(hostname string) net.Addr { return fakeAddr(hostname) }

var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
})
