package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

// replaceFlags are the own flags of the subcommands that replace a whole state (push, migrate).
type replaceFlags struct {
	force  bool
	backup string
}

func (o *replaceFlags) declare(fs *flag.FlagSet) {
	fs.BoolVar(&o.force, "force", false, "replace even when the destination's serial is not older than the incoming one (never across lineages)")
	fs.StringVar(&o.backup, "backup", "", "where to write the replaced state (default ./sparkform.state.SERIAL.TIME.backup.json)")
}

// state pull: the current state as JSON on standard output (for a backup, or to inspect it).
func runStatePull(in *invocation, _ *noFlags) int {
	b, st, ok := in.openExisting()
	if !ok {
		return 1
	}
	defer b.Close()
	out, err := state.Encode(st)
	if err != nil {
		return errorf(in.stderr, "%v", err)
	}
	in.stdout.Write(out)
	return 0
}

// state push FILE|-: replace the current state with FILE's (same lineage, newer serial),
// backing up what it replaces.
func runStatePush(in *invocation, o *replaceFlags) int {
	pos, stdout, stderr := in.args, in.stdout, in.stderr
	if len(pos) != 1 {
		return errorf(stderr, "state push needs one file (or - for standard input)")
	}
	var r io.Reader = os.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		defer f.Close()
		r = f
	}
	raw, err := state.ReadAtMost(r, state.MaxStateBytes, "state", pos[0])
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	incoming, err := state.Decode(raw)
	if err != nil {
		return errorf(stderr, "%s is not a valid state: %v", pos[0], err)
	}
	ctx, _, stop := interruptible(stderr, true)
	defer stop()
	dst, err := openState(ctx, ".", in.state)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer dst.Close()
	release, err := dst.Lock(ctx, "state push", in.lockTimeout)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer release()
	return replaceState(dst, incoming, pos[0], o.force, o.backup, stdout, stderr)
}

// migrateFlags are state migrate's own flags.
type migrateFlags struct {
	replaceFlags
	to, path string
}

func (o *migrateFlags) declare(fs *flag.FlagSet) {
	o.replaceFlags.declare(fs)
	fs.StringVar(&o.to, "to", "", "destination backend: pg (from the local file) or local (from PostgreSQL)")
	fs.StringVar(&o.path, "state", "", "the local state file (default: the backend block's path, else ./sparkform.state.json)")
}

// state migrate -to pg|local: copy the state from the other backend, e.g. from the local file
// (-state or DIR's) into PostgreSQL, refusing another lineage and backing up what it replaces.
func runStateMigrate(in *invocation, o *migrateFlags) int {
	stdout, stderr := in.stdout, in.stderr
	var from string
	switch o.to {
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
			sf.path = o.path
		}
		b, err := openState(ctx, ".", sf)
		if err != nil {
			return nil, nil, err
		}
		release, err := b.Lock(ctx, "state migrate", in.lockTimeout)
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
	if code := replaceState(dst, st, src.String(), o.force, o.backup, stdout, stderr); code != 0 {
		return code
	}
	if o.to == "pg" {
		fmt.Fprintf(stdout, "Use it with a backend \"pg\" {} block in the configuration (or -backend pg); %s is no longer written.\n", file)
	}
	return 0
}

// replaceState stores incoming (read from source) in dst, whose lock the caller holds
// (engine.ReplaceState), and says what it did.
func replaceState(dst state.Backend, incoming *state.State, source string, force bool, backupPath string, stdout, stderr io.Writer) int {
	r, err := engine.ReplaceState(dst, incoming, source, force, backupPath)
	if r.BackedUp != "" {
		fmt.Fprintf(stdout, "Backed up serial %d of %s to %s.\n", r.OldSerial, dst, termsafe.Line(r.BackedUp))
	}
	switch {
	case err != nil:
		return errorf(stderr, "%v", err)
	case r.Unchanged:
		fmt.Fprintf(stdout, "%s already holds this state (serial %d): nothing to do.\n", dst, r.Serial)
	default:
		fmt.Fprintf(stdout, "%s now holds serial %d (lineage %s) from %s.\n", dst, r.Serial, r.Lineage, termsafe.Line(source))
	}
	return 0
}
