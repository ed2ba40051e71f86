package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
)

// rollbackFlags are rollback's own flags (-auto-approve is shared with apply).
type rollbackFlags struct{ to int }

func (o *rollbackFlags) declare(fs *flag.FlagSet) {
	fs.IntVar(&o.to, "to", 0, "generation to return to (default: each host's previous generation)")
}

// rollback [DIR] [-to N] [-host H]...: plan the return of each host to generation N (default:
// the one before its latest) and apply it after confirmation, exactly like apply. Host
// connection settings and the rollout come from the configuration in DIR; the resources come
// from the generation.
func runRollback(c *hostCommand, o *rollbackFlags) int {
	ctx, graceful, rf, stdout, stderr := c.ctx, c.graceful, &c.rf, c.stdout, c.stderr
	if rf.ui != nil && !rf.autoApprove {
		return rf.fail(stderr, "rollback -json needs -auto-approve: a machine-readable stream cannot answer the confirmation prompt")
	}
	r, ok := c.open(true, stderr)
	if !ok {
		return 1
	}
	defer r.release()
	target, note, err := engine.RollbackConfig(r.cfg, r.st, o.to, rf.hosts, rf.excludes, rf.labels)
	if err != nil {
		return rf.fail(stderr, "%v", err)
	}
	opts := rf.engineOptions(nil) // the same selection: the target holds every configured host
	plan, err := engine.MakePlan(ctx, target, r.st, opts)
	if err != nil {
		return rf.fail(stderr, "%v", err)
	}
	plan.Note = note
	if !rf.json {
		// "Rollback to generation 1." (the note is also the generation's note in history).
		fmt.Fprintf(stdout, "R%s.\n\n", termsafe.Text(strings.TrimPrefix(note, "r")))
		renderPlan(stdout, plan, styleFor(stdout, rf.noColor))
	}
	return executePlan(ctx, graceful, "rollback", plan, r.st, r.store, rf, rf.autoApprove, nil, stdout, stderr)
}
