package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// state versions [-n N]: the backend's write history, newest first (which serial wrote what,
// when, by whom).
func runStateVersions(in *invocation, o *versionsFlags) int {
	b, err := openState(context.Background(), ".", in.state)
	if err != nil {
		return in.fail(in.stderr, "%v", err)
	}
	defer b.Close()
	v, ok := b.(state.Versioner)
	if !ok {
		return in.fail(in.stderr, "%s keeps no write history (only its last backup); the pg backend keeps one", b)
	}
	vs, err := v.Versions(o.n)
	if err != nil {
		return in.fail(in.stderr, "%v", err)
	}
	if ui := in.ui; ui != nil {
		for _, v := range vs {
			changes := v.Changes
			if changes == nil {
				changes = []state.Change{}
			}
			ui.emit("info", "state_version", fmt.Sprintf("serial %d: %s", v.Serial, v.Operation), map[string]any{"version": map[string]any{
				"serial": v.Serial, "time": v.Time.UTC().Format(time.RFC3339Nano), "who": v.Who, "operation": v.Operation, "changes": changes}})
		}
		return 0
	}
	for _, v := range vs {
		fmt.Fprintf(in.stdout, "serial %d  %s  %s  %s\n", v.Serial, english.Time(v.Time), termsafe.Line(v.Who), termsafe.Line(v.Operation))
		for _, c := range v.Changes {
			fmt.Fprintf(in.stdout, "  %s\n", termsafe.Line(c.What))
		}
	}
	if len(vs) == 0 {
		fmt.Fprintf(in.stdout, "%s has no recorded writes.\n", b)
	}
	return 0
}

// versionsFlags are state versions' own flags.
type versionsFlags struct{ n int }

func (o *versionsFlags) declare(fs *flag.FlagSet) {
	fs.IntVar(&o.n, "n", 20, "how many writes to list")
}
