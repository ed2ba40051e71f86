package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// state versions [-n N]: the backend's write history, newest first (which serial wrote what,
// when, by whom).
func runStateVersions(args []string, stdout, stderr io.Writer) int {
	var rf runFlags
	var n int
	if _, ok := rf.parse("state versions", args, stderr, flagState|flagJSON, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "n", 20, "how many writes to list")
	}); !ok {
		return 1
	}
	b, err := openState(context.Background(), ".", rf.state)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer b.Close()
	v, ok := b.(state.Versioner)
	if !ok {
		return errorf(stderr, "%s keeps no write history (only its last backup); the pg backend keeps one", b)
	}
	vs, err := v.Versions(n)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if rf.json {
		ui := newJSONUI(stdout, "state versions")
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
		fmt.Fprintf(stdout, "serial %d  %s  %s  %s\n", v.Serial, v.Time.UTC().Format(time.RFC3339), termsafe.Line(v.Who), termsafe.Line(v.Operation))
		for _, c := range v.Changes {
			fmt.Fprintf(stdout, "  %s\n", termsafe.Line(c.What))
		}
	}
	if len(vs) == 0 {
		fmt.Fprintf(stdout, "%s has no recorded writes.\n", b)
	}
	return 0
}
