package resources

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// ScriptApply is a change made by one POSIX sh fragment.
type ScriptApply struct {
	// Script runs as root (through sudo when the host asks for it) with stdin from /dev/null, in a
	// subshell of its own; its stdout and stderr are only read when it fails (for the message).
	// Files are written by the fragment itself: a temp file beside the target, then renamed over.
	// A fragment that fails before changing anything exits ExitUnchanged.
	Script string
	Done   Prior // what state remembers when the fragment exits 0
	Failed Prior // what it remembers otherwise (originals are never lost)
}

// ExitUnchanged is the status of a fragment that failed before it changed anything on the host
// (its first write or removal failed): state keeps the step's record as it was, so the host is
// not taken as changed since its last generation. Any other non-zero status may mean a change
// made in part, and Failed is recorded.
const ExitUnchanged = 99

// failExit is the exit a fragment's mutation makes when it fails: ExitUnchanged when it is the
// fragment's first (nothing was changed before it), 1 otherwise.
func failExit(first bool) string {
	if first {
		return fmt.Sprint(ExitUnchanged)
	}
	return "1"
}

// ScriptApplier is implemented by types whose change is one shell fragment with no round trip of
// its own to wait for (sysctl, readahead). The engine runs the fragments of a host's consecutive
// such changes in one exec, in order, stopping at the first that fails, instead of calling Apply
// for each: a host's small changes cost one round trip, as its plan does. Apply of such a type
// must do the same as running the fragment alone (runScriptApply).
type ScriptApplier interface {
	ApplyScript(in Instance, observed cty.Value, d Diff) (ScriptApply, error)
}

// runScriptApply runs one change's fragment on its own, in one exec: Apply of a ScriptApplier.
func runScriptApply(ctx context.Context, h provider.Host, in Instance, sa ScriptApply) (Prior, error) {
	res, err := h.Run(ctx, "(\n"+sa.Script+"\n) 2>&1\n")
	if err != nil {
		return sa.Failed, fmt.Errorf("%s: %w", in.Addr(), err)
	}
	if res.ExitCode == ExitUnchanged {
		return Prior{}, ScriptFailure(in, res.ExitCode, res.Stdout)
	}
	if res.ExitCode != 0 {
		return sa.Failed, ScriptFailure(in, res.ExitCode, res.Stdout)
	}
	return sa.Done, nil
}

// ScriptFailure is the error of a fragment that exited with status: its last output lines, and
// that nothing changed when the status is ExitUnchanged.
func ScriptFailure(in Instance, status int, out []byte) error {
	msg := strings.TrimSpace(string(out))
	if lines := strings.Split(msg, "\n"); len(lines) > 5 {
		msg = strings.Join(lines[len(lines)-5:], "\n")
	}
	if msg == "" {
		msg = "no output"
	}
	if status == ExitUnchanged {
		return fmt.Errorf("%s: failed before changing anything: %s", in.Addr(), msg)
	}
	return fmt.Errorf("%s: failed (exit %d): %s", in.Addr(), status, msg)
}

// writeFileScript is a fragment line writing content to p (0644, owned by the user the script
// runs as: root) atomically with builtins, then sync and mv: a temp file beside p (created
// exclusively), flushed, renamed over p. On failure the temp file is removed and the fragment
// exits (failExit(first): p is as it was).
func writeFileScript(p, content string, first bool) string {
	dir, base := path.Split(p)
	var r [8]byte
	_, _ = rand.Read(r[:])
	t := provider.Quote(dir + "." + base + ".sparkform-" + hex.EncodeToString(r[:]))
	q := provider.Quote(p)
	return fmt.Sprintf("umask 022; set -C\nif printf '%%s' %s > %s && sync -- %s && mv -f -- %s %s; then set +C; else rm -f -- %s; echo 'writing '%s' failed'; exit %s; fi\n",
		provider.Quote(content), t, t, t, q, t, q, failExit(first))
}

// removeFileScript is a fragment line removing p (absent is fine); exits (failExit(first)) if it
// cannot.
func removeFileScript(p string, first bool) string {
	q := provider.Quote(p)
	return fmt.Sprintf("rm -f -- %s || { echo 'removing '%s' failed'; exit %s; }\n", q, q, failExit(first))
}

// writeValuesScript writes each value (plus a newline) to its file with the printf builtin, as
// `sysctl -w` and `echo N > /sys/...` do; every failure is named and the fragment exits at the end:
// ExitUnchanged when these are its first mutations and none succeeded, 1 otherwise.
func writeValuesScript(what string, values map[string]string, file func(key string) string, first bool) string {
	if len(values) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("rc=0 ch=0\n")
	for _, k := range slices.Sorted(maps.Keys(values)) {
		fmt.Fprintf(&b, "if printf '%%s\\n' %s > %s; then ch=1; else echo %s; rc=1; fi\n", provider.Quote(values[k]), provider.Quote(file(k)),
			provider.Quote(fmt.Sprintf("setting %s %s = %s failed", what, k, values[k])))
	}
	if first {
		fmt.Fprintf(&b, "[ $rc = 0 ] || { [ $ch = 1 ] && exit 1; exit %d; }\n", ExitUnchanged)
	} else {
		b.WriteString("[ $rc = 0 ] || exit 1\n")
	}
	return b.String()
}
