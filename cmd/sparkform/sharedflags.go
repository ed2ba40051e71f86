package main

// The flags several commands take, declared once (one name, one help text), and the parsing
// every command starts with.

import (
	"flag"
	"io"

	"github.com/sparkform/sparkform/provider"
)

// sharedFlag is one flag (or pair) several commands take; runFlags.declare adds them.
type sharedFlag uint

const (
	flagVars           sharedFlag = 1 << iota // -var, -var-file
	flagState                                 // -state, -backend
	flagHostNames                             // -host: exact names, for commands that read the state
	flagJSON                                  // -json
	flagNoColor                               // -no-color
	flagConnectTimeout                        // -connect-timeout
	flagLockTimeout                           // -lock-timeout
	flagAutoApprove                           // -auto-approve
)

// declare adds the shared flags of which to fs, bound to f.
func (f *runFlags) declare(fs *flag.FlagSet, which sharedFlag) {
	if which&flagVars != 0 {
		fs.Var(&f.vars, "var", "set a variable: -var 'name=value' (repeatable)")
		fs.Var(&f.varFiles, "var-file", "load variable values from an HCL file (repeatable)")
	}
	if which&flagState != 0 {
		f.state.register(fs)
	}
	if which&flagHostNames != 0 {
		fs.Var(&f.hosts, "host", "only this host (repeatable)")
	}
	if which&flagJSON != 0 {
		fs.BoolVar(&f.json, "json", false, "machine-readable output")
	}
	if which&flagNoColor != 0 {
		fs.BoolVar(&f.noColor, "no-color", false, "no colour in output (also: NO_COLOR set, or output not a terminal)")
	}
	if which&flagConnectTimeout != 0 {
		durationVar(fs, &f.connectTimeout, "connect-timeout", provider.DefaultTimeouts.Connect, "SSH connect and handshake timeout per host")
	}
	if which&flagLockTimeout != 0 {
		durationVar(fs, &f.lockTimeout, "lock-timeout", 0, "how long to wait for the state lock")
	}
	if which&flagAutoApprove != 0 {
		fs.BoolVar(&f.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	}
}

// parse makes the flag set of command name with the shared flags of which (bound to f) and
// the command's own (own declares them), and parses args, flags and positional arguments
// interleaved. On a bad flag or -h it prints why (or the help) and ok is false.
func (f *runFlags) parse(name string, args []string, stderr io.Writer, which sharedFlag, own func(fs *flag.FlagSet)) (pos []string, ok bool) {
	fs := newFlagSet(name, stderr)
	f.declare(fs, which)
	own(fs)
	pos, err := parseInterleaved(fs, args)
	return pos, err == nil
}

// argKind says which positional arguments a command takes.
type argKind int

const (
	dirArg  argKind = iota // at most one, DIR ("." when none is given)
	oneArg                 // at most one ("" when none is given)
	anyArgs                // any number: the command checks them
)

// invocation is a command's parsed command line: the shared flags, its positional arguments
// (arg: the one of a dirArg or oneArg command) and where its output goes.
type invocation struct {
	runFlags
	arg            string
	args           []string
	stdout, stderr io.Writer
}

// ownFlags are a command's own flags: declare adds them to its flag set before parsing.
type ownFlags interface{ declare(fs *flag.FlagSet) }

// noFlags are the own flags of a command that has none.
type noFlags struct{}

func (*noFlags) declare(*flag.FlagSet) {}

// newCommand makes a command (see cmdInfo.make): it parses the shared flags of which, its own
// flags (a new O) and its positional arguments (kind), saying why when they do not parse, and
// calls run.
func newCommand[O any, P interface {
	*O
	ownFlags
}](which sharedFlag, kind argKind, run func(in *invocation, own P) int) func(name string) command {
	return func(name string) command {
		return func(args []string, stdout, stderr io.Writer) int {
			in, own := &invocation{stdout: stdout, stderr: stderr}, P(new(O))
			var ok bool
			if in.args, ok = in.parse(name, args, stderr, which, own.declare); !ok {
				return 1
			}
			// With -json every error from here on is a diagnostic in the stream too.
			in.startJSON(stdout, name)
			if kind != anyArgs {
				arg, err := atMostOne(name, in.args)
				if err != nil {
					return in.fail(stderr, "%v", err)
				}
				if in.arg = arg; arg == "" && kind == dirArg {
					in.arg = "."
				}
			}
			return run(in, own)
		}
	}
}

// newHostCommand makes a command that works on hosts: startHostCommand with the shared flags
// of which besides the run flags, its own flags (a new O), run, then close.
func newHostCommand[O any, P interface {
	*O
	ownFlags
}](readOnly bool, which sharedFlag, run func(c *hostCommand, own P) int) func(name string) command {
	return func(name string) command {
		return func(args []string, stdout, stderr io.Writer) int {
			own := P(new(O))
			c, ok := startHostCommand(name, args, stdout, stderr, readOnly, which, own.declare)
			if !ok {
				return 1
			}
			defer c.close()
			return run(c, own)
		}
	}
}

// plainCommand makes a command of a function that reads its arguments itself.
func plainCommand(run command) func(name string) command {
	return func(string) command { return run }
}
