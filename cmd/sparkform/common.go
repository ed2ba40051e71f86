package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/provider"
)

// runFlags hold the flags commands share (declare adds those a command takes; register all of
// them for the commands that work on hosts) and what those commands set up from them.
type runFlags struct {
	vars, varFiles  multiFlag
	hosts, excludes multiFlag
	labels, targets multiFlag
	parallelism     int
	state           stateFlags
	lockTimeout     time.Duration
	json            bool
	noColor         bool
	verbose         bool
	autoApprove     bool
	ui              *jsonUI // the -json stream, once startJSON ran
	connectTimeout  time.Duration
	stepTimeout     time.Duration
	pool            *engine.Pool // one connection per host for the whole command
}

// register adds the flags of the commands that work on hosts; -v (tool output) only to those
// that run tools (a read-only command runs none).
func (f *runFlags) register(fs *flag.FlagSet, runsTools bool) {
	f.declare(fs, flagVars|flagState|flagJSON|flagNoColor|flagConnectTimeout|flagLockTimeout)
	fs.Var(&f.hosts, "host", "only these hosts: names or globs, comma-separated or repeated (-host 'spark-0*,spark-10')")
	fs.Var(&f.excludes, "exclude-host", "skip these hosts: names or globs, comma-separated or repeated")
	fs.Var(&f.labels, "label", "only hosts with this label: key=value, the value may be a glob (repeatable: all must match)")
	fs.Var(&f.targets, "target", "only this resource, TYPE.NAME, and what it depends on (repeatable; for exceptional cases)")
	f.parallelism = engine.DefaultParallelism
	fs.Var(countFlag{&f.parallelism}, "parallelism", "hosts worked on at once, a `count` of at least 1")
	if runsTools {
		fs.BoolVar(&f.verbose, "v", false, "stream every line of tool output (apt, pip, cmake) as it comes; it always goes to the log files")
	}
	durationVar(fs, &f.stepTimeout, "step-timeout", 10*time.Minute, "timeout of one remote step")
}

// closePool closes the command's connections.
func (f *runFlags) closePool() {
	if f.pool != nil {
		f.pool.Close()
	}
}

// engineOptions are the engine settings of the flags. All calls of one command share one
// connection pool; closePool ends it.
func (f *runFlags) engineOptions(events func(engine.Event)) engine.Options {
	if f.pool == nil {
		f.pool = engine.NewPool(dialer(f.connectTimeout))
	}
	if events == nil {
		events = logEvent
	} else {
		show := events
		events = func(ev engine.Event) { logEvent(ev); show(ev) }
	}
	return engine.Options{
		Parallelism: f.parallelism,
		Only:        f.hosts,
		Exclude:     f.excludes,
		Labels:      f.labels,
		Targets:     f.targets,
		Dial:        f.pool.Dial,
		StepTimeout: f.stepTimeout,
		Events:      events,
	}
}

// startJSON begins the -json stream of a command (its version line) when -json is set.
func (f *runFlags) startJSON(w io.Writer, command string) {
	if f.json && f.ui == nil {
		f.ui = newJSONUI(w, command)
	}
}

// fail reports an error: as text on stderr, and with -json as a diagnostic in the stream.
func (f *runFlags) fail(stderr io.Writer, format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	if f.ui != nil {
		f.ui.diagnostic("error", msg, "", nil)
	}
	return errorf(stderr, "%s", msg)
}

// loadConfig loads DIR and prints diagnostics (with source snippets) on failure.
func loadConfig(dir string, f *runFlags, stderr io.Writer) (*config.Config, bool) {
	vars := config.Vars{Env: config.EnvVars(os.Environ()), Files: f.varFiles, Flags: f.vars}
	cfg, diags := config.Load(dir, vars)
	if len(diags) > 0 && f.ui != nil {
		f.ui.hclDiagnostics(diags)
	} else if len(diags) > 0 {
		config.WriteDiagnostics(stderr, diags, cfg.Files, styleFor(stderr, f.noColor).on)
	}
	if diags.HasErrors() {
		return nil, false
	}
	return cfg, true
}

// dialer connects over SSH with the settings of a host block.
func dialer(connectTimeout time.Duration) engine.DialFunc {
	return func(ctx context.Context, h *config.Host, pinned string) (provider.Host, error) {
		t := provider.DefaultTimeouts
		t.Connect = connectTimeout
		if h.ConnectTimeout != "" {
			if d, err := time.ParseDuration(h.ConnectTimeout); err == nil {
				t.Connect = d
			}
		}
		start := time.Now()
		debugLog.Debug("dial", "host", h.Name, "address", h.Address, "port", h.Port, "user", h.User, "connect_timeout", t.Connect.String())
		conn, err := provider.Dial(ctx, provider.Config{
			Name: h.Name, Address: h.Address, Port: h.Port, User: h.User, IdentityFile: h.IdentityFile,
			KnownHosts: h.KnownHosts, HostKeyPolicy: h.HostKeyPolicy, Sudo: h.Sudo, Timeouts: t, PinnedKey: pinned,
			MaxOutput: h.MaxOutput,
		})
		debugLog.Debug("dialed", "host", h.Name, "elapsed", time.Since(start).Round(time.Millisecond).String(), "error", err)
		return conn, err
	}
}

// interruptible handles SIGINT/SIGTERM as Terraform users expect. For a command that changes
// hosts the first signal cancels graceful: no new step, batch or reboot starts, and the steps in
// flight finish (killing apt or dpkg half-way is how hosts get broken); the second cancels ctx and
// aborts them. For a read-only command the first signal cancels both.
func interruptible(stderr io.Writer, readOnly bool) (ctx, graceful context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	graceful, cancelGraceful := context.WithCancel(ctx)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			if readOnly {
				cancel()
				return
			}
			fmt.Fprintf(stderr, "\n%s received: finishing the steps in flight, starting no new ones; state keeps what was applied.\nSend it again to abort the steps in flight (a host may be left half-changed).\n", s)
			cancelGraceful()
		case <-ctx.Done():
			return
		}
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "\n%s received again: aborting the steps in flight.\n", s)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, graceful, func() { signal.Stop(ch); cancelGraceful(); cancel() }
}

// errorf prints an error; its arguments may hold host or file text, so the message is escaped.

func errorf(w io.Writer, format string, a ...any) int {
	fmt.Fprintf(w, "Error: %s\n", termsafe.Text(fmt.Sprintf(format, a...)))
	return 1
}

// progressView is how a command that changes hosts shows its progress: the concise text view
// (or with -json, JSON lines), and a log file per host in DIR/.sparkform/logs. end stops it.
func (f *runFlags) progressView(w io.Writer, p *engine.Plan, configDir, command string) (events func(engine.Event), logs *runLogs, end func()) {
	logs = newRunLogs(configDir, command)
	if f.ui != nil {
		var mu sync.Mutex
		return func(ev engine.Event) {
			mu.Lock()
			defer mu.Unlock()
			logs.write(ev.Host, ev)
			f.ui.event(ev, f.verbose)
		}, logs, logs.close
	}
	v := newApplyView(w, styleFor(w, f.noColor), f.verbose, logs, p)
	return v.event, logs, v.close
}
