package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Config is what the engine passes per host (from a host block).
type Config struct {
	Name, Address string
	Port          int
	User          string
	IdentityFile  string
	KnownHosts    string // "" → ~/.ssh/known_hosts
	HostKeyPolicy string // "strict" (default) | "accept-new"
	Sudo          bool   // non-root user: privileged Run goes through `sudo -n`
	Timeouts      Timeouts
	PinnedKey     string // optional: the key state pinned for this host; a different presented key is refused
	// MaxOutput bounds each stream of one command and a file read (0: DefaultMaxOutput).
	MaxOutput int64

	// ProxyJump is "[user@]host[:port][,...]" as in ssh_config; "" → ~/.ssh/config's, "none" → direct.
	ProxyJump string
	// SSHConfig is the ssh_config file to read; "" → ~/.ssh/config, "none" → none.
	SSHConfig string
}

// SSHHost is a Host reached over one SSH connection.
type SSHHost struct {
	cfg      Config
	ep       endpoint
	label    string // "spark-01 (127.0.0.1:22)" for errors
	checker  *hostKeyChecker
	pinned   ssh.PublicKey
	timeouts Timeouts

	mu      sync.Mutex
	cur     *conn
	hostKey string

	ownersMu sync.Mutex
	owners   map[string][2]int // resolved "user:group" → uid, gid
}

var _ Host = (*SSHHost)(nil)

// conn is one live connection (with its jump hosts) and what rides on it.
type conn struct {
	client *ssh.Client
	jumps  []*ssh.Client
	done   chan struct{}

	mu      sync.Mutex
	sftp    *sftp.Client
	deadErr error // why the keepalive closed the connection
	closed  bool
}

// Dial resolves c against ssh_config, connects (through jump hosts if any), checks host keys and
// authenticates. The connection is kept for every later call.
func Dial(ctx context.Context, c Config) (*SSHHost, error) {
	name := c.Name
	if name == "" {
		name = c.Address
	}
	sc, err := loadSSHConfig(c.SSHConfig)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ep, err := resolve(c, sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h := &SSHHost{cfg: c, ep: ep, label: fmt.Sprintf("%s (%s)", name, ep.addr()), timeouts: c.Timeouts, owners: map[string][2]int{}}
	if h.timeouts == (Timeouts{}) {
		h.timeouts = DefaultTimeouts
	}
	if h.timeouts.Connect <= 0 {
		h.timeouts.Connect = DefaultTimeouts.Connect
	}
	if h.timeouts.Keepalive > 0 && h.timeouts.KeepaliveMax <= 0 {
		h.timeouts.KeepaliveMax = DefaultTimeouts.KeepaliveMax
	}
	policy := c.HostKeyPolicy
	switch policy {
	case "":
		policy = PolicyStrict
	case PolicyStrict, PolicyAcceptNew:
	default:
		return nil, fmt.Errorf("%s: host_key_policy %q: use %q or %q", h.label, policy, PolicyStrict, PolicyAcceptNew)
	}
	kh := c.KnownHosts
	if kh == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("%s: no home directory for ~/.ssh/known_hosts; set known_hosts: %w", h.label, err)
		}
		kh = filepath.Join(home, ".ssh", "known_hosts")
	}
	h.checker = &hostKeyChecker{file: expandHome(kh), policy: policy}
	if c.PinnedKey != "" {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.PinnedKey))
		if err != nil {
			return nil, fmt.Errorf("%s: pinned host key %q in state is not a public key: %w", h.label, c.PinnedKey, err)
		}
		h.pinned = k
	}
	cn, key, err := h.dial(ctx)
	if err != nil {
		return nil, err
	}
	h.cur, h.hostKey = cn, key
	return h, nil
}

// Name is the host's configured name.
func (h *SSHHost) Name() string {
	if h.cfg.Name != "" {
		return h.cfg.Name
	}
	return h.cfg.Address
}

// HostKey is the key the server presented on the current connection (authorized_keys format).
func (h *SSHHost) HostKey() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hostKey
}

// User is the login user (after ssh_config resolution).
func (h *SSHHost) User() string { return h.ep.user }

// Reconnect closes the connection and dials a fresh one: after a reboot, confirmation must not
// ride an old connection.
func (h *SSHHost) Reconnect(ctx context.Context) error {
	h.mu.Lock()
	old := h.cur
	h.cur = nil
	h.mu.Unlock()
	if old != nil {
		old.close(nil)
	}
	cn, key, err := h.dial(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.cur, h.hostKey = cn, key
	h.mu.Unlock()
	return nil
}

// Close ends the connection.
func (h *SSHHost) Close() error {
	h.mu.Lock()
	old := h.cur
	h.cur = nil
	h.mu.Unlock()
	if old == nil {
		return nil
	}
	return old.close(nil)
}

func (h *SSHHost) conn() (*conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		return nil, fmt.Errorf("%s: not connected (closed, or a reconnect failed)", h.label)
	}
	return h.cur, nil
}

// dial opens the chain of connections and starts keepalives on the last one.
func (h *SSHHost) dial(ctx context.Context) (*conn, string, error) {
	auth, closeAgent, err := authMethods(h.ep)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", h.label, err)
	}
	defer closeAgent()

	cn := &conn{done: make(chan struct{})}
	var prev *ssh.Client
	hops := append(append([]endpoint(nil), h.ep.jumps...), h.ep)
	var presented ssh.PublicKey
	for i, ep := range hops {
		last := i == len(hops)-1
		label := h.label
		pinned := h.pinned
		hopAuth := auth
		if !last {
			label = fmt.Sprintf("%s: jump host %s (%s)", h.label, ep.alias, ep.addr())
			pinned = nil
			if len(ep.identityFiles) > 0 {
				a, closeA, err := authMethods(ep)
				if err != nil {
					cn.close(nil)
					return nil, "", fmt.Errorf("%s: %w", label, err)
				}
				defer closeA()
				hopAuth = a
			}
		}
		client, err := h.handshake(ctx, prev, ep, label, pinned, hopAuth, &presented)
		if err != nil {
			cn.close(nil)
			return nil, "", err
		}
		if last {
			cn.client = client
		} else {
			cn.jumps = append(cn.jumps, client)
		}
		prev = client
	}
	go h.keepalive(cn)
	go h.watchClose(cn)
	return cn, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(presented))), nil
}

// handshake connects to ep (directly, or through prev) and runs the SSH handshake, all within
// Timeouts.Connect: a host that accepts TCP but never answers must not hang the run.
func (h *SSHHost) handshake(ctx context.Context, prev *ssh.Client, ep endpoint, label string, pinned ssh.PublicKey, auth []ssh.AuthMethod, presented *ssh.PublicKey) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeouts.Connect)
	defer cancel()
	var nc net.Conn
	var err error
	if prev == nil {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", ep.addr())
	} else {
		nc, err = prev.DialContext(ctx, "tcp", ep.addr())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: connecting: %w; check the address and that sshd runs%s", label, unwrapCtx(ctx, err), viaJump(prev))
	}
	// Channels through a jump host have no deadlines, so closing the conn is what bounds the handshake.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	_ = nc.SetDeadline(time.Now().Add(h.timeouts.Connect))

	hostname := ep.addr()
	cfg := &ssh.ClientConfig{
		User:              ep.user,
		Auth:              auth,
		HostKeyCallback:   h.checker.callback(label, pinned, presented),
		HostKeyAlgorithms: h.checker.hostKeyAlgorithms(hostname, pinned),
		Timeout:           h.timeouts.Connect,
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, hostname, cfg)
	if err != nil {
		nc.Close()
		if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("%s: no SSH handshake within %v (host frozen or network dropping packets?)", label, h.timeouts.Connect)
		}
		return nil, handshakeError(label, ep, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func viaJump(prev *ssh.Client) string {
	if prev != nil {
		return " (through the jump host)"
	}
	return ""
}

// unwrapCtx adds why the context ended to a dial error (an interrupt: "context canceled"),
// unless the error already says it timed out: the connect timeout ending the dial reads the same
// whether the dial or the context saw the deadline first, so hosts partitioned away alike fail
// with the same message.
func unwrapCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%v)", err, ctx.Err())
	}
	return err
}

// handshakeError keeps host key errors as they are (they already say what to do) and explains
// authentication failures.
func handshakeError(label string, ep endpoint, err error) error {
	var hke *HostKeyError
	if errors.As(err, &hke) { // already names the host and says what to do
		return hke
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		return fmt.Errorf("%s: authentication as %q failed (%v); check the user and that the key (%s, or ssh-agent) is in its authorized_keys",
			label, ep.user, err, strings.Join(ep.identityFiles, ", "))
	}
	return fmt.Errorf("%s: SSH handshake: %w", label, err)
}

// authMethods: the explicit identity file alone; else agent keys then ssh_config/default identity files.
func authMethods(ep endpoint) ([]ssh.AuthMethod, func(), error) {
	noop := func() {}
	var signers []ssh.Signer
	var problems []string
	closeAgent := noop
	if !ep.explicitIdentity {
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			if ac, err := net.Dial("unix", sock); err == nil {
				// The agent connection must outlive this function: signing happens during the handshake.
				closeAgent = func() { ac.Close() }
				if s, err := agent.NewClient(ac).Signers(); err == nil {
					signers = append(signers, s...)
				} else {
					problems = append(problems, fmt.Sprintf("ssh-agent: %v", err))
				}
			} else {
				problems = append(problems, fmt.Sprintf("ssh-agent at %s: %v", sock, err))
			}
		}
	}
	for _, f := range ep.identityFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, fmt.Sprintf("identity file: %v", err))
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		var pe *ssh.PassphraseMissingError
		if errors.As(err, &pe) {
			problems = append(problems, fmt.Sprintf("identity file %s is encrypted: load it into ssh-agent", f))
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("identity file %s: %v", f, err))
			continue
		}
		signers = append(signers, s)
	}
	if len(signers) == 0 {
		closeAgent()
		why := "set identity_file, start ssh-agent with a key, or create ~/.ssh/id_ed25519"
		if len(problems) > 0 {
			why = strings.Join(problems, "; ") + "; " + why
		}
		return nil, noop, fmt.Errorf("no SSH key to log in as %q: %s", ep.user, why)
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, closeAgent, nil
}

// keepalive sends keepalive@openssh.com every interval; when KeepaliveMax in a row go unanswered
// it closes the connection, so calls blocked on a dead peer return instead of hanging forever.
func (h *SSHHost) keepalive(cn *conn) {
	interval, maxMissed := h.timeouts.Keepalive, h.timeouts.KeepaliveMax
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	replies := make(chan error, 1)
	inflight, missed := false, 0
	for {
		select {
		case <-cn.done:
			return
		case err := <-replies:
			inflight, missed = false, 0
			if err != nil { // the transport is gone; the blocked calls see it themselves
				return
			}
		case <-t.C:
			if inflight {
				missed++
				if missed >= maxMissed {
					cn.close(&ConnLostError{Host: h.label, Why: fmt.Sprintf("frozen or unreachable: no answer to %d keepalives %v apart", missed, interval)})
					return
				}
				continue
			}
			inflight = true
			go func() {
				// OpenSSH answers this unknown request with a failure, which is an answer all the same.
				_, _, err := cn.client.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}
}

// ConnLostError is what every call on a connection reports once keepalives found its peer gone
// (frozen, powered off, cut off by the network): the call's outcome on the host is unknown.
type ConnLostError struct {
	Host string // "spark-01 (10.0.0.1:22)"
	Why  string // what the host did, e.g. "frozen or unreachable: no answer to 3 keepalives 2s apart"
}

func (e *ConnLostError) Error() string { return e.Host + ": " + e.Why }

// watchClose marks the connection lost when the peer (or the network) closes it: a host that
// crashes or reboots resets the TCP connection, and every call on it should say so rather than
// report whatever its own read happened to fail with (an SFTP start "failing" with EOF).
// A close of our own is already recorded by then, and this does nothing.
func (h *SSHHost) watchClose(cn *conn) {
	cn.client.Wait()
	cn.close(&ConnLostError{Host: h.label, Why: "dropped the connection (rebooting, crashed, sshd restarted, or the network reset it)"})
}

// close closes the connection and its jump hosts; why (if set) is what later calls report.
// The transport goes first: every call blocked on it (a session, the SFTP reader, a write into
// a full socket buffer) returns at once. SFTP is closed last, when it can no longer wait on the
// peer: closing it first waits for its reader goroutine, which a frozen peer never releases.
func (cn *conn) close(why error) error {
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return nil
	}
	cn.closed = true
	cn.deadErr = why
	s := cn.sftp
	cn.sftp = nil
	cn.mu.Unlock()
	close(cn.done)
	var err error
	if why != nil && len(cn.jumps) > 0 {
		// Dead: cut the real TCP connection (the first hop's) first; closing the inner ones
		// first would send close messages through hops that may no longer drain them.
		for _, j := range cn.jumps {
			j.Close()
		}
	}
	if cn.client != nil {
		err = cn.client.Close()
	}
	for i := len(cn.jumps) - 1; i >= 0; i-- {
		cn.jumps[i].Close()
	}
	if s != nil {
		s.Close()
	}
	return err
}

// dead returns why the keepalive closed the connection, or nil.
func (cn *conn) dead() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.deadErr
}

// sftpClient opens the SFTP subsystem once per connection. It is opened outside cn.mu: a peer
// that stops answering must not block the keepalive's close of this connection.
func (cn *conn) sftpClient() (*sftp.Client, error) {
	cn.mu.Lock()
	s, err := cn.sftp, cn.closedErr()
	cn.mu.Unlock()
	if s != nil || err != nil {
		return s, err
	}
	s, err = sftp.NewClient(cn.client)
	if err != nil {
		cn.waitDead()
		if dead := cn.dead(); dead != nil {
			return nil, dead
		}
		return nil, fmt.Errorf("starting SFTP (is `Subsystem sftp` enabled in sshd_config?): %w", err)
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if err := cn.closedErr(); err != nil {
		s.Close()
		return nil, err
	}
	if cn.sftp != nil { // another goroutine won the race
		s.Close()
		return cn.sftp, nil
	}
	cn.sftp = s
	return s, nil
}

// closedErr reports a closed connection; cn.mu must be held.
func (cn *conn) closedErr() error {
	if !cn.closed {
		return nil
	}
	if cn.deadErr != nil {
		return cn.deadErr
	}
	return errors.New("connection closed")
}

// Alive reports whether the connection is still open: keepalives close a connection whose
// peer stopped answering, so a caller holding a host across a long pause (a confirmation
// prompt) can reconnect instead of failing on the first call.
func (h *SSHHost) Alive() bool {
	h.mu.Lock()
	cn := h.cur
	h.mu.Unlock()
	if cn == nil {
		return false
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return !cn.closed
}
