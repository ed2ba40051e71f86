package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// timedLine is one line of a running apply's output and when it arrived; with -json, ev is
// the line's message (docs/json-ui.md).
type timedLine struct {
	at   time.Time
	text string
	ev   uiMessage
}

// uiMessage is what the fault tests read of a -json message.
type uiMessage struct {
	Type    string `json:"type"`
	Message string `json:"@message"`
	Host    struct {
		Name string `json:"name"`
	} `json:"host"`
	Resource struct {
		Addr string `json:"addr"`
	} `json:"resource"`
	Error  string `json:"error"`
	Status string `json:"status"`
}

// isMsg matches -json messages of a type, for a host and resource ("" matches any).
func isMsg(typ, host, addr string) func(uiMessage) bool {
	return func(m uiMessage) bool {
		return m.Type == typ && (host == "" || m.Host.Name == host) && (addr == "" || m.Resource.Addr == addr)
	}
}

// waitMsg waits for a -json message that matches (failing after within).
func (p *applyProc) waitMsg(t *testing.T, within time.Duration, what string, match func(uiMessage) bool) timedLine {
	t.Helper()
	return p.waitFor(t, within, what, func(l timedLine) bool { return match(l.ev) })
}

// waitFor waits for an output line that matches (what names it), failing after within.
func (p *applyProc) waitFor(t *testing.T, within time.Duration, what string, match func(timedLine) bool) timedLine {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("apply ended without %s\n%s\n%s", what, p.output(), p.stderr.String())
			}
			if match(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %s within %v\n%s", what, within, p.output())
		}
	}
}

// msgAt finds the first -json message that matches.
func (p *applyProc) msgAt(match func(uiMessage) bool) (timedLine, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.seen {
		if match(l.ev) {
			return l, true
		}
	}
	return timedLine{}, false
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
	return startApplyEnv(t, nil, args...)
}

// startApplyEnv is startApply with more environment variables.
func startApplyEnv(t *testing.T, env []string, args ...string) *applyProc {
	t.Helper()
	p := &applyProc{cmd: cliProcess(args...), lines: make(chan timedLine, 1024), exited: make(chan error, 1)}
	p.cmd.Env = append(p.cmd.Env, env...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	// Both streams' lines go to seen (and to lines) as they come; stderr is also kept apart.
	var readers sync.WaitGroup
	read := func(r io.Reader, keep *strings.Builder) {
		defer readers.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := timedLine{at: time.Now(), text: sc.Text()}
			if strings.HasPrefix(l.text, "{") {
				json.Unmarshal([]byte(l.text), &l.ev)
			}
			p.mu.Lock()
			p.seen = append(p.seen, l)
			if keep != nil {
				keep.WriteString(l.text + "\n")
			}
			p.mu.Unlock()
			select {
			case p.lines <- l:
			default: // nobody waits for lines now; seen keeps them
			}
		}
	}
	readers.Add(2)
	go read(out, nil)
	go read(errOut, &p.stderr)
	go func() {
		readers.Wait()
		close(p.lines)
		p.exited <- p.cmd.Wait()
	}()
	return p
}

// waitLine waits for a line with every one of words (failing after within).
func (p *applyProc) waitLine(t *testing.T, within time.Duration, words ...string) timedLine {
	t.Helper()
	return p.waitFor(t, within, fmt.Sprintf("line holding %q", words), func(l timedLine) bool { return hasAll(l.text, words) })
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

	p := startApply(t, "apply", dir, "-auto-approve", "-v")
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
	// The failed step's line ("spark-02: python_venv.v: failed after 7.8s: …") reports the host.
	failed := p.waitLine(t, time.Minute, victim+": ", ": failed")
	code, ended := p.wait(t, time.Minute)
	reported := failed.at.Sub(frozen)
	// The apply ends once the frozen host is reported and the others are done, whenever that is
	// (their venv builds take as long as the machine's load makes them).
	last := failed.at
	for _, h := range []string{"spark-01", "spark-03"} {
		done, ok := p.lineAt(h + ": done")
		if !ok {
			t.Errorf("%s did not finish while %s was frozen:\n%s", h, victim, p.output())
		} else if done.at.After(last) {
			last = done.at
		}
	}
	lingered := ended.Sub(last)
	t.Logf("frozen host reported %v after the freeze; apply ended %v after the last host's result", reported.Round(100*time.Millisecond), lingered.Round(100*time.Millisecond))
	// Keepalives give up after 3 × 2 s; the bound is 15 s (the apply used to sit out the
	// 10-minute step timeout).
	if reported > 15*time.Second {
		t.Errorf("frozen host reported %v after the freeze, want within 15 s", reported)
	}
	if lingered > 10*time.Second {
		t.Errorf("apply ended %v after the last host's result", lingered)
	}
	for _, want := range []string{victim, "python_venv.v", "frozen or unreachable"} {
		if !strings.Contains(failed.text, want) {
			t.Errorf("failure line lacks %q: %s", want, failed.text)
		}
	}
	if code != 1 {
		t.Errorf("apply exit %d, want 1", code)
	}
	loadDirState(t, dir, "state after the freeze")

	if err := l.Thaw(ctx, victim); err != nil {
		t.Fatal(err)
	}
	thawed = true
	for _, h := range labHosts {
		checkVenvWhole(t, l, h)
	}
	rerunConverges(t, dir, "rerun after thaw")
	checkVenvWhole(t, l, victim)
}

// checkStockValues fails unless every host is back on the lab's stock values (what resetHosts
// sets): proof that state kept each original through whatever happened.
func checkStockValues(t *testing.T, l *lab.Lab, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		if got := onHost(t, l, h, "sysctl -n vm.swappiness; cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != "60\n128" {
			t.Errorf("%s after removing every block: %q, want the originals 60 and 128", h, got)
		}
	}
}

// destroyAll applies a configuration without resource blocks: every host goes back to the
// originals state recorded.
func destroyAll(t *testing.T, dir string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, "main.hcl")); err != nil {
		t.Fatal(err)
	}
	mustApply(t, dir, "apply without blocks")
}

func TestApplySIGKILLedAtRandomPointsLeavesValidStateAndRerunConverges(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, labHosts...)
	statePath := filepath.Join(dir, "sparkform.state.json")
	firstStep := []string{"spark-01:", "sysctl.loading"} // the apply's first step begins
	// One whole apply first, to know how long planning and applying take here.
	started := time.Now()
	p := startApply(t, "apply", dir, "-auto-approve", "-v", "-var", "swappiness=20", "-parallelism", "1")
	step := p.waitLine(t, time.Minute, firstStep...)
	if code, ended := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("first apply: %d\n%s\n%s", code, p.output(), p.stderr.String())
	} else {
		planning, applying := step.at.Sub(started), ended.Sub(step.at)
		t.Logf("planning %v, applying %v", planning.Round(time.Millisecond), applying.Round(time.Millisecond))
		const rounds = 10
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 16))
		for round := 1; round <= rounds; round++ {
			// Every round asks for a value no round asked before, so there is always work to cut short.
			swappiness := strconv.Itoa(30 + round)
			p := startApply(t, "apply", dir, "-auto-approve", "-v", "-var", "swappiness="+swappiness, "-parallelism", "1")
			where := "while applying"
			var after time.Duration
			if round%4 == 0 { // a kill while connecting, probing or planning
				where = "while planning"
				after = time.Duration(rng.Int64N(int64(planning)))
				time.Sleep(after)
			} else {
				p.waitLine(t, time.Minute, firstStep...)
				after = time.Duration(rng.Int64N(int64(applying) * 11 / 10))
				time.Sleep(after)
			}
			p.cmd.Process.Signal(syscall.SIGKILL)
			p.wait(t, time.Minute)
			steps := len(regexp.MustCompile(`: (created|updated|destroyed|replaced) \(`).FindAllString(p.output(), -1))
			raw, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatalf("round %d (killed %v %s): %v", round, after, where, err)
			}
			if _, err := state.NewStore(statePath).Load(); err != nil {
				t.Fatalf("round %d (killed %v %s): state does not load: %v\n%s", round, after, where, err, raw)
			}
			t.Logf("round %d: killed %v %s, after %d finished steps", round, after.Round(time.Millisecond), where, steps)
		}
	}
	rerunConverges(t, dir, "rerun after the kills")
	destroyAll(t, dir)
	checkStockValues(t, l, labHosts...)
}

// stateDirFault makes a directory unable to take new data, and undoes it.
type stateDirFault struct {
	name    string
	errText string // how the operating system says it
	inflict func(t *testing.T, dir string)
	heal    func(t *testing.T, dir string)
}

var stateDirFaults = []stateDirFault{
	{
		name: "disk full", errText: "no space left on device",
		inflict: func(t *testing.T, dir string) {
			f, err := os.Create(filepath.Join(dir, "filler"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 4096)
			for {
				if _, err := f.Write(buf); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatal(err)
					}
					return
				}
			}
		},
		heal: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		// A read-only bind of the directory over itself: the running apply's open files (its
		// lock) stay as they are, every new path lookup meets a read-only filesystem.
		name: "read-only", errText: "read-only file system",
		inflict: func(t *testing.T, dir string) {
			if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
				t.Fatal(err)
			}
		},
		heal: func(t *testing.T, dir string) {
			if err := syscall.Unmount(dir, 0); err != nil {
				t.Fatal(err)
			}
		},
	},
}

// tinyConfigDir is configDir on a small filesystem of its own (unmounted when the test ends).
func tinyConfigDir(t *testing.T, l *lab.Lab, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs for the state: %v", err)
	}
	t.Cleanup(func() {
		syscall.Unmount(dir, syscall.MNT_DETACH) // a read-only bind left by a failed test first
		syscall.Unmount(dir, syscall.MNT_DETACH)
	})
	return configIn(t, dir, l, files)
}

var erroredStateRe = regexp.MustCompile(`\S*sparkform\.errored-state-[0-9]+\.json`)

func TestStateThatCannotBeSavedStopsNewStepsKeepsTheStateFileAndSaysWhatToDo(t *testing.T) {
	l := needLab(t)
	for _, fault := range stateDirFaults {
		t.Run(fault.name, func(t *testing.T) {
			resetHosts(t, labHosts...)
			dir := tinyConfigDir(t, l, map[string]string{"main.hcl": tuning})
			statePath := filepath.Join(dir, "sparkform.state.json")
			tmp := t.TempDir()
			p := startApplyEnv(t, []string{"TMPDIR=" + tmp}, "apply", dir, "-auto-approve", "-v", "-parallelism", "1")
			p.waitLine(t, time.Minute, "spark-01", "sysctl.loading")
			fault.inflict(t, dir)
			healed := false
			defer func() {
				if !healed {
					fault.heal(t, dir)
				}
			}()
			before, _ := os.ReadFile(statePath) // nothing can change it from here on
			code, _ := p.wait(t, 2*time.Minute)
			stderr := p.stderr.String()
			t.Logf("apply output:\n%s\n%s", p.output(), stderr)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, want := range []string{"the state could not be saved", fault.errText, "started no new step", "state push -backend local -state "} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			after, _ := os.ReadFile(statePath)
			if !bytes.Equal(before, after) {
				t.Errorf("the state file changed after the fault")
			}
			if len(after) > 0 {
				if _, err := state.NewStore(statePath).Load(); err != nil {
					t.Errorf("the state file does not load: %v", err)
				}
			}
			// One host at a time: the fault came during spark-01's first step, so no step of
			// spark-03 may have started.
			if got := onHost(t, l, "spark-03", "sysctl -n vm.swappiness"); got != "60" {
				t.Errorf("spark-03 changed after the state could not be saved: swappiness %s", got)
			}
			saved := erroredStateRe.FindString(stderr)
			if saved == "" || filepath.Dir(saved) != tmp {
				t.Fatalf("no errored state in %s named in stderr", tmp)
			}
			est, err := state.NewStore(saved).Load()
			if err != nil {
				t.Fatalf("errored state: %v", err)
			}
			if hs := est.Hosts["spark-01"]; hs == nil || hs.Resources["sysctl.loading"] == nil {
				t.Fatalf("errored state lacks spark-01's applied step")
			}

			// What the message says to do: heal, push the complete state back, apply again.
			fault.heal(t, dir)
			healed = true
			if code, out, stderr := cli(t, "state", "push", "-backend", "local", "-state", statePath, "-backup", filepath.Join(tmp, "pushed-over.json"), saved); code != 0 {
				t.Fatalf("state push of the errored state: %d\n%s\n%s", code, out, stderr)
			}
			rerunConverges(t, dir, "apply after healing")
			destroyAll(t, dir)
			checkStockValues(t, l, labHosts...)
		})
	}
}
