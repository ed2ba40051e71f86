package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/lab"
	"github.com/sparkform/sparkform/state"
)

// The chaos matrix: one fault on one host (or on the controller's state directory) at one phase
// of an apply, on a fresh 3-host lab per case. Every case checks that the fault is reported in
// time, the other hosts finish, the state parses, nothing on any host is half-written, and an
// apply after healing converges. CI runs the cases marked ci; SPARKFORM_CHAOS=all runs them all
// (bench/chaos-matrix.sh, whose table the README quotes).

const (
	chaosVictim        = "spark-02"
	chaosRebootTimeout = 20 * time.Second
	// chaosBound is how soon after a host fault its host must be reported (issue #16).
	chaosBound = 30 * time.Second
)

var chaosOthers = []string{"spark-01", "spark-03"}

// chaosPhase is a point of an apply where the fault strikes.
type chaosPhase struct {
	name string
	// config is main.hcl; first, when set, is applied (without fault) before it.
	config, first string
	// prepare readies fresh hosts (before the apply).
	prepare func(t *testing.T, l *lab.Lab)
	// trigger matches the victim's -json message that says the phase has begun; the fault
	// strikes delay after it. No trigger: the fault is in place before the apply starts.
	trigger func(uiMessage) bool
	delay   time.Duration
	// bound is how soon after the fault the victim must be reported.
	bound time.Duration
	// whole fails unless what this phase writes on host is absent, as it was, or complete.
	whole func(t *testing.T, l *lab.Lab, host string)
}

// chaosFault is what goes wrong; inflict returns once the fault is in effect.
type chaosFault struct {
	name string
	// state: the fault hits the controller's state directory, not a host.
	state bool
	// before: the fault is in place before the apply starts, whatever the phase (a disk that
	// is full when the step writes).
	before  bool
	inflict func(t *testing.T, c *chaosCase)
	heal    func(t *testing.T, c *chaosCase)
}

type chaosCase struct {
	phase *chaosPhase
	fault *chaosFault
	ci    bool
	// mayRecover: the victim may come through (a host rebooted by someone else during the reboot
	// wait comes back all the same); it must then end in time like a failure would.
	mayRecover bool

	l   *lab.Lab
	dir string // configuration directory (its state file in it)
	// target is the directory a disk-full fault fills on the victim.
	target string
}

// ctx for lab calls that return at once.
var bg = context.Background()

// retryWhileBooting repeats a fault hook while the victim is between two boots (no PID 1 yet).
func retryWhileBooting(t *testing.T, what string, f func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "is not running") || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitUp(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
	defer cancel()
	if err := l.WaitUp(ctx, host); err != nil {
		t.Fatal(err)
	}
}

// labOp is a lab method that acts on one host (Freeze, Partition, PowerOn, ...).
type labOp func(l *lab.Lab, ctx context.Context, host string) error

// onVictim is a fault step: op on the victim, failing the test on error; with up, then a wait
// until the victim answers again.
func onVictim(op labOp, up bool) func(*testing.T, *chaosCase) {
	return func(t *testing.T, c *chaosCase) {
		if err := op(c.l, bg, chaosVictim); err != nil {
			t.Fatal(err)
		}
		if up {
			waitUp(t, c.l, chaosVictim)
		}
	}
}

// whileBooting is a fault step: op on the victim, retried while it is still booting.
func whileBooting(what string, op labOp) func(*testing.T, *chaosCase) {
	return func(t *testing.T, c *chaosCase) {
		retryWhileBooting(t, what, func(ctx context.Context) error { return op(c.l, ctx, chaosVictim) })
	}
}

// victimUp is a fault's heal step that only waits until the victim answers again.
func victimUp(t *testing.T, c *chaosCase) { waitUp(t, c.l, chaosVictim) }

var (
	faultFreeze    = &chaosFault{name: "freeze", inflict: whileBooting("freeze", (*lab.Lab).Freeze), heal: onVictim((*lab.Lab).Thaw, false)}
	faultPartition = &chaosFault{name: "partition", inflict: onVictim((*lab.Lab).Partition, false), heal: onVictim((*lab.Lab).Heal, true)}
	faultCrash     = &chaosFault{name: "crash", inflict: whileBooting("crash", (*lab.Lab).Crash), heal: victimUp}
	faultPowerOff  = &chaosFault{name: "power off", inflict: whileBooting("power off", (*lab.Lab).PowerOff), heal: onVictim((*lab.Lab).PowerOn, true)}
	faultReboot    = &chaosFault{name: "reboot by someone else", inflict: whileBooting("reboot", (*lab.Lab).Reboot), heal: victimUp}
	// A small full filesystem mounted over the directory the phase writes to (it hides what
	// was there; unmounting shows it again, untouched).
	faultDiskFull = &chaosFault{name: "disk full on the host", before: true,
		inflict: func(t *testing.T, c *chaosCase) {
			onHost(t, c.l, chaosVictim, "set -e; mkdir -p "+c.target+"; mount -t tmpfs -o size=64k tmpfs "+c.target+
				"; dd if=/dev/zero of="+c.target+"/.filler bs=4k 2>/dev/null || true")
		},
		heal: func(t *testing.T, c *chaosCase) {
			onHost(t, c.l, chaosVictim, "umount "+c.target)
		}}
	faultStateFull = &chaosFault{name: "controller state dir full", state: true,
		inflict: func(t *testing.T, c *chaosCase) { stateDirFaults[0].inflict(t, c.dir) },
		heal:    func(t *testing.T, c *chaosCase) { stateDirFaults[0].heal(t, c.dir) }}
)

// wholeFiles: the files sysctl and readahead manage are absent or complete.
func wholeFiles(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	got := onHost(t, l, host, `f=/etc/sysctl.d/90-sparkform-loading.conf
[ ! -e $f ] || { grep -qx 'vm.swappiness = 10' $f && grep -qx 'vm.dirty_ratio = 10' $f; } || echo "$f is partial"
f=/etc/udev/rules.d/60-sparkform-readahead-nvme.rules
[ ! -e $f ] || grep -q 'ATTR{queue/read_ahead_kb}="8192"' $f || echo "$f is partial"`)
	if got != "" {
		t.Errorf("%s: %s", host, got)
	}
}

// llamaBlock builds the lab's llama.cpp stand-in at ref.
func llamaBlock(ref string) string {
	return `
llama_cpp "l" {
  source  = "/srv/git/llama.cpp.git"
  ref     = "` + ref + `"
  dir     = "/opt/sparkform/llama.cpp"
  targets = ["llama-server"]
}
`
}

// wholeLlama: current points at a complete build (the one before, or the new one).
func wholeLlama(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	if got := onHost(t, l, host, "/opt/sparkform/llama.cpp/current/bin/llama-server --version 2>&1 | grep -c '^version: ' || true"); got != "1" {
		t.Errorf("%s: llama.cpp's current build does not run: %s", host, got)
	}
}

// wholeBoot: the host runs a kernel it has, and dpkg has nothing half-configured.
func wholeBoot(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	if got := onHost(t, l, host, "dpkg --audit; case $(uname -r) in 6.11.0-1016-nvidia|6.17.0-1014-nvidia) ;; *) echo unexpected kernel $(uname -r);; esac"); got != "" {
		t.Errorf("%s: %s", host, got)
	}
}

// wholeSmoke: no model server outlives the test that started it.
func wholeSmoke(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	if got := onHost(t, l, host, "pgrep -a llama-server || true"); got != "" {
		t.Errorf("%s: a llama-server is left running: %s", host, got)
	}
}

func chaosPhases() map[string]*chaosPhase {
	return map[string]*chaosPhase{
		"probe": {name: "plan probe", config: tuning, bound: chaosBound, whole: wholeFiles},
		"files": {name: "apply step writing files", config: tuning,
			trigger: isMsg("apply_start", chaosVictim, "sysctl.loading"), bound: chaosBound, whole: wholeFiles},
		"long": {name: "long step (venv build)", config: tuning + venvBlock,
			trigger: isMsg("apply_start", chaosVictim, "python_venv.v"), delay: time.Second, bound: chaosBound,
			whole: func(t *testing.T, l *lab.Lab, host string) { checkVenvWhole(t, l, host) }},
		"llama": {name: "long step (llama.cpp rebuild)", first: llamaBlock("b6800"), config: llamaBlock("b10900"),
			trigger: isMsg("apply_start", chaosVictim, "llama_cpp.l"), delay: time.Second, bound: chaosBound, whole: wholeLlama},
		"reboot": {name: "reboot wait", config: `
kernel "nvidia" {
  line           = "6.17"
  reboot_timeout = "` + chaosRebootTimeout.String() + `"
}
`,
			// The host reboots a second after saying so: strike before, so that the controller
			// waits for a host that is off, cut off, or (crashed) back sooner than it asked.
			trigger: isMsg("reboot_start", chaosVictim, ""), delay: 500 * time.Millisecond,
			bound: chaosRebootTimeout + 10*time.Second, whole: wholeBoot},
		"smoke": {name: "smoke test", config: smokeConfig(""),
			prepare: func(t *testing.T, l *lab.Lab) {
				buildLlamaOn(t, l, "b6800", append([]string{chaosVictim}, chaosOthers...)...)
			},
			// The first line of the test's output (-v): a server is loading the model.
			trigger: isMsg("log", chaosVictim, "smoke_test.gpt-oss"), delay: 500 * time.Millisecond,
			bound: chaosBound, whole: wholeSmoke},
	}
}

// chaosCases lists every pair that makes sense (a fault with nothing to hit in a phase is left
// out: the plan writes nothing, so neither a full disk nor a full state directory touches it;
// a host frozen while it boots is a partition to the controller).
func chaosCases() []*chaosCase {
	ph := chaosPhases()
	c := func(p string, f *chaosFault, ci bool) *chaosCase { return &chaosCase{phase: ph[p], fault: f, ci: ci} }
	cases := []*chaosCase{
		c("probe", faultFreeze, false), c("probe", faultPartition, true), c("probe", faultCrash, false),
		c("probe", faultPowerOff, false), c("probe", faultReboot, false),

		c("files", faultFreeze, false), c("files", faultPartition, false), c("files", faultCrash, true),
		c("files", faultPowerOff, false), c("files", faultReboot, false), c("files", faultDiskFull, true),
		c("files", faultStateFull, false),

		c("long", faultFreeze, false), c("long", faultPartition, false), c("long", faultCrash, false),
		c("long", faultPowerOff, false), c("long", faultReboot, true), c("long", faultDiskFull, false),
		c("long", faultStateFull, false),

		c("llama", faultFreeze, false), c("llama", faultCrash, false), c("llama", faultDiskFull, false),

		c("reboot", faultPartition, false), c("reboot", faultCrash, false), c("reboot", faultPowerOff, true),
		c("reboot", faultReboot, false), c("reboot", faultStateFull, false),

		c("smoke", faultFreeze, true), c("smoke", faultPartition, false), c("smoke", faultCrash, false),
		c("smoke", faultPowerOff, false), c("smoke", faultReboot, false), c("smoke", faultStateFull, false),
	}
	for _, k := range cases {
		if (k.phase.name == "reboot wait" || k.phase.name == "plan probe") && (k.fault == faultCrash || k.fault == faultReboot) {
			// It boots again: during the reboot wait GRUB's one-time entry decides which kernel;
			// before the probe, the host may be back before sparkform connects.
			k.mayRecover = true
		}
		switch k.phase.name {
		case "apply step writing files":
			k.target = "/etc/sysctl.d"
		case "long step (venv build)", "long step (llama.cpp rebuild)":
			k.target = "/opt/sparkform"
		}
	}
	return cases
}

// victimReport is the message that reports the victim failed, in the plan or in the apply.
func victimReport(p *applyProc) (timedLine, bool) {
	return p.msgAt(isMsg("host_failed", chaosVictim, ""))
}

// hostApplied reports whether the apply's result for host is applied.
func hostApplied(p *applyProc, host string) (timedLine, bool) {
	return p.msgAt(func(m uiMessage) bool { return isMsg("host_result", host, "")(m) && m.Status == "applied" })
}

func TestChaosMatrix(t *testing.T) {
	all := os.Getenv("SPARKFORM_CHAOS") == "all"
	for _, c := range chaosCases() {
		if !c.ci && !all {
			continue
		}
		t.Run(c.fault.name+" during "+c.phase.name, func(t *testing.T) { runChaosCase(t, c) })
	}
}

func runChaosCase(t *testing.T, c *chaosCase) {
	c.l = ownLab(t, 3)
	hosts := append([]string{chaosVictim}, chaosOthers...)
	if c.phase.prepare != nil {
		c.phase.prepare(t, c.l)
	}
	files := map[string]string{"main.hcl": c.phase.config}
	if c.phase.first != "" {
		files["main.hcl"] = c.phase.first
	}
	if c.fault.state {
		c.dir = tinyConfigDir(t, c.l, files)
	} else {
		c.dir = configDir(t, c.l, files)
	}
	if c.phase.first != "" {
		mustApply(t, c.dir, "first apply")
		writeFiles(t, c.dir, map[string]string{"main.hcl": c.phase.config})
	}
	statePath := filepath.Join(c.dir, "sparkform.state.json")
	tmp := t.TempDir()

	var struck time.Time
	healed := true
	strike := func() {
		struck, healed = time.Now(), false // a crash is reported before its hook returns
		c.fault.inflict(t, c)
	}
	defer func() {
		if !healed {
			c.fault.heal(t, c)
		}
	}()
	atTrigger := c.phase.trigger != nil && !c.fault.before
	if !atTrigger {
		strike()
	}
	p := startApplyEnv(t, []string{"TMPDIR=" + tmp}, "apply", c.dir, "-auto-approve", "-json", "-v")
	if atTrigger {
		p.waitMsg(t, 3*time.Minute, "the phase's start on "+chaosVictim, c.phase.trigger)
		time.Sleep(c.phase.delay)
		strike()
	}
	var before []byte
	if c.fault.state {
		before, _ = os.ReadFile(statePath) // nothing may change it from here on
	}
	code, ended := p.wait(t, 5*time.Minute)
	out := p.output()

	// When was the fault reported, and did the others finish?
	var took time.Duration
	if c.fault.state {
		took = ended.Sub(struck)
		for _, want := range []string{"the state could not be saved", "started no new step", "state push"} {
			if !strings.Contains(p.stderr.String(), want) {
				t.Errorf("stderr lacks %q", want)
			}
		}
		if after, _ := os.ReadFile(statePath); string(after) != string(before) {
			t.Errorf("the state file changed after its directory was full")
		}
	} else {
		failed, ok := victimReport(p)
		recovered, ok2 := hostApplied(p, chaosVictim)
		switch {
		case ok:
			took = failed.at.Sub(struck)
		case ok2 && c.mayRecover:
			took = recovered.at.Sub(struck)
		default:
			t.Fatalf("%s was not reported failed (exit %d):\n%s", chaosVictim, code, out)
		}
		if took > c.phase.bound {
			t.Errorf("%s reported %v after the fault, want within %v", chaosVictim, took.Round(100*time.Millisecond), c.phase.bound)
		}
		for _, h := range chaosOthers {
			if _, ok := hostApplied(p, h); !ok {
				t.Errorf("%s did not finish:\n%s", h, out)
			}
		}
		if ok && code != 1 {
			t.Errorf("exit %d with %s failed, want 1", code, chaosVictim)
		}
	}
	if raw, err := os.ReadFile(statePath); err == nil {
		if _, err := state.Decode(raw); err != nil {
			t.Errorf("state does not parse after the fault: %v", err)
		}
	}
	line := "(none)"
	if l, ok := victimReport(p); ok && !c.fault.state {
		line = l.ev.Message + ": " + strings.ReplaceAll(l.ev.Error, "\n", " ")
	}
	// The bench script collects these lines into the README's table.
	fmt.Printf("CHAOS\t%s\t%s\t%.1f\t%s\n", c.fault.name, c.phase.name, took.Seconds(), line)

	c.fault.heal(t, c)
	healed = true
	for _, h := range hosts {
		c.phase.whole(t, c.l, h)
	}
	if c.fault.state {
		saved := erroredStateRe.FindString(p.stderr.String())
		if saved == "" {
			t.Fatalf("no errored state named:\n%s", p.stderr.String())
		}
		if code, o, e := cli(t, "state", "push", "-backend", "local", "-state", statePath, "-backup", filepath.Join(tmp, "over.json"), saved); code != 0 {
			t.Fatalf("state push: %d\n%s\n%s", code, o, e)
		}
	}
	rerunConverges(t, c.dir, "apply after healing")
	for _, h := range hosts {
		c.phase.whole(t, c.l, h)
	}
}
