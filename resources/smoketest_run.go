package resources

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/provider"
)

//go:embed scripts/smoke-run.sh
var smokeRunSh string

// smokeRun is how one run of a smoke test is started.
type smokeRunOpts struct {
	argv       []string
	ready      string
	dropCaches bool
	timeout    time.Duration
	// port: "" passes none, "pick" makes the script pick a free port and append --port N,
	// a number is the port the command sets itself (health polling uses it).
	port string
	// health is the path polled on the port ("": none); healthHost the address polled.
	health, healthHost string
}

// smokeRunScript is the run script (scripts/smoke-run.sh) with its arguments: it starts argv in
// its own session, times it until the ready pattern appears in its output or the health URL
// answers 200, the process exits or the timeout passes, then stops the group and reports
// status, milliseconds, how it became ready, the port and the output's tail.
func smokeRunScript(o smokeRunOpts) string {
	drop := "0"
	if o.dropCaches {
		drop = "1"
	}
	args := []string{o.ready, drop, strconv.FormatInt(o.timeout.Milliseconds(), 10), o.port, o.health, o.healthHost, "--"}
	args = append(args, o.argv...)
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = provider.Quote(a)
	}
	return "set -- " + strings.Join(quoted, " ") + "\n" + smokeRunSh
}

// healthHost is the address to poll: the command's --host, loopback for a wildcard or none.
func healthHost(argv []string) string {
	h, ok := argValue(argv, "--host")
	switch {
	case !ok || h == "" || h == "0.0.0.0" || h == "localhost":
		return "127.0.0.1"
	case h == "::" || h == "[::]":
		return "::1"
	}
	return strings.Trim(h, "[]")
}

type smokeRun struct {
	status  string
	seconds float64
	via     string // "output" or "health": what showed the server ready
	port    string // the port the server was given ("" when none)
	tail    string
}

// parseSmokeRun reads what smoke-run.sh printed. It is host output: each line is checked for the
// shape the script gives it, and a report missing a line, repeating one or holding one the script
// cannot print is refused as a whole (a repeated "status ready" once stood in for a missing load
// time and read as a 0 s load).
func parseSmokeRun(out []byte) (smokeRun, error) {
	var r smokeRun
	seen := map[string]bool{}
	for _, l := range parseProbe(out) {
		switch l.tag {
		case "status", "ms", "via", "port", "tail":
		default:
			continue
		}
		if seen[l.tag] {
			return smokeRun{}, fmt.Errorf("bad report from the host: %q given twice", l.tag)
		}
		seen[l.tag] = true
		arg := strings.Join(l.args, " ")
		switch l.tag {
		case "status":
			if !smokeStatusOK(arg) {
				return smokeRun{}, fmt.Errorf("bad report from the host: status %q", arg)
			}
			r.status = arg
		case "ms":
			// The host's clock may step back mid-run: a negative or absurd time is refused, not reported.
			ms, err := strconv.ParseUint(arg, 10, 64)
			if err != nil || ms > 1<<40 {
				return smokeRun{}, fmt.Errorf("bad timing %q", arg)
			}
			r.seconds = float64(ms) / 1000
		case "via":
			if arg != "" && arg != "output" && arg != "health" {
				return smokeRun{}, fmt.Errorf("bad report from the host: via %q", arg)
			}
			r.via = arg
		case "port":
			// the port given (as the command wrote it: Atoi's form) or picked; "" when none
			if _, err := strconv.ParseUint(strings.TrimPrefix(arg, "+"), 10, 16); arg != "" && err != nil {
				return smokeRun{}, fmt.Errorf("bad report from the host: port %q", arg)
			}
			r.port = arg
		case "tail":
			t, err := decodeB64(arg)
			if err != nil {
				return smokeRun{}, fmt.Errorf("bad report from the host: tail: %v", err)
			}
			r.tail = t
		}
	}
	for _, tag := range []string{"status", "ms", "tail"} {
		if !seen[tag] {
			return smokeRun{}, fmt.Errorf("incomplete report from the host: no %s", tag)
		}
	}
	if (r.status == "ready") != (r.via != "") {
		return smokeRun{}, fmt.Errorf("bad report from the host: status %q via %q", r.status, r.via)
	}
	return r, nil
}

// smokeStatusOK: the statuses smoke-run.sh prints: ready, timeout, or exited-N with N the exit
// status the shell gives (0-255, more for a signal in some shells: at most 3 digits).
func smokeStatusOK(s string) bool {
	if s == "ready" || s == "timeout" {
		return true
	}
	n, ok := strings.CutPrefix(s, "exited-")
	if !ok || n == "" || len(n) > 3 || (len(n) > 1 && n[0] == '0') {
		return false
	}
	return strings.Trim(n, "0123456789") == ""
}
