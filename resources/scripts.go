package resources

import "github.com/sparkform/sparkform/provider"

// Shell and Python that run on hosts live in scripts/ as files (embedded with //go:embed), not
// in Go strings: shellcheck reads the shell ones (.ci/run), and values never become script text.

// shellArgs sets the positional parameters of the script that follows to args, each quoted:
// how a script file gets its values ("$1", "$2", ...).
func shellArgs(args ...string) string {
	return "set -- " + provider.QuoteAll(args...) + "\n"
}

// shellArgsBefore puts args, each quoted, before the positional parameters the script that
// follows already has: how a script gets its values and keeps what an earlier one left there.
func shellArgsBefore(args ...string) string {
	return "set -- " + provider.QuoteAll(args...) + " \"$@\"\n"
}
