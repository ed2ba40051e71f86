package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/state"
)

// stdin is where apply reads its confirmation; tests replace it.
var stdin io.Reader = os.Stdin

func runApply(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("apply", stderr)
	var rf runFlags
	rf.register(fs)
	autoApprove := fs.Bool("auto-approve", false, "apply without asking for confirmation")
	batchSize := fs.String("batch-size", "", "hosts per rollout batch, a count or a percentage (overrides the rollout block)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 1
	}
	target, err := atMostOne("apply", pos)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if target == "" {
		target = "."
	}
	var batch *config.Amount
	if *batchSize != "" {
		a, err := config.ParseAmount(*batchSize)
		if err == nil && a.N == 0 {
			err = fmt.Errorf("a batch holds at least one host")
		}
		if err != nil {
			return errorf(stderr, "-batch-size: %v", err)
		}
		batch = &a
	}
	ctx, stop := interruptible(stderr)
	defer stop()

	var plan *engine.Plan
	fromFile := false
	if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
		fromFile = true
		if len(rf.vars) > 0 || len(rf.varFiles) > 0 || len(rf.hosts) > 0 || len(rf.excludes) > 0 {
			return errorf(stderr, "a saved plan is applied exactly as it was made: -var, -var-file, -host and -exclude-host cannot change it; make a new plan instead")
		}
		if plan, err = loadPlan(target); err != nil {
			return errorf(stderr, "%v", err)
		}
	}
	stateDir := target
	var cfg *config.Config
	if fromFile {
		stateDir = plan.ConfigDir
	} else {
		// The configuration is loaded before the lock so bad input fails fast and touches nothing.
		var ok bool
		if cfg, ok = loadConfig(target, &rf, stderr); !ok {
			return 1
		}
	}
	store, release, err := lockState(ctx, rf.stateFile(stateDir), "apply", rf.lockTimeout)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer release()
	st, err := store.Load()
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if fromFile {
		if err := engine.CheckFresh(plan, st); err != nil {
			return errorf(stderr, "%v", err)
		}
	} else {
		if plan, err = engine.MakePlan(ctx, cfg, st, rf.engineOptions(nil)); err != nil {
			return errorf(stderr, "%v", err)
		}
		if !rf.json {
			renderPlan(stdout, plan)
		}
	}
	return executePlan(ctx, plan, st, store, &rf, fromFile || *autoApprove, batch, stdout, stderr)
}

// executePlan asks for confirmation (unless approved), applies, renders the result and
// returns the exit code. apply and rollback share it.
func executePlan(ctx context.Context, plan *engine.Plan, st *state.State, store *state.Store, rf *runFlags, approved bool, batch *config.Amount, stdout, stderr io.Writer) int {
	planFailed := len(plan.Failed()) > 0
	for _, h := range plan.Failed() {
		fmt.Fprintf(stderr, "Error: %s: %s\n", h.Name, h.Error)
	}
	if !plan.HasChanges() {
		if rf.json {
			writeJSON(stdout, plan)
		}
		if planFailed {
			return 1
		}
		return 0
	}
	if !approved {
		if !confirm(stdout, plan) {
			fmt.Fprintln(stdout, "\nApply cancelled.")
			return 1
		}
	}
	if !rf.json {
		fmt.Fprintln(stdout)
	}
	var mu sync.Mutex
	events := func(ev engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		if rf.json {
			b, _ := json.Marshal(map[string]any{"type": "event", "event": ev})
			fmt.Fprintln(stdout, string(b))
			return
		}
		renderEvent(stdout, ev)
	}
	opts := rf.engineOptions(events)
	opts.BatchSize = batch
	res := engine.Apply(ctx, plan, st, store, opts)
	if rf.json {
		b, _ := json.Marshal(map[string]any{"type": "result", "result": res})
		fmt.Fprintln(stdout, string(b))
	} else {
		renderResult(stdout, res)
	}
	if planFailed || len(res.Failed()) > 0 || res.Stopped != "" {
		return 1
	}
	return 0
}

// confirm asks for the literal word yes, as Terraform does.
func confirm(w io.Writer, p *engine.Plan) bool {
	fmt.Fprintf(w, "\nDo you want to perform these actions on %d hosts?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", len(p.Hosts))
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}
