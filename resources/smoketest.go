package resources

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// smokeTest times a model load on each host: it starts the command (llama-server -m MODEL, or
// vllm serve MODEL from a venv), waits until its output matches the ready pattern or its
// /health answers 200, and stops the whole process group. It runs after a host's changes and on
// demand (`sparkform test`); it changes nothing. The servers it knows are in smoketest_servers.go,
// the run script in smoketest_run.go.
type smokeTest struct{}

func init() { Register(smokeTest{}) }

func (smokeTest) Type() string { return "smoke_test" }

func (smokeTest) Spec() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"command":        &hcldec.AttrSpec{Name: "command", Type: cty.String, Required: true},
		"ready":          &hcldec.AttrSpec{Name: "ready", Type: cty.String},
		"modes":          &hcldec.AttrSpec{Name: "modes", Type: cty.List(cty.String)},
		"drop_caches":    &hcldec.AttrSpec{Name: "drop_caches", Type: cty.Bool},
		"repeat":         &hcldec.AttrSpec{Name: "repeat", Type: cty.Number},
		"timeout":        &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
		"max_seconds":    &hcldec.AttrSpec{Name: "max_seconds", Type: cty.DynamicPseudoType},
		"max_regression": &hcldec.AttrSpec{Name: "max_regression", Type: cty.String},
		"on_failure":     &hcldec.AttrSpec{Name: "on_failure", Type: cty.String},
		"health":         &hcldec.AttrSpec{Name: "health", Type: cty.String},
		"server":         &hcldec.AttrSpec{Name: "server", Type: cty.String},
		"min_delta":      &hcldec.AttrSpec{Name: "min_delta", Type: cty.String},
		"baseline":       &hcldec.AttrSpec{Name: "baseline", Type: cty.Bool},
	}
}

// smokeSpec is a validated, defaulted smoke_test body.
type smokeSpec struct {
	server        *smokeServer
	argv          []string
	ready         string
	modes         []string
	dropCaches    bool
	repeat        int
	timeout       time.Duration
	maxSeconds    map[string]float64 // mode → limit; "*" for every mode
	maxRegression float64            // fraction, e.g. 0.2; 0: none
	// minDelta is the noise floor: a result slower than the baseline by less is never a regression.
	minDelta  time.Duration
	onFailure string
	// health is the path polled on the server's port as a second readiness signal ("": none).
	health string
	// port is the port the command sets itself ("": none, sparkform picks one).
	port string
}

// defaultHealthPath is what llama-server and vLLM answer 200 on once the model is loaded.
const defaultHealthPath = "/health"

var healthPathRe = regexp.MustCompile(`^/[A-Za-z0-9._~/-]*$`)

// argValue finds a flag's value in argv, written "--flag V" or "--flag=V".
func argValue(argv []string, flag string) (string, bool) {
	for i, a := range argv {
		if a == flag && i+1 < len(argv) {
			return argv[i+1], true
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Characters a smoke command never needs: it is a program and its arguments, not a script.
const smokeForbidden = ";&|$`<>(){}\\\"'*?!~#\n\r\t"

func parseSmoke(v cty.Value) (smokeSpec, []AttrError) {
	var s smokeSpec
	var errs []AttrError
	cmd := v.GetAttr("command")
	if cmd.IsNull() || strings.TrimSpace(cmd.AsString()) == "" {
		errs = append(errs, AttrError{Attr: "command", Msg: "command is empty"})
	} else if i := strings.IndexAny(cmd.AsString(), smokeForbidden); i >= 0 {
		errs = append(errs, AttrError{Attr: "command", Msg: fmt.Sprintf("command has %q: it is a program and its arguments separated by spaces, run without a shell, so quotes, pipes, variables and redirections are not allowed", cmd.AsString()[i])})
	} else if HasControl(cmd.AsString()) {
		errs = append(errs, AttrError{Attr: "command", Msg: "command has a control character"})
	} else if s.argv = strings.Fields(cmd.AsString()); strings.HasPrefix(s.argv[0], "-") {
		errs = append(errs, AttrError{Attr: "command", Msg: fmt.Sprintf("the program %q starts with '-': give its name or absolute path", s.argv[0])})
	}
	if p, ok := argValue(s.argv, "--port"); ok {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			errs = append(errs, AttrError{Attr: "command", Msg: fmt.Sprintf("--port %q is not a port number; leave --port out and sparkform picks a free one on each host", p)})
		} else {
			s.port = p
		}
	}
	s.health = defaultHealthPath
	if hp := attr(v, "health", cty.String); !hp.IsNull() {
		s.health = hp.AsString()
		if s.health != "" && !healthPathRe.MatchString(s.health) {
			errs = append(errs, AttrError{Attr: "health", Msg: fmt.Sprintf("health is a URL path such as \"/health\" (or \"\" to poll nothing), not %q", s.health)})
		}
	}
	server := ""
	if sv := attr(v, "server", cty.String); !sv.IsNull() {
		server = sv.AsString()
	}
	srv, err := smokeServerFor(server, s.argv)
	if err != nil {
		errs = append(errs, AttrError{Attr: "server", Msg: err.Error()})
		srv = smokeServers["llama.cpp"]
	}
	s.server = srv
	if srv.words == 2 && len(s.argv) > 0 && (len(s.argv) < 2 || s.argv[1] != "serve") {
		errs = append(errs, AttrError{Attr: "command", Msg: fmt.Sprintf("a vLLM smoke test runs `vllm serve MODEL ...`, not %q", strings.Join(s.argv, " "))})
	}
	if srv.name == "vllm" {
		for _, f := range srv.ownFlags {
			if _, ok := argValue(s.argv, f); ok {
				errs = append(errs, AttrError{Attr: "command", Msg: fmt.Sprintf("the command sets %s, which the modes set: leave it out and list the modes (%s)", f, srv.modeList())})
			}
		}
	}
	s.ready = srv.ready
	if r := v.GetAttr("ready"); !r.IsNull() {
		s.ready = r.AsString()
		if HasControl(s.ready) {
			errs = append(errs, AttrError{Attr: "ready", Msg: "ready is one line, without control characters"})
		} else if _, err := regexp.Compile(s.ready); err != nil {
			errs = append(errs, AttrError{Attr: "ready", Msg: "ready is not a regular expression: " + err.Error()})
		}
	}
	s.modes = []string{"default"}
	if m := v.GetAttr("modes"); !m.IsNull() {
		s.modes = nil
		for it := m.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() || !srv.hasMode(e.AsString()) {
				errs = append(errs, AttrError{Attr: "modes", Msg: fmt.Sprintf("%s modes are %s", srv.name, srv.modeList())})
				continue
			}
			s.modes = append(s.modes, e.AsString())
		}
		if len(s.modes) == 0 && len(errs) == 0 {
			errs = append(errs, AttrError{Attr: "modes", Msg: "give at least one mode"})
		}
	}
	s.dropCaches = true
	if d := v.GetAttr("drop_caches"); !d.IsNull() {
		s.dropCaches = d.True()
	}
	s.repeat = 1
	if r := v.GetAttr("repeat"); !r.IsNull() {
		n, acc := r.AsBigFloat().Int64()
		if acc != big.Exact || n < 1 || n > 50 {
			errs = append(errs, AttrError{Attr: "repeat", Msg: "repeat is a whole number from 1 to 50"})
		}
		s.repeat = int(n)
	}
	s.timeout = 5 * time.Minute
	if t := v.GetAttr("timeout"); !t.IsNull() {
		d, err := ParseDuration(t.AsString(), minDuration, MaxDuration)
		if err != nil {
			errs = append(errs, AttrError{Attr: "timeout", Msg: err.Error()})
		}
		s.timeout = d
	}
	s.maxSeconds = map[string]float64{}
	if m := v.GetAttr("max_seconds"); !m.IsNull() {
		switch {
		case m.Type() == cty.Number:
			f, _ := m.AsBigFloat().Float64()
			if !finiteIn(f, 0, MaxDuration.Seconds()) || f == 0 {
				errs = append(errs, AttrError{Attr: "max_seconds", Msg: fmt.Sprintf("max_seconds is a number of seconds above 0 and at most %g, got %s", MaxDuration.Seconds(), m.AsBigFloat().Text('g', 10))})
			}
			s.maxSeconds["*"] = f
		case m.Type().IsObjectType() || m.Type().IsMapType():
			for it := m.ElementIterator(); it.Next(); {
				k, e := it.Element()
				if e.IsNull() || e.Type() != cty.Number || !srv.hasMode(k.AsString()) {
					errs = append(errs, AttrError{Attr: "max_seconds", Msg: fmt.Sprintf("max_seconds maps %s modes (%s) to seconds", srv.name, srv.modeList())})
					continue
				}
				f, _ := e.AsBigFloat().Float64()
				if !finiteIn(f, 0, MaxDuration.Seconds()) || f == 0 {
					errs = append(errs, AttrError{Attr: "max_seconds", Msg: fmt.Sprintf("max_seconds[%q] is a number of seconds above 0 and at most %g, got %s", k.AsString(), MaxDuration.Seconds(), e.AsBigFloat().Text('g', 10))})
				}
				s.maxSeconds[k.AsString()] = f
			}
		default:
			errs = append(errs, AttrError{Attr: "max_seconds", Msg: "max_seconds is a number of seconds or a map of mode to seconds"})
		}
	}
	if r := v.GetAttr("max_regression"); !r.IsNull() {
		p := strings.TrimSuffix(strings.TrimSpace(r.AsString()), "%")
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !strings.HasSuffix(r.AsString(), "%") {
			errs = append(errs, AttrError{Attr: "max_regression", Msg: "max_regression is a percentage such as \"20%\""})
		} else if !finiteIn(f, 0, 1000) || f == 0 {
			// NaN or Inf would turn the check off without a word; 0% would too (0 means none).
			errs = append(errs, AttrError{Attr: "max_regression", Msg: fmt.Sprintf("max_regression %q is out of range: give a percentage above 0%% and at most 1000%%, or leave it out for no regression check", r.AsString())})
		}
		s.maxRegression = f / 100
	}
	s.minDelta = defaultMinDelta
	if d := attr(v, "min_delta", cty.String); !d.IsNull() {
		md, err := ParseDuration(d.AsString(), 0, MaxDuration)
		if err != nil {
			errs = append(errs, AttrError{Attr: "min_delta", Msg: err.Error()})
		}
		s.minDelta = md
	}
	s.onFailure = "fail"
	if o := v.GetAttr("on_failure"); !o.IsNull() {
		s.onFailure = o.AsString()
		if s.onFailure != "fail" && s.onFailure != "rollback" {
			errs = append(errs, AttrError{Attr: "on_failure", Msg: "on_failure is \"fail\" or \"rollback\""})
		}
	}
	return s, errs
}

func (smokeTest) Validate(desired cty.Value) []AttrError {
	_, errs := parseSmoke(desired)
	return errs
}

// Probe checks what can be checked before the apply: that a vLLM test's venv imports
// fastsafetensors when a mode needs it. The program itself may be built or installed by
// another block of the same apply, so its absence is not an error here; the test reports it.
func (smokeTest) Probe(in Instance) string {
	if in.Destroying() {
		return ":" // a test leaves nothing to remove (only a hand-edited state holds one)
	}
	s, errs := parseSmoke(in.Desired)
	if len(errs) > 0 || !s.needsFastsafetensors() {
		return ":"
	}
	return trustLib + fstCheckSh + "fst_check " + provider.Quote(s.argv[0]) + "\n"
}

// needsFastsafetensors: a mode loads through the fastsafetensors library.
func (s smokeSpec) needsFastsafetensors() bool {
	for _, m := range s.modes {
		if m == "fastsafetensors" {
			return true
		}
	}
	return false
}

func (smokeTest) Read(in Instance, out []byte) (cty.Value, error) {
	st := parseFstCheck(string(out))
	return cty.ObjectVal(map[string]cty.Value{"fastsafetensors": cty.StringVal(st.state), "detail": cty.StringVal(st.detail)}), nil
}

// Diff changes nothing; it fails the plan of a host whose venv exists but cannot import
// fastsafetensors for a fastsafetensors mode.
func (smokeTest) Diff(in Instance, observed cty.Value) (Diff, error) {
	if in.Destroying() || observed == cty.NilVal || observed.IsNull() || !observed.Type().IsObjectType() || !observed.Type().HasAttribute("fastsafetensors") {
		return Diff{Action: NoOp}, nil
	}
	if strAttr(observed, "fastsafetensors", "") == "error" {
		s, _ := parseSmoke(in.Desired)
		return Diff{}, fmt.Errorf("mode fastsafetensors: the venv of %s cannot import fastsafetensors (%s); add fastsafetensors to its python_venv packages",
			s.argv[0], strAttr(observed, "detail", ""))
	}
	return Diff{Action: NoOp}, nil
}

// Apply has nothing to change: a smoke test only ever reads.
func (smokeTest) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	return in.Prior, nil
}

// BaselineBeforeChanges: true unless baseline = false.
func (smokeTest) BaselineBeforeChanges(desired cty.Value) bool {
	b := attr(desired, "baseline", cty.Bool)
	return b.IsNull() || !b.IsKnown() || b.True()
}

func (smokeTest) RollbackOnFailure(desired cty.Value) bool {
	s, _ := parseSmoke(desired)
	return s.onFailure == "rollback"
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func (smokeTest) Test(ctx context.Context, h provider.Host, in Instance, tc TestContext, log func(string)) ([]TestOutcome, error) {
	s, errs := parseSmoke(in.Desired)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	mark := "sparkform-" + randomToken()
	res, err := h.Run(ctx, smokeProbeScript(s.server, s.argv, s.needsFastsafetensors(), mark))
	if err != nil {
		return nil, err
	}
	switch res.ExitCode {
	case 127:
		return nil, fmt.Errorf("%s: command not found on %s: %s (is the block that builds it applied to this host?)", in.Addr(), h.Name(), s.argv[0])
	case 126:
		prog, why, _ := strings.Cut(string(res.Stderr), "\t")
		return nil, fmt.Errorf("%s on %s: %w", in.Addr(), h.Name(), untrustedError(prog, why))
	case 125:
		model, why, _ := strings.Cut(string(res.Stderr), "\t")
		return nil, fmt.Errorf("%s on %s: untrusted: not loading the model %s: %s (the server runs as root and parses it, and with --trust-remote-code runs its Python: only root or the login user may be able to write the model, everything in it and every directory above it)",
			in.Addr(), h.Name(), model, strings.TrimSpace(why))
	}
	facts := parseSmokeProbe(s.server, string(res.Stdout), mark)
	help := facts.help
	if facts.build != "" {
		log(fmt.Sprintf("%s %s", s.server.name, facts.build))
	}
	var outcomes []TestOutcome
	for _, mode := range s.modes {
		o := TestOutcome{Mode: mode, Passed: true, Server: s.server.name, Build: facts.build}
		if mode == "fastsafetensors" && facts.fst.state == "error" {
			o.Passed, o.Message = false, fmt.Sprintf("%s on %s, mode %s: the venv of %s cannot import fastsafetensors: %s", in.Addr(), h.Name(), mode, s.argv[0], facts.fst.detail)
			outcomes = append(outcomes, o)
			continue
		}
		flags, err := s.server.flags(mode, help)
		if err != nil {
			o.Passed, o.Message = false, fmt.Sprintf("%s on %s, mode %s: %v", in.Addr(), h.Name(), mode, err)
			outcomes = append(outcomes, o)
			continue
		}
		argv := append(append([]string{}, s.argv...), flags...)
		ro := smokeRunOpts{argv: argv, ready: s.ready, dropCaches: s.dropCaches, timeout: s.timeout, port: s.port, health: s.health, healthHost: healthHost(argv)}
		switch {
		case s.port == "" && strings.Contains(help, "--port"):
			// A production server may hold the default port: give the test a port of its own.
			ro.port = "pick"
		case s.port == "0":
			ro.port, ro.health = "", "" // the server picks; nothing to poll
		}
		if strings.Contains(ro.healthHost, "/") {
			ro.health = "" // a unix socket
		}
		for i := 0; i < s.repeat; i++ {
			shown := strings.Join(argv, " ")
			if ro.port == "pick" {
				shown += " --port (a free port)"
			}
			log(fmt.Sprintf("%s: run %d/%d: %s", mode, i+1, s.repeat, shown))
			rctx, cancel := context.WithTimeout(ctx, s.timeout+time.Minute)
			res, err := h.Run(rctx, smokeRunScript(ro))
			cancel()
			if err != nil {
				return nil, err
			}
			run, err := parseSmokeRun(res.Stdout)
			if err != nil {
				return nil, fmt.Errorf("%s: %v (exit %d): %s", in.Addr(), err, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
			}
			if run.status != "ready" {
				why := "did not become ready within " + english.Setting(s.timeout)
				if strings.HasPrefix(run.status, "exited-") {
					why = "exited with status " + strings.TrimPrefix(run.status, "exited-") + " before it was ready"
				}
				o.Passed = false
				o.Message = fmt.Sprintf("%s on %s, mode %s: the server %s; last output:\n%s", in.Addr(), h.Name(), mode, why, indent(run.tail))
				break
			}
			o.Runs = append(o.Runs, run.seconds)
			how := "its output matched ready"
			if run.via == "health" {
				how = "GET " + s.health + " answered 200"
			}
			log(fmt.Sprintf("%s: ready after %s on port %s (%s)", mode, english.Seconds(run.seconds), orNone(run.port), how))
			if i == s.repeat-1 {
				o.Message = run.tail // kept only if a threshold fails below
			}
		}
		o.Seconds, _ = Median(o.Runs)
		if o.Passed {
			tail := o.Message
			o.Message = ""
			limit, ok := s.maxSeconds[mode]
			if !ok {
				limit, ok = s.maxSeconds["*"]
			}
			if ok {
				o.MaxSeconds = limit
			}
			if ok && o.Seconds > limit {
				o.Passed = false
				o.Message = fmt.Sprintf("%s on %s, mode %s: load took %s, over max_seconds %g; last output:\n%s", in.Addr(), h.Name(), mode, english.Seconds(o.Seconds), limit, indent(tail))
			} else if base, ok := tc.baseline(mode); ok && s.regressed(o.Seconds, base) {
				o.Passed = false
				o.Message = fmt.Sprintf("%s on %s, mode %s: load took %s, %s (%.0f%%) slower than %s, the median of the last %d passing results on %s (max_regression %g%%, min_delta %s); last output:\n%s",
					in.Addr(), h.Name(), mode, english.Seconds(o.Seconds), english.Seconds(o.Seconds-base.Seconds), (o.Seconds/base.Seconds-1)*100, english.Seconds(base.Seconds), base.N, base.Kernel,
					math.Round(s.maxRegression*100), english.Setting(s.minDelta), indent(tail))
			}
		}
		outcomes = append(outcomes, o)
	}
	return outcomes, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (tc TestContext) baseline(mode string) (Baseline, bool) {
	if tc.Baseline == nil {
		return Baseline{}, false
	}
	return tc.Baseline(mode)
}

// defaultMinDelta is the noise floor without min_delta: a second is within a cold load's noise
// on a Spark (tens of seconds), and far above the lab's stand-in loads.
const defaultMinDelta = time.Second

// regressed: a result is a regression when it is slower than the baseline by more than
// max_regression of it AND by more than min_delta; without max_regression nothing is.
func (s smokeSpec) regressed(seconds float64, base Baseline) bool {
	if s.maxRegression <= 0 || base.N == 0 {
		return false
	}
	d := seconds - base.Seconds
	return d > s.maxRegression*base.Seconds && d > s.minDelta.Seconds()
}
