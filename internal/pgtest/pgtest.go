// Package pgtest runs a real, private PostgreSQL server for tests, no mock: its own cluster in a
// temporary directory on a Unix socket there (loopback TCP with a password when asked), run as
// the postgres user when the test runs as root (initdb refuses root).
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one running cluster.
type Server struct {
	bin, dir string
	cred     *syscall.Credential // nil: run as the test's own user
	port     int                 // 5432 on the socket only; a free port with TCP on 127.0.0.1
	tcp      bool
}

// Operator is the role a TCP cluster has besides the superuser: it logs in with a password
// (SCRAM) over TCP, as an operator on another machine does, and may create the schema.
const (
	Operator         = "operator"
	OperatorPassword = "correct horse battery staple"
)

// binDir finds the server programs: Debian keeps them in /usr/lib/postgresql/N/bin (newest
// wins), elsewhere they are on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL server programs not found (apt-get install postgresql)")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Available says why a server cannot run here ("" when it can).
func Available() string {
	if _, err := binDir(); err != nil {
		return err.Error()
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return "running as root and no postgres user to run the server as (the postgresql package creates it)"
		}
	}
	return ""
}

// SkipUnlessAvailable skips the test where no server can run, saying why; under CI (the CI
// variable set) that is a failure, as for the lab: CI must not pass by skipping.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	if why := Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required under CI: %s", why)
		}
		t.Skipf("PostgreSQL unavailable: %s", why)
	}
}

// Start creates and starts a cluster for the test; it is stopped and removed at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	SkipUnlessAvailable(t)
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartTCP is Start for a cluster that also listens on TCP at 127.0.0.1 (a free port) and lets
// the Operator role in with its password only: the set-up of a team's database, on loopback.
func StartTCP(t testing.TB) *Server {
	t.Helper()
	SkipUnlessAvailable(t)
	s, err := newServer(true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// New creates and starts a cluster (for a TestMain sharing one among tests); Close removes it.
func New() (*Server, error) { return newServer(false) }

func newServer(tcp bool) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir(): its parent is private to the test's user, and the server may run as postgres.
	dir, err := os.MkdirTemp("", "sparkform-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, port: 5432, tcp: tcp}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			s.Close()
			return nil, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			s.Close()
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
		"-N", "-E", "UTF8", "--locale=C"); err != nil {
		s.Close()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if !tcp {
		if err := s.start(); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	// A free port now may be taken by the time the server binds it: try a few.
	for try := 0; ; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if err = s.start(); err == nil {
			break
		} else if try == 2 {
			s.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.ConnString())
	if err != nil {
		s.Close()
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'; GRANT CREATE ON DATABASE postgres TO %s",
		Operator, OperatorPassword, Operator)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// TCPConnString reaches a StartTCP cluster over TCP as Operator, without the password
// (PGPASSWORD or ~/.pgpass supplies it, as for an operator).
func (s *Server) TCPConnString() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", s.port, Operator)
}

// Close stops the server at once and removes the cluster.
func (s *Server) Close() {
	if _, err := os.Stat(filepath.Join(s.data(), "postmaster.pid")); err == nil {
		s.pgctl("stop", "-m", "immediate", "-w")
	}
	os.RemoveAll(s.dir)
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// ConnString connects as the superuser over the cluster's socket.
func (s *Server) ConnString() string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", s.dir, s.port)
}

// Env is the libpq environment reaching the cluster (for a sparkform process under test).
func (s *Server) Env() []string {
	return []string{"PGHOST=" + s.dir, fmt.Sprintf("PGPORT=%d", s.port), "PGUSER=postgres", "PGDATABASE=postgres", "PGSSLMODE=disable"}
}

// Start starts the server again after Stop and waits until it accepts connections.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) start() error {
	// The socket in the cluster's directory, TCP only on loopback and only when asked; fsync off
	// (a test cluster is thrown away).
	listen := ""
	if s.tcp {
		listen = "127.0.0.1"
	}
	opts := fmt.Sprintf("-c listen_addresses=%s -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", listen, s.port, s.dir)
	if out, err := s.pgctl("start", "-w", "-t", "120", "-l", filepath.Join(s.dir, "log"), "-o", opts); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, s.Log())
	}
	return nil
}

// Stop stops the server the way an administrator would (fast: sessions are terminated).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if out, err := s.pgctl("stop", "-m", "fast", "-w"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Log is the server's log so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return string(b)
}

func (s *Server) pgctl(args ...string) ([]byte, error) {
	return s.run("pg_ctl", append([]string{"-D", s.data()}, args...)...)
}

func (s *Server) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PG") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}
