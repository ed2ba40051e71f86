package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sparkform/sparkform/internal/atomicfile"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// stateMove returns the state subcommands that work on a whole state (a switch, not a map:
// the command table refers to runState, which refers to these).
func stateMove(sub string) (command, bool) {
	switch sub {
	case "pull":
		return runStatePull, true
	case "push":
		return runStatePush, true
	case "migrate":
		return runStateMigrate, true
	case "versions":
		return runStateVersions, true
	}
	return nil, false
}

// maxPushBytes bounds a pushed file: a state is untrusted input.
const maxPushBytes = 256 << 20

// state pull: the current state as JSON on standard output (for a backup, or to inspect it).
func runStatePull(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("state pull", stderr)
	var sf stateFlags
	sf.register(fs, "state file (default: the one in the current directory)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return 1
	}
	b, st, err := readState(".", sf)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer b.Close()
	out, err := state.Encode(st)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	stdout.Write(out)
	return 0
}

// state push FILE|-: replace the current state with FILE's (same lineage, newer serial),
// backing up what it replaces.
func runStatePush(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("state push", stderr)
	var sf stateFlags
	sf.register(fs, "state file to replace (default: the one in the current directory)")
	lockTimeout := new(time.Duration)
	durationVar(fs, lockTimeout, "lock-timeout", 0, "how long to wait for the state lock")
	force := fs.Bool("force", false, "replace even when the stored serial is not older than the pushed one (never across lineages)")
	backup := fs.String("backup", "", "where to write the replaced state (default ./sparkform.state.SERIAL.TIME.backup.json)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 1
	}
	if len(pos) != 1 {
		return errorf(stderr, "state push needs one file (or - for standard input)")
	}
	var in io.Reader = os.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		defer f.Close()
		in = f
	}
	raw, err := io.ReadAll(io.LimitReader(in, maxPushBytes+1))
	if err != nil {
		return errorf(stderr, "reading %s: %v", pos[0], err)
	}
	if len(raw) > maxPushBytes {
		return errorf(stderr, "%s is larger than %d MiB: not a state this sparkform wrote", pos[0], maxPushBytes>>20)
	}
	incoming, err := state.Decode(raw)
	if err != nil {
		return errorf(stderr, "%s is not a valid state: %v", pos[0], err)
	}
	ctx, _, stop := interruptible(stderr, true)
	defer stop()
	dst, err := openState(ctx, ".", sf)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer dst.Close()
	release, err := dst.Lock(ctx, "state push", *lockTimeout)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer release()
	if err := replaceState(dst, incoming, pos[0], *force, *backup, stdout); err != nil {
		return errorf(stderr, "%v", err)
	}
	return 0
}

// state migrate -to pg|local: copy the state from the other backend, e.g. from the local file
// (-state or DIR's) into PostgreSQL, refusing another lineage and backing up what it replaces.
func runStateMigrate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("state migrate", stderr)
	to := fs.String("to", "", "destination backend: pg (from the local file) or local (from PostgreSQL)")
	path := fs.String("state", "", "the local state file (default: the backend block's path, else ./sparkform.state.json)")
	lockTimeout := new(time.Duration)
	durationVar(fs, lockTimeout, "lock-timeout", 0, "how long to wait for each state lock")
	force := fs.Bool("force", false, "replace even when the destination's serial is not older (never across lineages)")
	backup := fs.String("backup", "", "where to write the replaced destination state (default ./sparkform.state.SERIAL.TIME.backup.json)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return 1
	}
	var from string
	switch *to {
	case "pg":
		from = "local"
	case "local":
		from = "pg"
	default:
		return errorf(stderr, "state migrate needs -to pg (file → PostgreSQL) or -to local (PostgreSQL → file)")
	}
	ctx, _, stop := interruptible(stderr, true)
	defer stop()
	open := func(kind string) (state.Backend, func() error, error) {
		sf := stateFlags{backend: kind}
		if kind == "local" {
			sf.path = *path
		}
		b, err := openState(ctx, ".", sf)
		if err != nil {
			return nil, nil, err
		}
		release, err := b.Lock(ctx, "state migrate", *lockTimeout)
		if err != nil {
			b.Close()
			return nil, nil, err
		}
		return b, func() error { release(); return b.Close() }, nil
	}
	// Both are locked for the whole copy, the file first (one order: no deadlock between two
	// migrations in opposite directions).
	file, closeFile, err := open("local")
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer closeFile()
	db, closeDB, err := open("pg")
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer closeDB()
	src, dst := file, db
	if from == "pg" {
		src, dst = db, file
	}
	st, err := loadExistingState(src)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if err := replaceState(dst, st, src.String(), *force, *backup, stdout); err != nil {
		return errorf(stderr, "%v", err)
	}
	if *to == "pg" {
		fmt.Fprintf(stdout, "Use it with a backend \"pg\" {} block in the configuration (or -backend pg); %s is no longer written.\n", file)
	}
	return 0
}

// replaceState stores incoming (read from source) in dst, whose lock the caller holds. An
// empty destination takes it as is; otherwise the lineage must match and the destination's
// serial must be older (unless force), and what is replaced is backed up first.
func replaceState(dst state.Backend, incoming *state.State, source string, force bool, backupPath string, stdout io.Writer) error {
	exists, err := dst.Exists()
	if err != nil {
		return err
	}
	if exists {
		// A destination that does not read cannot be compared or backed up: it is left for a human.
		cur, err := dst.Load()
		if err != nil {
			return err
		}
		{
			if cur.Lineage != incoming.Lineage {
				return fmt.Errorf("%s holds another state (lineage %s), not the one in %s (lineage %s): refusing to replace one history with another", dst, cur.Lineage, source, incoming.Lineage)
			}
			a, _ := state.Encode(&state.State{Version: cur.Version, Lineage: cur.Lineage, Hosts: cur.Hosts})
			b, _ := state.Encode(&state.State{Version: incoming.Version, Lineage: incoming.Lineage, Hosts: incoming.Hosts})
			if string(a) == string(b) {
				fmt.Fprintf(stdout, "%s already holds this state (serial %d): nothing to do.\n", dst, cur.Serial)
				return nil
			}
			if cur.Serial >= incoming.Serial {
				if !force {
					return fmt.Errorf("%s is at serial %d, not older than serial %d from %s: it holds writes the incoming state lacks; pull and merge by hand, or -force", dst, cur.Serial, incoming.Serial, source)
				}
				c := *incoming
				c.Serial = cur.Serial + 1
				incoming = &c
			}
			if backupPath == "" {
				backupPath = fmt.Sprintf("sparkform.state.%d.%s.backup.json", cur.Serial, time.Now().UTC().Format("20060102T150405Z"))
			}
			out, err := state.Encode(cur)
			if err != nil {
				return err
			}
			if err := atomicfile.Write(backupPath, out, 0o600); err != nil {
				return fmt.Errorf("backing up %s: %w", dst, err)
			}
			fmt.Fprintf(stdout, "Backed up serial %d of %s to %s.\n", cur.Serial, dst, termsafe.Line(backupPath))
		}
	}
	if err := dst.Replace(incoming); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s now holds serial %d (lineage %s) from %s.\n", dst, incoming.Serial, incoming.Lineage, termsafe.Line(source))
	return nil
}

// state versions [-n N]: the backend's write history, newest first (which serial wrote what,
// when, by whom).
func runStateVersions(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("state versions", stderr)
	var sf stateFlags
	sf.register(fs, "state file (default: the one in the current directory)")
	n := fs.Int("n", 20, "how many writes to list")
	asJSON := fs.Bool("json", false, "machine-readable output")
	if _, err := parseInterleaved(fs, args); err != nil {
		return 1
	}
	b, err := openState(context.Background(), ".", sf)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer b.Close()
	v, ok := b.(state.Versioner)
	if !ok {
		return errorf(stderr, "%s keeps no write history (only its last backup); the pg backend keeps one", b)
	}
	vs, err := v.Versions(*n)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	if *asJSON {
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
