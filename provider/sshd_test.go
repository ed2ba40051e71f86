package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real OpenSSH server on a loopback port, with its own host key(s) and config.
type testSSHD struct {
	dir      string
	port     int
	addr     string // 127.0.0.1:port
	hostKeys []ssh.Signer
	cmd      *exec.Cmd
	log      string
}

// clientKey is the login key every test server accepts.
type clientKey struct {
	path string
	pub  ssh.PublicKey
	priv any
}

func newClientKey(t *testing.T) clientKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	writePrivateKey(t, path, priv)
	sp, _ := ssh.NewPublicKey(pub)
	return clientKey{path: path, pub: sp, priv: priv}
}

func writePrivateKey(t *testing.T, path string, priv any) {
	t.Helper()
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
}

type sshdOpts struct {
	port      int      // 0: a free port
	keyTypes  []string // host key types: "ed25519" (default), "ecdsa"
	hostKeys  []any    // reuse these private keys instead (same order as files written)
	extra     []string // more sshd_config lines
	authorize []ssh.PublicKey
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD runs `sshd -D -f CONFIG -E LOG`; it is stopped when the test ends. Sessions get
// HOME set to the server's temp dir so the login shell does not source the real user's rc files
// (whose output would pollute stderr, and whose side effects tests that kill sessions could break).
func startSSHD(t *testing.T, o sshdOpts) *testSSHD {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("OpenSSH server not installed (%s): %v", sshdPath, err)
	}
	if os.Geteuid() == 0 {
		// sshd refuses to start without its privilege separation directory.
		if _, err := os.Stat("/run/sshd"); err != nil {
			if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
				t.Skipf("cannot create /run/sshd: %v", err)
			}
		}
	}
	s := &testSSHD{dir: t.TempDir(), port: o.port}
	if s.port == 0 {
		s.port = freePort(t)
	}
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.log = filepath.Join(s.dir, "sshd.log")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "ListenAddress %s\n", s.addr)
	keys := o.hostKeys
	if keys == nil {
		types := o.keyTypes
		if len(types) == 0 {
			types = []string{"ed25519"}
		}
		for _, typ := range types {
			switch typ {
			case "ed25519":
				_, k, _ := ed25519.GenerateKey(rand.Reader)
				keys = append(keys, k)
			case "ecdsa":
				k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				keys = append(keys, k)
			default:
				t.Fatalf("key type %s", typ)
			}
		}
	}
	for i, k := range keys {
		p := filepath.Join(s.dir, fmt.Sprintf("host_key_%d", i))
		writePrivateKey(t, p, k)
		signer, err := ssh.NewSignerFromKey(k)
		if err != nil {
			t.Fatal(err)
		}
		s.hostKeys = append(s.hostKeys, signer)
		fmt.Fprintf(&cfg, "HostKey %s\n", p)
	}
	var auth strings.Builder
	for _, k := range o.authorize {
		auth.Write(ssh.MarshalAuthorizedKey(k))
	}
	os.WriteFile(filepath.Join(s.dir, "authorized_keys"), []byte(auth.String()), 0o600)
	fmt.Fprintf(&cfg, `PidFile %[1]s/sshd.pid
AuthorizedKeysFile %[1]s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel VERBOSE
MaxStartups 100:30:200
SetEnv HOME=%[1]s
`, s.dir)
	for _, l := range o.extra {
		cfg.WriteString(l + "\n")
	}
	cfgPath := filepath.Join(s.dir, "sshd_config")
	os.WriteFile(cfgPath, []byte(cfg.String()), 0o600)
	s.start(t, cfgPath)
	return s
}

func (s *testSSHD) start(t *testing.T, cfgPath string) {
	t.Helper()
	cmd := exec.Command(sshdPath, "-D", "-f", cfgPath, "-E", s.log)
	// Pdeathsig: a test binary killed by a timeout must not leave sshd listening behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	t.Cleanup(s.stop)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.log)
			t.Fatalf("sshd did not listen on %s: %v\nlog:\n%s", s.addr, err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends sshd and every session process it forked (they are in its process group unless a
// session made its own); stopped processes are continued so the kill lands.
func (s *testSSHD) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	for _, pid := range descendants(s.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGCONT)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// descendants lists the pids below pid (from /proc), deepest last.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces; fields resume after the last ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// knownHostsLine is the known_hosts line for this server's i-th host key.
func (s *testSSHD) knownHostsLine(i int) string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, s.hostKeys[i].PublicKey())
}

func writeKnownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// isolate keeps tests away from the real ~/.ssh and any running agent.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	return home
}

func loginUser() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return currentUser()
}

// fixture is one server plus a client config that reaches it.
type fixture struct {
	srv *testSSHD
	key clientKey
	cfg Config
}

func newFixture(t *testing.T, o sshdOpts) *fixture {
	t.Helper()
	isolate(t)
	key := newClientKey(t)
	o.authorize = append(o.authorize, key.pub)
	srv := startSSHD(t, o)
	cfg := Config{
		Name: "spark-test", Address: "127.0.0.1", Port: srv.port, User: loginUser(),
		IdentityFile: key.path, KnownHosts: writeKnownHosts(t, srv.knownHostsLine(0)),
		SSHConfig: "none", Timeouts: Timeouts{Connect: 5 * time.Second},
	}
	return &fixture{srv: srv, key: key, cfg: cfg}
}

func (f *fixture) dial(t *testing.T) *SSHHost {
	t.Helper()
	h, err := Dial(context.Background(), f.cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
