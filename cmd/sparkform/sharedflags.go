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
}

// parse makes the flag set of command name with the shared flags of which (bound to f) and
// the command's own (own declares them; nil: none), and parses args, flags and positional
// arguments interleaved. On a bad flag or -h it prints why (or the help) and ok is false.
func (f *runFlags) parse(name string, args []string, stderr io.Writer, which sharedFlag, own func(fs *flag.FlagSet)) (pos []string, ok bool) {
	fs := newFlagSet(name, stderr)
	f.declare(fs, which)
	if own != nil {
		own(fs)
	}
	pos, err := parseInterleaved(fs, args)
	return pos, err == nil
}

// parseOne is parse for a command that takes at most one positional argument ("" when none).
func (f *runFlags) parseOne(name string, args []string, stderr io.Writer, which sharedFlag, own func(fs *flag.FlagSet)) (string, bool) {
	pos, ok := f.parse(name, args, stderr, which, own)
	if !ok {
		return "", false
	}
	arg, err := atMostOne(name, pos)
	if err != nil {
		errorf(stderr, "%v", err)
		return "", false
	}
	return arg, true
}

// parseDir is parseOne for a command whose argument is DIR (default ".").
func (f *runFlags) parseDir(name string, args []string, stderr io.Writer, which sharedFlag, own func(fs *flag.FlagSet)) (string, bool) {
	dir, ok := f.parseOne(name, args, stderr, which, own)
	if dir == "" {
		dir = "."
	}
	return dir, ok
}
