package resources

import (
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

func TestSmokeValidateRejectsShellInTheCommand(t *testing.T) {
	body := func(cmd string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"command": cty.StringVal(cmd), "ready": cty.NullVal(cty.String), "modes": cty.NullVal(cty.List(cty.String)),
			"drop_caches": cty.NullVal(cty.Bool), "repeat": cty.NullVal(cty.Number), "timeout": cty.NullVal(cty.String),
			"max_seconds": cty.NullVal(cty.DynamicPseudoType), "max_regression": cty.NullVal(cty.String), "on_failure": cty.NullVal(cty.String),
			"health": cty.NullVal(cty.String),
		})
	}
	for _, bad := range []string{"llama-server; rm -rf /", "llama-server $(id)", "a | b", "x > /etc/passwd", "a\nb", ""} {
		if errs := (smokeTest{}).Validate(body(bad)); len(errs) == 0 || errs[0].Attr != "command" {
			t.Errorf("%q accepted", bad)
		}
	}
	if errs := (smokeTest{}).Validate(body("/opt/llama/current/bin/llama-server -m /models/m.gguf -ngl 999")); len(errs) != 0 {
		t.Errorf("plain command rejected: %v", errs)
	}
}

func TestSmokeServerComesFromTheProgramOrTheServerAttribute(t *testing.T) {
	body := func(cmd, server string, modes ...string) cty.Value {
		m := cty.NullVal(cty.List(cty.String))
		if len(modes) > 0 {
			m = stringListVal(modes)
		}
		sv := cty.NullVal(cty.String)
		if server != "" {
			sv = cty.StringVal(server)
		}
		return cty.ObjectVal(map[string]cty.Value{"command": cty.StringVal(cmd), "modes": m, "server": sv,
			"ready": cty.NullVal(cty.String), "drop_caches": cty.NullVal(cty.Bool), "repeat": cty.NullVal(cty.Number),
			"timeout": cty.NullVal(cty.String), "max_seconds": cty.NullVal(cty.DynamicPseudoType),
			"max_regression": cty.NullVal(cty.String), "on_failure": cty.NullVal(cty.String), "health": cty.NullVal(cty.String)})
	}
	s, errs := parseSmoke(body("/opt/vllm/bin/vllm serve /models/q", "", "default", "eager", "fastsafetensors"))
	if len(errs) != 0 || s.server.name != "vllm" || s.ready != vllmReadyPattern || !s.needsFastsafetensors() {
		t.Errorf("vllm by its program name: %v %+v", errs, s)
	}
	if s, errs := parseSmoke(body("/opt/llama/bin/llama-server -m /m.gguf", "")); len(errs) != 0 || s.server.name != "llama.cpp" || s.ready != defaultReadyPattern {
		t.Errorf("llama-server: %v %+v", errs, s)
	}
	for _, c := range []struct {
		name, cmd, server string
		modes             []string
		attr, msg         string
	}{
		{"llama.cpp has no eager mode", "/opt/llama/bin/llama-server -m /m.gguf", "", []string{"eager"}, "modes", "llama.cpp modes are default, mmap, no-mmap or dio"},
		{"vLLM has no no-mmap mode", "/opt/vllm/bin/vllm serve /m", "", []string{"no-mmap"}, "modes", "vllm modes are default, eager or fastsafetensors"},
		{"vllm without serve", "/opt/vllm/bin/vllm /m", "", nil, "command", "runs `vllm serve MODEL ...`"},
		{"a load flag the modes set", "/opt/vllm/bin/vllm serve /m --load-format safetensors", "", nil, "command", "sets --load-format"},
		{"unknown server", "/opt/x/bin/tgi --model m", "tgi", nil, "server", `not "tgi"`},
	} {
		_, errs := parseSmoke(body(c.cmd, c.server, c.modes...))
		if len(errs) == 0 || errs[0].Attr != c.attr || !strings.Contains(errs[0].Msg, c.msg) {
			t.Errorf("%s: %v, want %s: %q", c.name, errs, c.attr, c.msg)
		}
	}
}

// The forum's complaint: 0.03 s against 0.03 s was called "28% slower" and rolled a kernel back.
// Below min_delta a difference is noise, whatever its percentage.
func TestSmokeRegressionNeedsMoreThanTheNoiseFloor(t *testing.T) {
	base := Baseline{Seconds: 0.03, N: 5, Kernel: "6.17.0-1014-nvidia"}
	cases := []struct {
		name     string
		seconds  float64
		minDelta time.Duration
		want     bool
	}{
		{"0.03 s vs 0.03 s is no regression", 0.03, 0, false},
		{"28% slower by 8 ms is noise under the default floor", 0.0385, defaultMinDelta, false},
		{"28% slower by 8 ms counts only without a floor", 0.0385, 0, true},
		{"ten times slower by 0.27 s is still under a 2 s floor", 0.3, 2 * time.Second, false},
		{"over both the percentage and the floor", 2.5, 2 * time.Second, true},
	}
	for _, c := range cases {
		s := smokeSpec{maxRegression: 0.2, minDelta: c.minDelta}
		if got := s.regressed(c.seconds, base); got != c.want {
			t.Errorf("%s: regressed = %v", c.name, got)
		}
	}
	big := Baseline{Seconds: 22, N: 3}
	if (smokeSpec{maxRegression: 0.2, minDelta: defaultMinDelta}).regressed(25, big) {
		t.Error("25 s against 22 s is 14%: under max_regression 20%")
	}
	if !(smokeSpec{maxRegression: 0.2, minDelta: defaultMinDelta}).regressed(27, big) {
		t.Error("27 s against 22 s is 23% and 5 s: a regression")
	}
	if (smokeSpec{minDelta: 0}).regressed(100, big) {
		t.Error("without max_regression nothing is a regression")
	}
}
