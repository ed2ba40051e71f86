package resources

import "github.com/zclconf/go-cty/cty"

// fact is one thing sparkform reads from a host, defined once (as pyinfra pairs a fact's
// command() with its process()): command is the sh fragment that prints it as tagged lines
// (only reads; shell builtins where they do), and parse reads those lines back, ignoring every
// other line, so the fragments of many facts share one probe and one round trip. Probe,
// CaptureProbe and the re-reads after an apply are built from facts, never written again.
// Each parser is tested against output recorded on hosts: testdata/facts/NAME/*.json holds
// the arguments, the output and the value expected (fact_test.go).
type fact[T any] struct {
	name    string
	command func(args ...string) string
	parse   func(lines []probeLine, args ...string) (T, error)
}

// fileFact reads one file: args are the tag that keeps it apart from other files in the same
// probe, and its path. Null when the file is absent.
var fileFact = fact[cty.Value]{
	name:    "file",
	command: func(args ...string) string { return probeFile(args[0], args[1]) },
	parse:   func(lines []probeLine, args ...string) (cty.Value, error) { return fileFromProbe(lines, args[0]) },
}
