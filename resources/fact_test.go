package resources

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// factFixture is one recorded reading of a fact (pyinfra's tests/facts/*/*.json): the
// arguments, what the host printed, and what the parser must make of it (or the error it must
// give, a substring).
type factFixture struct {
	Source   string          `json:"source"` // "recorded …" or "hand-written: " and why a lab host cannot print it
	Args     []string        `json:"args"`
	Output   string          `json:"output"`
	Expected json.RawMessage `json:"expected,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// factUnderTest is a fact with its value made comparable as JSON.
type factUnderTest struct {
	name    string
	command func(args ...string) string
	parse   func(lines []probeLine, args ...string) (any, error)
	record  [][]string // the arguments a recording on a lab host uses
	// recordBuilt are the arguments recorded after the recorder built a venv and a llama.cpp
	// tree on the host (lab-built*.json), so that the parsers meet a real build's output.
	recordBuilt [][]string
}

// built adds recordings made after the recorder's builds.
func (f factUnderTest) built(args ...[]string) factUnderTest {
	f.recordBuilt = args
	return f
}

func testable[T any](f fact[T], record ...[]string) factUnderTest {
	return factUnderTest{name: f.name, command: f.command, record: record,
		parse: func(lines []probeLine, args ...string) (any, error) {
			v, err := f.parse(lines, args...)
			if c, ok := any(v).(cty.Value); ok { // a file: its content or null
				if c == cty.NilVal || c.IsNull() {
					return nil, err
				}
				return c.AsString(), err
			}
			return v, err
		}}
}

// allFacts are every fact the resources define; each needs fixtures in testdata/facts/NAME.
var allFacts = []factUnderTest{
	testable(kernelRunningFact, nil),
	testable(kernelImagesFact, nil),
	testable(aptHoldsFact, nil),
	testable(aptListsFact, nil),
	testable(kernelResolveFact, []string{"linux-nvidia-6.17", "cand", "nopin", "inst"}),
	testable(grubFact, []string{"nvidia"}),
	testable(fileFact, []string{"conf", "/etc/hostname"}, []string{"pin", "/etc/apt/preferences.d/sparkform-kernel-nvidia"}),
	testable(sysctlLiveFact, []string{"vm.swappiness", "vm.dirty_ratio", "net.ipv4.ip_local_port_range", "vm.no_such_key", "Bad Key"}),
	testable(sysctlBootFact, nil),
	testable(readaheadLiveFact, nil, []string{"nvme0n1", "nosuchdev", "../etc"}),
	testable(udevRulesFact, nil),
	testable(llamaFact, []string{"/opt/llama.cpp"}).built(llamaRecordArgs),
	testable(venvFact, []string{"/opt/venv", "/opt/venv.sparkform-gens", "python3", "fastsafetensors"}, []string{"/opt/venv", "/opt/venv.sparkform-gens", ""}).
		built(append(venvRecordArgs, "no_such_module"), []string{venvLabPath, venvLabPath + ".sparkform-gens", ""}),
}

func TestFactParsersAgainstRecordedHostOutput(t *testing.T) {
	for _, f := range allFacts {
		t.Run(f.name, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("testdata", "facts", f.name, "*.json"))
			if len(files) == 0 {
				t.Fatalf("no fixtures in testdata/facts/%s", f.name)
			}
			recorded := 0
			for _, file := range files {
				var fx factFixture
				b, err := os.ReadFile(file)
				if err == nil {
					err = json.Unmarshal(b, &fx)
				}
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				switch {
				case strings.HasPrefix(fx.Source, "recorded "):
					recorded++
				case strings.HasPrefix(fx.Source, "hand-written: "):
				default:
					t.Errorf("%s: source %q: say \"recorded …\" or \"hand-written: \" and why no host printed it", file, fx.Source)
				}
				got, err := f.parse(parseProbe([]byte(fx.Output)), fx.Args...)
				if fx.Error != "" {
					if err == nil || !strings.Contains(err.Error(), fx.Error) {
						t.Errorf("%s: error %v, want one saying %q", file, err, fx.Error)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", file, err)
					continue
				}
				var gotJSON, want any
				gb, _ := json.Marshal(got)
				json.Unmarshal(gb, &gotJSON)
				if err := json.Unmarshal(fx.Expected, &want); err != nil {
					t.Fatalf("%s: expected: %v", file, err)
				}
				if !reflect.DeepEqual(gotJSON, want) {
					t.Errorf("%s:\n got %s\nwant %s", file, gb, fx.Expected)
				}
			}
			if recorded == 0 {
				t.Errorf("testdata/facts/%s: no fixture recorded on a host, only hand-written ones", f.name)
			}
		})
	}
}

// TestRecordFactFixtures runs every fact's command on a lab host and writes what it printed,
// with the value parsed now, to testdata/facts/NAME/lab-N.json; then it builds a venv (two
// generations) and a llama.cpp tree on the host, as the resources' lab tests do, records the
// facts that read them to lab-built-N.json, and destroys both. Review the diff before
// committing. Only with SPARKFORM_RECORD_FACTS=1.
func TestRecordFactFixtures(t *testing.T) {
	if os.Getenv("SPARKFORM_RECORD_FACTS") == "" {
		t.Skip("set SPARKFORM_RECORD_FACTS=1 to record fact fixtures from a lab host")
	}
	h := dialLabHost(t, needResLab(t), "spark-01")
	for _, f := range allFacts {
		recordFact(t, h, f, "lab", f.record)
	}
	venv := buildForRecording(t, h, pythonVenv{}, "python_venv", "vllm", venvLabBody(venvLabPath, "fastsafetensors==0.3.2"), venvLabBody(venvLabPath, "fastsafetensors==0.1.10"))
	llama := buildForRecording(t, h, llamaCpp{}, "llama_cpp", "cuda", llamaLabBody("b6800", labCUDA))
	for _, f := range allFacts {
		recordFact(t, h, f, "lab-built", f.recordBuilt)
	}
	for _, c := range changedByHand {
		h.sh(t, c.change)
		recordFact(t, h, c.fact, c.file, [][]string{c.args})
		h.sh(t, c.undo)
	}
	venv()
	llama()
}

var (
	llamaRecordArgs = []string{llamaLabDir}
	venvRecordArgs  = []string{venvLabPath, venvLabPath + ".sparkform-gens", "python3", "fastsafetensors"}
)

// changedByHand are states that people or failures leave on a built host, made by a command on
// the lab host, recorded to FILE.json and undone: the parsers' edge cases, from real output.
var changedByHand = []struct {
	fact         factUnderTest
	file         string
	args         []string
	change, undo string
}{
	{testable(llamaFact), "lab-failed-build", llamaRecordArgs,
		"mkdir " + llamaLabDir + "/builds/fedcba987654", "rmdir " + llamaLabDir + "/builds/fedcba987654"},
	{testable(llamaFact), "lab-untrusted", llamaRecordArgs,
		"chown 1000 " + llamaLabDir + "/current/bin/llama-server", "chown 0 " + llamaLabDir + "/current/bin/llama-server"},
	{testable(llamaFact), "lab-current-not-sparkforms", llamaRecordArgs,
		"mkdir -p /root/llama.cpp/build && cp -P " + llamaLabDir + "/current /root/current.kept && ln -sfn /root/llama.cpp/build " + llamaLabDir + "/current",
		"mv -T /root/current.kept " + llamaLabDir + "/current && rm -r /root/llama.cpp"},
	{testable(venvFact), "lab-untrusted", venvRecordArgs,
		`chmod g+w "$(readlink -f /usr/bin/python3)"`, `chmod g-w "$(readlink -f /usr/bin/python3)"`},
}

// buildForRecording applies each body in turn as instance TYPE.NAME and returns the destroy.
func buildForRecording(t *testing.T, h labHost, r Resource, typ, name string, bodies ...cty.Value) (destroy func()) {
	t.Helper()
	var prior Prior
	for _, body := range bodies {
		a := planApply(t, h, r, Instance{Type: typ, Name: name, Desired: body, Prior: prior}, 5*time.Minute)
		if a.Err != nil {
			t.Fatalf("%s.%s: %v", typ, name, a.Err)
		}
		prior = a.Prior
	}
	return func() {
		in := Instance{Type: typ, Name: name, Desired: cty.NullVal(cty.DynamicPseudoType), Prior: prior}
		if a := planApply(t, h, r, in, time.Minute); a.Err != nil {
			t.Errorf("destroying %s.%s: %v", typ, name, a.Err)
		}
	}
}

// recordFact runs f's command with each set of arguments on h and writes PREFIX[-N].json.
func recordFact(t *testing.T, h labHost, f factUnderTest, prefix string, record [][]string) {
	t.Helper()
	for i, args := range record {
		res, err := h.Run(context.Background(), f.command(args...))
		if err != nil {
			t.Fatal(err)
		}
		fx := factFixture{Source: "recorded on lab host " + h.Name() + " by TestRecordFactFixtures", Args: args, Output: string(res.Stdout)}
		got, err := f.parse(parseProbe(res.Stdout), args...)
		if err != nil {
			fx.Error = err.Error()
		} else if fx.Expected, err = json.MarshalIndent(got, "  ", "  "); err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(fx, "", "  ")
		dir := filepath.Join("testdata", "facts", f.name)
		os.MkdirAll(dir, 0o755)
		name := prefix + ".json"
		if i > 0 {
			name = fmt.Sprintf("%s-%d.json", prefix, i)
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
