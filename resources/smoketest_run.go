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

func parseSmokeRun(out []byte) (smokeRun, error) {
	var r smokeRun
	got := 0
	for _, l := range parseProbe(out) {
		switch l.tag {
		case "status":
			r.status = strings.Join(l.args, " ")
			got++
		case "ms":
			if len(l.args) == 1 {
				// The host's clock may step back mid-run: a negative or absurd time is refused, not reported.
				ms, err := strconv.ParseUint(l.args[0], 10, 64)
				if err != nil || ms > 1<<40 {
					return r, fmt.Errorf("bad timing %q", l.args[0])
				}
				r.seconds = float64(ms) / 1000
				got++
			}
		case "via":
			r.via = strings.Join(l.args, " ")
		case "port":
			r.port = strings.Join(l.args, " ")
		case "tail":
			if len(l.args) >= 1 {
				t, err := decodeB64(strings.Join(l.args, ""))
				if err != nil {
					return r, err
				}
				r.tail = t
			}
			got++
		}
	}
	if got < 3 {
		return r, fmt.Errorf("incomplete report from the host")
	}
	return r, nil
}
