package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func otherKeyLine(t *testing.T, addr string) string {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := ssh.NewPublicKey(pub)
	return fmt.Sprintf("%s %s", addrPattern(addr), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))))
}

func addrPattern(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if port == "22" {
		return host
	}
	return "[" + host + "]:" + port
}

func TestStrictPolicyRefusesUnknownHost(t *testing.T) {
	f := newFixture(t, sshdOpts{})
	tests := []struct {
		name       string
		knownHosts string
	}{
		{"known_hosts has other hosts only", writeKnownHosts(t, otherKeyLine(t, "127.0.0.1:1"))},
		{"known_hosts missing", filepath.Join(t.TempDir(), "absent")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.cfg
			cfg.KnownHosts = tc.knownHosts
			before, _ := os.ReadFile(tc.knownHosts)
			h, err := Dial(context.Background(), cfg)
			if err == nil {
				h.Close()
				t.Fatal("strict policy connected to an unknown host")
			}
			t.Logf("error: %v", err)
			var hke *HostKeyError
			if !errors.As(err, &hke) || !hke.Unknown {
				t.Errorf("error %T is not an unknown-host *HostKeyError", err)
			}
			for _, want := range []string{"spark-test (127.0.0.1:", "not in known_hosts " + tc.knownHosts, ssh.FingerprintSHA256(f.srv.hostKeys[0].PublicKey()), "ssh-keyscan -p " + strconv.Itoa(f.srv.port)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if after, _ := os.ReadFile(tc.knownHosts); string(after) != string(before) {
				t.Error("strict policy wrote to known_hosts")
			}
		})
	}
}

func TestChangedHostKeyRefusedNamingFileAndLine(t *testing.T) {
	for _, policy := range []string{PolicyStrict, PolicyAcceptNew} {
		t.Run(policy, func(t *testing.T) {
			f := newFixture(t, sshdOpts{})
			wrong := otherKeyLine(t, f.srv.addr)
			kh := writeKnownHosts(t, "# fleet", otherKeyLine(t, "127.0.0.9:22"), wrong)
			cfg := f.cfg
			cfg.KnownHosts, cfg.HostKeyPolicy = kh, policy
			h, err := Dial(context.Background(), cfg)
			if err == nil {
				h.Close()
				t.Fatal("connected despite a changed host key")
			}
			t.Logf("error: %v", err)
			var hke *HostKeyError
			if !errors.As(err, &hke) || hke.Unknown {
				t.Errorf("error %T is not a changed-key *HostKeyError", err)
			}
			wantKey, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(strings.SplitN(wrong, " ", 2)[1]))
			for _, want := range []string{
				"spark-test (127.0.0.1:", "host key mismatch", kh + ":3", ssh.FingerprintSHA256(wantKey),
				"server presented " + ssh.FingerprintSHA256(f.srv.hostKeys[0].PublicKey()), "remove line 3",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if b, _ := os.ReadFile(kh); strings.Count(string(b), "\n") != 3 {
				t.Errorf("known_hosts was modified:\n%s", b)
			}
		})
	}
}

func TestAcceptNewPinsOnFirstUseThenRefusesChange(t *testing.T) {
	f := newFixture(t, sshdOpts{})
	cfg := f.cfg
	cfg.HostKeyPolicy = PolicyAcceptNew
	cfg.KnownHosts = filepath.Join(t.TempDir(), "ssh", "known_hosts") // neither file nor dir exists yet
	h, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	b, _ := os.ReadFile(cfg.KnownHosts)
	if string(b) != f.srv.knownHostsLine(0)+"\n" {
		t.Fatalf("known_hosts after first use:\n%q\nwant\n%q", b, f.srv.knownHostsLine(0)+"\n")
	}
	if fi, _ := os.Stat(cfg.KnownHosts); fi.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts mode %v", fi.Mode().Perm())
	}
	// Second contact: known now, nothing appended.
	h, err = Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if b2, _ := os.ReadFile(cfg.KnownHosts); string(b2) != string(b) {
		t.Fatalf("known_hosts changed on second contact:\n%s", b2)
	}
	// The host is "reinstalled": same address, new key.
	f.srv.stop()
	startSSHD(t, sshdOpts{port: f.srv.port, authorize: []ssh.PublicKey{f.key.pub}})
	_, err = Dial(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") || !strings.Contains(err.Error(), cfg.KnownHosts+":1") {
		t.Fatalf("changed key after pinning: %v", err)
	}
}

func TestAcceptNewConcurrentDialsPinOnce(t *testing.T) {
	f := newFixture(t, sshdOpts{})
	cfg := f.cfg
	cfg.HostKeyPolicy = PolicyAcceptNew
	cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(cfg.KnownHosts, []byte(otherKeyLine(t, "127.0.0.9:22")), 0o600) // no trailing newline
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := Dial(context.Background(), cfg)
			if err == nil {
				h.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(cfg.KnownHosts)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || lines[1] != f.srv.knownHostsLine(0) {
		t.Fatalf("known_hosts after 8 concurrent first contacts:\n%s", b)
	}
}

func TestPinnedKeyFromStateMustMatch(t *testing.T) {
	f := newFixture(t, sshdOpts{})
	right := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(f.srv.hostKeys[0].PublicKey())))
	wrong := strings.SplitN(otherKeyLine(t, f.srv.addr), " ", 2)[1]
	tests := []struct {
		name, pinned, wantErr string
	}{
		{"matching pin", right, ""},
		{"different pin", wrong, "differs from the one pinned in state"},
		{"garbage pin", "not-a-key", "not a public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.cfg
			cfg.PinnedKey = tc.pinned
			h, err := Dial(context.Background(), cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer h.Close()
				if h.HostKey() != right {
					t.Fatalf("HostKey() = %q, want %q", h.HostKey(), right)
				}
				return
			}
			if err == nil {
				h.Close()
				t.Fatal("connected despite the pin")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "spark-test") {
				t.Fatalf("error %q lacks %q", err, tc.wantErr)
			}
		})
	}
}

func TestHostKeyAlgorithmRestrictedToTheKnownKeyType(t *testing.T) {
	// The server has ed25519 and ecdsa keys and x/crypto prefers ed25519; known_hosts holds only
	// the ecdsa key. Without restricting the algorithms this known host fails as a "mismatch".
	f := newFixture(t, sshdOpts{keyTypes: []string{"ed25519", "ecdsa"}})
	cfg := f.cfg
	cfg.KnownHosts = writeKnownHosts(t, f.srv.knownHostsLine(1))
	h, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !strings.HasPrefix(h.HostKey(), "ecdsa-sha2-nistp256 ") {
		t.Fatalf("HostKey() = %q, want the ecdsa key", h.HostKey())
	}
}

func TestSSHConfigFillsWhatSparkformLeavesUnset(t *testing.T) {
	f := newFixture(t, sshdOpts{})
	home, _ := os.UserHomeDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	// A default key location too: used when ssh_config names no IdentityFile.
	keyBytes, _ := os.ReadFile(f.key.path)
	os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), keyBytes, 0o600)

	confPath := filepath.Join(t.TempDir(), "ssh_config")
	os.WriteFile(confPath, []byte(fmt.Sprintf(`Host spark-cfg
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s

Host wrong-*
    HostName 127.0.0.1
    Port 1
    User nosuchuser
    IdentityFile /nonexistent/key

Host bykey
    HostName 127.0.0.1
    Port %d
`, f.srv.port, loginUser(), f.key.path, f.srv.port)), 0o600)

	tests := []struct {
		name string
		cfg  Config
	}{
		{"HostName Port User IdentityFile from ssh_config", Config{Name: "spark-cfg"}},
		{"explicit values win over ssh_config", Config{Name: "wrong-1", Address: "127.0.0.1", Port: f.srv.port, User: loginUser(), IdentityFile: f.key.path}},
		{"default identity file when ssh_config names none", Config{Name: "bykey", User: loginUser()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.SSHConfig, c.KnownHosts = confPath, f.cfg.KnownHosts
			h, err := Dial(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			res, err := h.Run(context.Background(), "id -un")
			if err != nil || strings.TrimSpace(string(res.Stdout)) != loginUser() {
				t.Fatalf("Run: %q %v", res.Stdout, err)
			}
		})
	}
}

func TestProxyJumpThroughSecondSSHD(t *testing.T) {
	target := newFixture(t, sshdOpts{})
	jump := startSSHD(t, sshdOpts{authorize: []ssh.PublicKey{target.key.pub}})
	// A jump host that refuses to forward anywhere but a dead port: proves the target connection
	// really goes through the jump host.
	blocked := startSSHD(t, sshdOpts{authorize: []ssh.PublicKey{target.key.pub}, extra: []string{"PermitOpen 127.0.0.1:1"}})
	both := writeKnownHosts(t, target.srv.knownHostsLine(0), jump.knownHostsLine(0), blocked.knownHostsLine(0))

	confPath := filepath.Join(t.TempDir(), "ssh_config")
	os.WriteFile(confPath, []byte(fmt.Sprintf(`Host bastion
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s

Host spark-behind
    ProxyJump bastion
`, jump.port, loginUser(), target.key.path)), 0o600)

	base := target.cfg
	base.KnownHosts = both
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantErr string
	}{
		{"ProxyJump from ssh_config", func(c *Config) { c.Name, c.SSHConfig = "spark-behind", confPath }, ""},
		{"explicit ProxyJump chain user@host:port", func(c *Config) {
			c.ProxyJump = fmt.Sprintf("%s@127.0.0.1:%d", loginUser(), jump.port)
		}, ""},
		{"two jumps", func(c *Config) {
			c.ProxyJump = fmt.Sprintf("%[2]s@127.0.0.1:%[1]d,%[2]s@127.0.0.1:%[1]d", jump.port, loginUser())
		}, ""},
		{"jump host refusing the forward", func(c *Config) {
			c.ProxyJump = fmt.Sprintf("%s@127.0.0.1:%d", loginUser(), blocked.port)
		}, "through the jump host"},
		{"unknown jump host key is refused", func(c *Config) {
			c.ProxyJump = fmt.Sprintf("%s@127.0.0.1:%d", loginUser(), jump.port)
			c.KnownHosts = writeKnownHosts(t, target.srv.knownHostsLine(0))
		}, "jump host 127.0.0.1 (127.0.0.1:" + strconv.Itoa(jump.port) + "): host is not in known_hosts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mutate(&c)
			h, err := Dial(context.Background(), c)
			if tc.wantErr != "" {
				if err == nil {
					h.Close()
					t.Fatal("connected")
				}
				t.Logf("error: %v", err)
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q lacks %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if err := h.WriteFile(context.Background(), filepath.Join(t.TempDir(), "f"), []byte("x"), 0o600, ""); err != nil {
				t.Fatalf("SFTP through the jump: %v", err)
			}
			res, err := h.Run(context.Background(), "echo $SSH_CONNECTION")
			if err != nil {
				t.Fatal(err)
			}
			// The target sees the jump host's forwarded connection; the server port is the target's.
			if f := strings.Fields(string(res.Stdout)); len(f) != 4 || f[3] != strconv.Itoa(target.srv.port) {
				t.Fatalf("SSH_CONNECTION %q", res.Stdout)
			}
		})
	}
}

func TestAgentKeysUsedWhenNoIdentityFile(t *testing.T) {
	f := newFixture(t, sshdOpts{})
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: f.key.priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg := f.cfg
	cfg.IdentityFile = ""
	h, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
}

func TestDialFailuresNameTheHostAndSayWhatToDo(t *testing.T) {
	f := newFixture(t, sshdOpts{})
	otherKey := newClientKey(t)
	// A listener that accepts and never speaks: a frozen host.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
		within time.Duration
	}{
		{"no key at all", func(c *Config) { c.IdentityFile = "" }, []string{"spark-test", "no SSH key", "identity_file"}, 0},
		{"key not authorized", func(c *Config) { c.IdentityFile = otherKey.path }, []string{"spark-test", "authentication as", "authorized_keys"}, 0},
		{"missing identity file", func(c *Config) { c.IdentityFile = "/nonexistent/key" }, []string{"/nonexistent/key"}, 0},
		{"nothing listening", func(c *Config) { c.Port = freePort(t) }, []string{"spark-test (127.0.0.1:", "connecting", "refused"}, 0},
		{"silent listener hits the connect timeout", func(c *Config) {
			c.Port = silent.Addr().(*net.TCPAddr).Port
			c.Timeouts.Connect = 500 * time.Millisecond
		}, []string{"spark-test", "no SSH handshake within 500ms"}, 3 * time.Second},
		{"bad policy", func(c *Config) { c.HostKeyPolicy = "yolo" }, []string{"host_key_policy", "accept-new"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := f.cfg
			tc.mutate(&c)
			start := time.Now()
			h, err := Dial(context.Background(), c)
			if err == nil {
				h.Close()
				t.Fatal("Dial succeeded")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.within > 0 && time.Since(start) > tc.within {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}
