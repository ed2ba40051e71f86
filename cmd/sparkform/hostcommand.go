package main

// The set-up of the commands that work on hosts: flags, DIR, JSON stream, signals, config and state.

import (
	"context"
	"flag"
	"io"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/state"
)

// hostCommand is the set-up the commands that work on hosts share (plan, drift, test, apply,
// rollback), in this order: the flag set with the run flags, the shared flags of which and the
// command's own (extra), its DIR (or plan file) argument, the JSON stream, and the context
// SIGINT/SIGTERM cancel (interruptible; readOnly as there). close ends what it started.
type hostCommand struct {
	name           string
	rf             runFlags
	dir            string
	ctx, graceful  context.Context
	stop           func()
	stdout, stderr io.Writer
}

func startHostCommand(name string, args []string, stdout, stderr io.Writer, readOnly bool, which sharedFlag, extra func(fs *flag.FlagSet)) (*hostCommand, bool) {
	c := &hostCommand{name: name, stdout: stdout, stderr: stderr}
	pos, ok := c.rf.parse(name, args, stderr, which, func(fs *flag.FlagSet) {
		c.rf.register(fs, !readOnly)
		extra(fs)
	})
	if !ok {
		return nil, false
	}
	// With -json every error from here on is a diagnostic in the stream too.
	c.rf.startJSON(stdout, name)
	dir, err := atMostOne(name, pos)
	if err != nil {
		c.rf.fail(stderr, "%v", err)
		return nil, false
	}
	if c.dir = dir; dir == "" {
		c.dir = "."
	}
	c.ctx, c.graceful, c.stop = interruptible(stderr, readOnly)
	return c, true
}

func (c *hostCommand) close() {
	c.stop()
	c.rf.closePool()
}

// open loads the configuration in the command's DIR and the state, locked unless lock is false
// (a read-only command: state files are replaced atomically, so a read is always whole).
func (c *hostCommand) open(lock bool, stderr io.Writer) (*hostRun, bool) {
	return openHostRun(c.ctx, c.dir, &c.rf, c.name, lock, stderr)
}

// openAndPlan opens the configuration and state (open) and plans every selected host; on an
// error (printed) nothing stays open, else the caller releases r.
func (c *hostCommand) openAndPlan(lock bool, stderr io.Writer) (r *hostRun, plan *engine.Plan, ok bool) {
	if r, ok = c.open(lock, stderr); !ok {
		return nil, nil, false
	}
	plan, err := engine.MakePlan(c.ctx, r.cfg, r.st, c.rf.engineOptions(nil))
	if err != nil {
		r.release()
		c.rf.fail(stderr, "%v", err)
		return nil, nil, false
	}
	return r, plan, true
}

// hostRun is what a command that works on hosts holds: the configuration and the state,
// locked for op unless the command only reads. release unlocks and closes the state.
type hostRun struct {
	cfg     *config.Config
	store   state.Backend
	st      *state.State
	release func() error
}

// openHostRun loads the configuration first (bad input fails before anything is locked or
// contacted), then locks and loads the state. release must be called when ok.
func openHostRun(ctx context.Context, dir string, rf *runFlags, op string, lock bool, stderr io.Writer) (*hostRun, bool) {
	cfg, ok := loadConfig(dir, rf, stderr)
	if !ok {
		return nil, false
	}
	store, err := openState(ctx, dir, rf.state)
	if err != nil {
		rf.fail(stderr, "%v", err)
		return nil, false
	}
	r := &hostRun{cfg: cfg, store: store, release: store.Close}
	warnStateDir(store, stderr)
	if lock {
		unlock, err := store.Lock(ctx, op, rf.lockTimeout)
		if err != nil {
			store.Close()
			rf.fail(stderr, "%v", err)
			return nil, false
		}
		r.release = func() error {
			err := unlock()
			if cerr := store.Close(); err == nil {
				err = cerr
			}
			return err
		}
	}
	st, err := r.store.Load()
	if err != nil {
		r.release()
		rf.fail(stderr, "%v", err)
		return nil, false
	}
	r.st = st
	return r, true
}
