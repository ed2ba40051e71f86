package main

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/lab"
	"github.com/sparkform/sparkform/state"
)

// venvPath is the venv the fault tests build: a long step that writes many files.
const venvPath = "/opt/sparkform/chaos-venv"

const venvBlock = `
python_venv "v" {
  path       = "` + venvPath + `"
  python     = "python3"
  packages   = ["fastsafetensors==0.3.2"]
  find_links = ["/srv/wheels"]
  verify     = ["fastsafetensors"]
}
`

// timedLine is one line of a running apply's output and when it arrived.
type timedLine struct {
	at   time.Time
	text string
}

// applyProc is sparkform running as its own process, its output read line by line as it comes.
type applyProc struct {
	cmd    *exec.Cmd
	lines  chan timedLine
	mu     sync.Mutex
	seen   []timedLine
	stderr strings.Builder
	exited chan error
}

func startApply(t *testing.T, args ...string) *applyProc {
	t.Helper()
	p := &applyProc{cmd: cliProcess(args...), lines: make(chan timedLine, 1024), exited: make(chan error, 1)}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := timedLine{time.Now(), sc.Text()}
			p.mu.Lock()
			p.seen = append(p.seen, l)
			p.mu.Unlock()
			select {
			case p.lines <- l:
			default: // nobody waits for lines now; seen keeps them
			}
		}
		close(p.lines)
		p.exited <- p.cmd.Wait()
	}()
	return p
}

// waitLine waits for a line with every one of words (failing after within).
func (p *applyProc) waitLine(t *testing.T, within time.Duration, words ...string) timedLine {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("apply ended without a line holding %q\n%s\n%s", words, p.output(), p.stderr.String())
			}
			if hasAll(l.text, words) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line holding %q within %v\n%s", words, within, p.output())
		}
	}
}

// wait waits for the process to end and returns its exit code and when it ended.
func (p *applyProc) wait(t *testing.T, within time.Duration) (int, time.Time) {
	t.Helper()
	go func() {
		for range p.lines {
		}
	}()
	select {
	case err := <-p.exited:
		end := time.Now()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, end
		case errors.As(err, &ee):
			return ee.ExitCode(), end
		}
		t.Fatalf("apply: %v", err)
	case <-time.After(within):
		t.Fatalf("apply still running %v later\n%s", within, p.output())
	}
	return -1, time.Time{}
}

func (p *applyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.seen {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// lineAt finds the first output line with every one of words.
func (p *applyProc) lineAt(words ...string) (timedLine, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.seen {
		if hasAll(l.text, words) {
			return l, true
		}
	}
	return timedLine{}, false
}

func hasAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// resetVenv removes the fault tests' venv from hosts.
func resetVenv(t *testing.T, l *lab.Lab, hosts ...string) {
	for _, h := range hosts {
		onHost(t, l, h, "rm -rf "+venvPath+" "+venvPath+".sparkform-gens "+venvPath+".sparkform-switch")
	}
}

// checkVenvWhole fails unless the host's venv is absent or a link to a complete generation
// (its manifest written, its python importing the package): never half-built.
func checkVenvWhole(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	got := onHost(t, l, host, `P=`+venvPath+`
if [ ! -e "$P" ] && [ ! -L "$P" ]; then echo absent; exit 0; fi
[ -L "$P" ] || { echo "not a link"; exit 0; }
[ -f "$P/sparkform-venv.json" ] || { echo "no manifest"; exit 0; }
"$P/bin/python" -c 'import fastsafetensors' 2>&1 && echo whole`)
	if got != "absent" && got != "whole" {
		t.Errorf("%s: %s is half-written: %s", host, venvPath, got)
	}
}

func TestFrozenHostDuringVenvBuildIsReportedWithinKeepaliveWindowAndRerunConverges(t *testing.T) {
	l := needLab(t)
	resetHosts(t, labHosts...)
	resetVenv(t, l, labHosts...)
	dir := configDir(t, l, map[string]string{"main.hcl": tuning + venvBlock})
	ctx := context.Background()
	const victim = "spark-02"

	p := startApply(t, "apply", dir, "-auto-approve")
	p.waitLine(t, 2*time.Minute, victim+":", "python_venv.v")
	if err := l.Freeze(ctx, victim); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	defer func() {
		if !thawed {
			l.Thaw(ctx, victim)
		}
	}()
	failed := p.waitLine(t, time.Minute, victim+": failed")
	code, ended := p.wait(t, time.Minute)
	reported, over := failed.at.Sub(frozen), ended.Sub(frozen)
	t.Logf("frozen host reported %v after the freeze, apply ended %v after it", reported.Round(100*time.Millisecond), over.Round(100*time.Millisecond))
	// Keepalives give up after 3 × 2 s; the bound is 15 s (the apply used to sit out the
	// 10-minute step timeout).
	if reported > 15*time.Second || over > 20*time.Second {
		t.Errorf("frozen host reported after %v, apply ended after %v: want within 15 s and soon after", reported, over)
	}
	for _, want := range []string{victim, "python_venv.v", "frozen or unreachable"} {
		if !strings.Contains(failed.text, want) {
			t.Errorf("failure line lacks %q: %s", want, failed.text)
		}
	}
	if code != 1 {
		t.Errorf("apply exit %d, want 1", code)
	}
	for _, h := range []string{"spark-01", "spark-03"} {
		if _, ok := p.lineAt(h + ": done"); !ok {
			t.Errorf("%s did not finish while %s was frozen:\n%s", h, victim, p.output())
		}
	}
	if _, err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Load(); err != nil {
		t.Fatalf("state after the freeze: %v", err)
	}

	if err := l.Thaw(ctx, victim); err != nil {
		t.Fatal(err)
	}
	thawed = true
	for _, h := range labHosts {
		checkVenvWhole(t, l, h)
	}
	if code, out, stderr := cli(t, "apply", dir, "-auto-approve"); code != 0 {
		t.Fatalf("rerun after thaw: %d\n%s\n%s", code, out, stderr)
	}
	if code, out, _ := cli(t, "plan", dir, "-detailed-exitcode"); code != 0 {
		t.Fatalf("not converged after the rerun:\n%s", out)
	}
	checkVenvWhole(t, l, victim)
}
