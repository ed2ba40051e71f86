package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/state"
)

// stdin is where apply reads its confirmation; tests replace it.
var stdin io.Reader = os.Stdin

// applyFlags are apply's own flags (-auto-approve is shared with rollback).
type applyFlags struct{ batchSize string }

func (o *applyFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&o.batchSize, "batch-size", "", "hosts per rollout batch, a count or a percentage (overrides the rollout block)")
}

// apply [DIR | PLANFILE] [-auto-approve] [-batch-size N|P%]: change the hosts to match.
func runApply(c *hostCommand, o *applyFlags) int {
	ctx, graceful, rf, target, stdout, stderr := c.ctx, c.graceful, &c.rf, c.dir, c.stdout, c.stderr
	if rf.ui != nil && !rf.autoApprove {
		return rf.fail(stderr, "apply -json needs -auto-approve: a machine-readable stream cannot answer the confirmation prompt")
	}
	var batch *config.Amount
	if o.batchSize != "" {
		a, err := config.ParseAmount(o.batchSize)
		if err == nil && a.N == 0 {
			err = fmt.Errorf("a batch holds at least one host")
		}
		if err != nil {
			return rf.fail(stderr, "-batch-size: %v", err)
		}
		batch = &a
	}
	fi, err := os.Stat(target)
	if err == nil && fi.Mode().IsRegular() {
		return applySavedPlan(ctx, graceful, target, rf, batch, stdout, stderr)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return rf.fail(stderr, "%s: no such saved plan or configuration directory", target)
	}
	r, plan, ok := c.openAndPlan(true, stderr)
	if !ok {
		return 1
	}
	defer r.release()
	if !rf.json {
		renderPlan(stdout, plan, styleFor(stdout, rf.noColor))
	}
	return executePlan(ctx, graceful, "apply", plan, r.st, r.store, rf, rf.autoApprove, batch, stdout, stderr)
}

// applySavedPlan applies a plan file exactly as it was shown, refusing it when the state has
// changed since it was made.
func applySavedPlan(ctx, graceful context.Context, file string, rf *runFlags, batch *config.Amount, stdout, stderr io.Writer) int {
	if len(rf.vars) > 0 || len(rf.varFiles) > 0 || len(rf.hosts) > 0 || len(rf.excludes) > 0 || len(rf.labels) > 0 || len(rf.targets) > 0 {
		return rf.fail(stderr, "a saved plan is applied exactly as it was made: -var, -var-file, -host, -exclude-host, -label and -target cannot change it; make a new plan instead")
	}
	plan, err := loadPlan(file)
	if err != nil {
		return rf.fail(stderr, "%v", err)
	}
	store, err := openState(ctx, plan.ConfigDir, rf.state)
	if err != nil {
		return rf.fail(stderr, "%v", err)
	}
	defer store.Close()
	warnStateDir(store, stderr)
	release, err := store.Lock(ctx, "apply", rf.lockTimeout)
	if err != nil {
		return rf.fail(stderr, "%v", err)
	}
	defer release()
	st, err := store.Load()
	if err != nil {
		return rf.fail(stderr, "%v", err)
	}
	if err := engine.CheckFresh(plan, st); err != nil {
		return rf.fail(stderr, "%v", err)
	}
	if err := engine.CheckSavedPlan(plan, st); err != nil {
		return rf.fail(stderr, "%s: %v", file, err)
	}
	return executePlan(ctx, graceful, "apply", plan, st, store, rf, true, batch, stdout, stderr)
}

// executePlan asks for confirmation (unless approved), applies, renders the result and
// returns the exit code. apply and rollback share it.
func executePlan(ctx, graceful context.Context, operation string, plan *engine.Plan, st *state.State, store state.Backend, rf *runFlags, approved bool, batch *config.Amount, stdout, stderr io.Writer) int {
	planFailed := len(plan.Failed()) > 0
	failureView{}.write(stderr, planFailures(plan))
	if rf.ui != nil {
		rf.ui.plan(plan, "plan")
	}
	if !plan.HasChanges() {
		if rf.ui != nil {
			rf.ui.summary(operation, engine.Counts{}, len(plan.Hosts), len(plan.Failed()))
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
	events, logs, endView := rf.progressView(stdout, plan, plan.ConfigDir, operation)
	opts := rf.engineOptions(events)
	opts.Graceful = graceful
	opts.RunLog = logs.path
	opts.BatchSize = batch
	res := engine.Apply(ctx, plan, st, store, opts)
	endView()
	if rf.ui != nil {
		rf.ui.result(plan, res, logs, operation)
	} else {
		renderResult(stdout, plan, res, styleFor(stdout, rf.noColor), logs)
	}
	if len(rf.targets) > 0 {
		warnTargeted(stdout, rf, plan.ConfigDir)
	}
	if res.StateError != "" {
		reportUnsavedState(stderr, rf.ui, res.StateError, st, store, plan.ConfigDir)
		return 1
	}
	if planFailed || len(res.Failed()) > 0 || res.Stopped != "" {
		return 1
	}
	return 0
}

// reportUnsavedState says what to do when apply could not save its state: st (which holds
// every change made) is written where it can be, and `state push` puts it back. The advice goes
// to stderr and, with -json, into the stream as a diagnostic.
func reportUnsavedState(w io.Writer, ui *jsonUI, why string, st *state.State, store state.Backend, configDir string) {
	dirs := []string{os.TempDir(), "."}
	push := fmt.Sprintf("sparkform -chdir=%s state push", provider.Quote(configDir))
	if fs, ok := store.(*state.Store); ok {
		dirs = append([]string{filepath.Dir(fs.Path())}, dirs...)
		push = "sparkform state push -backend local -state " + provider.Quote(fs.Path())
	}
	summary := why + "; apply started no new step after that"
	detail := fmt.Sprintf("The %s still holds the last state that could be saved: changes made after it are not recorded there.\n", store)
	if saved, err := state.WriteErrored(st, dirs...); err != nil {
		detail += fmt.Sprintf("The complete state could not be written anywhere either (%v).\n", err) +
			"Once the state can be saved again, run apply again: it reads the hosts afresh (originals of unrecorded changes are lost).\n"
	} else {
		detail += fmt.Sprintf("The complete state, with every change this apply made, is in %s.\n", saved) +
			fmt.Sprintf("Next: make the state writable again (free space, remount, bring the database back), then\n  %s %s\nand run plan: it shows only what is left to do.\n", push, provider.Quote(saved))
	}
	fmt.Fprintf(w, "\nError: %s.\n  %s", summary, strings.ReplaceAll(strings.TrimSuffix(detail, "\n"), "\n", "\n  ")+"\n")
	if ui != nil {
		ui.diagnostic("error", summary, detail, nil)
	}
}

// confirm asks for the literal word yes, as Terraform does.
func confirm(w io.Writer, p *engine.Plan) bool {
	fmt.Fprintf(w, "\nDo you want to perform these actions on %s?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", plural(len(p.Hosts), "host"))
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

// warnTargeted says, as Terraform does after a targeted apply, that the configuration may ask
// for more than was applied, and how to see it.
func warnTargeted(w io.Writer, rf *runFlags, configDir string) {
	summary := "Applied changes may be incomplete"
	detail := fmt.Sprintf("The plan was made with -target %s: changes the configuration asks for outside it were left out.\nTo see whether any are pending, run: sparkform plan %s",
		strings.Join(rf.targets, ", -target "), provider.Quote(configDir))
	if rf.ui != nil {
		rf.ui.diagnostic("warning", summary, detail, nil)
		return
	}
	st := styleFor(w, rf.noColor)
	fmt.Fprintf(w, "\n%s %s.\n  %s\n", st.yellow(st.bold("Warning:")), summary, strings.ReplaceAll(termsafe.Text(detail), "\n", "\n  "))
}
