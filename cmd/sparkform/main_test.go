package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/lab"
)

// The test binary doubles as the sparkform binary: with SPARKFORM_TEST_RUN_MAIN=1 it runs main.
// Tests that need a real separate process (concurrent applies, SIGKILL) exec it that way.
func TestMain(m *testing.M) {
	if os.Getenv("SPARKFORM_TEST_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if testLabDir != "" {
		// Down even a lab whose Up failed half-way: no host of this run may outlive it.
		l := testLab
		if l == nil {
			l, _ = lab.Open(testLabDir)
		}
		if l != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if err := l.Down(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "lab down:", err)
			}
			cancel()
		}
		os.RemoveAll(testLabDir)
	}
	os.Exit(code)
}

var (
	testLab    *lab.Lab
	testLabDir string
	labErr     error
	labOnce    bool
)

// Subnets of this package's labs: 100-129 for the shared one, 130-159 for labs of their own;
// reserved by flock (lab.ReserveSubnet), apart from other packages' labs that `go test ./...`
// runs at the same time and from this package's tests run by someone else on the same machine.
const (
	sharedLabSubnets, ownLabSubnets = 100, 130
)

// needLab returns the shared 3-host lab, starting it on first use; without root or the lab's
// tools the test is skipped with the reason.
func needLab(t *testing.T) *lab.Lab {
	t.Helper()
	lab.SkipUnlessAvailable(t)
	if !labOnce {
		labOnce = true
		var subnet int
		if subnet, labErr = lab.ReserveSubnet(sharedLabSubnets, sharedLabSubnets+30); labErr == nil {
			testLabDir, labErr = os.MkdirTemp("", "sparkform-cmd-lab-")
		}
		if labErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			testLab, labErr = lab.Up(ctx, lab.Options{Dir: testLabDir, N: 3, Subnet: subnet})
			cancel()
		}
	}
	if labErr != nil {
		t.Fatalf("lab: %v", labErr)
	}
	return testLab
}

// mustApply applies dir with -auto-approve and fails the test unless it succeeds (what: which
// apply, for the message).
func mustApply(t *testing.T, dir, what string) {
	t.Helper()
	if code, out, stderr := cli(t, "apply", dir, "-auto-approve"); code != 0 {
		t.Fatalf("%s: %d\n%s\n%s", what, code, out, stderr)
	}
}

// rerunConverges applies dir again after a fault (what: which apply) and fails unless the plan
// that follows shows no changes.
func rerunConverges(t *testing.T, dir, what string) {
	t.Helper()
	mustApply(t, dir, what)
	if code, out, _ := cli(t, "plan", dir, "-detailed-exitcode"); code != 0 {
		t.Fatalf("%s: not converged, the plan shows changes:\n%s", what, out)
	}
}

// cli runs sparkform in-process and returns exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	// -chdir moves the whole process, as it should in the real binary: put it back, or the
	// next test starts in a directory that may be gone.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// startCLI starts sparkform as a process: its standard output to read as it comes, its
// standard error collected (read it after Wait).
func startCLI(t *testing.T, args ...string) (p *exec.Cmd, stdout io.Reader, stderr *strings.Builder) {
	t.Helper()
	p = cliProcess(args...)
	stdout, err := p.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr = new(strings.Builder)
	p.Stderr = stderr
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p, stdout, stderr
}

// cliProcess starts sparkform as a separate process (the test binary in main mode).
func cliProcess(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SPARKFORM_TEST_RUN_MAIN=1")
	return cmd
}

// ownLab starts an n-host lab on a subnet of its own for one test and takes it down after.
func ownLab(t *testing.T, n int) *lab.Lab {
	t.Helper()
	return lab.UpForTest(t, ownLabSubnets, ownLabSubnets+30, n)
}

// configDir makes a configuration directory holding the lab's hosts.hcl and the given files.
func configDir(t *testing.T, l *lab.Lab, files map[string]string) string {
	t.Helper()
	return configIn(t, t.TempDir(), l, files)
}

// configIn writes the lab's hosts.hcl and the given files into dir, and returns dir.
func configIn(t *testing.T, dir string, l *lab.Lab, files map[string]string) string {
	t.Helper()
	hosts, err := os.ReadFile(l.HostsHCLPath())
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"hosts.hcl": string(hosts)})
	writeFiles(t, dir, files)
	return dir
}

// freshLab is the opening of most lab tests: the shared lab, the given hosts put back to their
// stock values (resetHosts), and a configuration directory holding the lab's hosts.hcl and files.
func freshLab(t *testing.T, files map[string]string, hosts ...string) (*lab.Lab, string) {
	t.Helper()
	l := needLab(t)
	resetHosts(t, hosts...)
	return l, configDir(t, l, files)
}

// onHost runs a command on a lab host with the real OpenSSH client.
func onHost(t *testing.T, l *lab.Lab, host, command string) string {
	t.Helper()
	return onHostWithin(t, l, host, command, 30*time.Second)
}

// onHostWithin is onHost for a long command (package installs, venv builds): under a loaded
// machine these take minutes, not the seconds a quick check gets.
func onHostWithin(t *testing.T, l *lab.Lab, host, command string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, stderr, err := l.SSH(ctx, host, "root", command)
	if err != nil {
		t.Fatalf("%s: %s: %v: %s", host, command, err, stderr)
	}
	return strings.TrimSpace(out)
}
