package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/sparkform/sparkform/internal/atomicfile"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/state"
)

// planFlags are plan's own flags.
type planFlags struct {
	out      string
	detailed bool
}

func (o *planFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&o.out, "out", "", "save the plan to FILE, for 'sparkform apply FILE'")
	fs.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 0 when nothing changes, 2 when something would, 1 on error")
}

// plan [DIR] [-out FILE] [-detailed-exitcode]: what would change on each host.
func runPlan(c *hostCommand, o *planFlags) int {
	rf, stdout, stderr := &c.rf, c.stdout, c.stderr
	r, plan, ok := c.openAndPlan(true, stderr)
	if !ok {
		return 1
	}
	defer r.release()
	if o.out != "" {
		if err := savePlan(o.out, plan); err != nil {
			return rf.fail(stderr, "saving plan: %v", err)
		}
	}
	if rf.ui != nil {
		rf.ui.plan(plan, "plan")
	} else {
		renderPlan(stdout, plan, styleFor(stdout, rf.noColor))
		if o.out != "" && plan.HasChanges() {
			fmt.Fprintf(stdout, "\nSaved the plan to %s. To perform exactly these actions, run:\n    sparkform apply %s\n", o.out, o.out)
		}
	}
	switch {
	case len(plan.Failed()) > 0:
		failureView{}.write(stderr, planFailures(plan))
		return 1
	case o.detailed && plan.HasChanges():
		return 2
	}
	return 0
}

// savePlan writes the plan file atomically with mode 0600 (it names hosts and their settings).
func savePlan(path string, p *engine.Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

// maxPlanBytes bounds a saved plan file, which is untrusted input: 64 MiB is ample for a real
// fleet (the whole state of 100 hosts with long history is ~7 MB) and refuses a corrupt or
// hostile file before it can exhaust memory. A variable so tests can lower it.
var maxPlanBytes int64 = 64 << 20

// loadPlan reads a plan file written by savePlan.
func loadPlan(path string) (*engine.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := state.ReadAtMost(f, maxPlanBytes, "plan file", path)
	if err != nil {
		return nil, err
	}
	var p engine.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s is not a sparkform plan file: %v", path, err)
	}
	if p.FormatVersion == 0 {
		return nil, fmt.Errorf("%s is not a sparkform plan file (no format_version)", path)
	}
	return &p, nil
}
