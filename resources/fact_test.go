package resources

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// factFixture is one recorded reading of a fact (pyinfra's tests/facts/*/*.json): the
// arguments, what the host printed, and what the parser must make of it (or the error it must
// give, a substring).
type factFixture struct {
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
	testable(llamaFact, []string{"/opt/llama.cpp"}),
	testable(venvFact, []string{"/opt/venv", "/opt/venv.sparkform-gens", "python3", "fastsafetensors"}, []string{"/opt/venv", "/opt/venv.sparkform-gens", ""}),
}

func TestFactParsersAgainstRecordedHostOutput(t *testing.T) {
	for _, f := range allFacts {
		t.Run(f.name, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("testdata", "facts", f.name, "*.json"))
			if len(files) == 0 {
				t.Fatalf("no fixtures in testdata/facts/%s", f.name)
			}
			for _, file := range files {
				var fx factFixture
				b, err := os.ReadFile(file)
				if err == nil {
					err = json.Unmarshal(b, &fx)
				}
				if err != nil {
					t.Fatalf("%s: %v", file, err)
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
		})
	}
}

// TestRecordFactFixtures runs every fact's command on a lab host and writes what it printed,
// with the value parsed now, to testdata/facts/NAME/lab-N.json (review the diff before
// committing). Only with SPARKFORM_RECORD_FACTS=1.
func TestRecordFactFixtures(t *testing.T) {
	if os.Getenv("SPARKFORM_RECORD_FACTS") == "" {
		t.Skip("set SPARKFORM_RECORD_FACTS=1 to record fact fixtures from a lab host")
	}
	h := dialLabHost(t, needResLab(t), "spark-01")
	for _, f := range allFacts {
		for i, args := range f.record {
			res, err := h.Run(context.Background(), f.command(args...))
			if err != nil {
				t.Fatal(err)
			}
			fx := factFixture{Args: args, Output: string(res.Stdout)}
			got, err := f.parse(parseProbe(res.Stdout), args...)
			if err != nil {
				fx.Error = err.Error()
			} else if fx.Expected, err = json.MarshalIndent(got, "  ", "  "); err != nil {
				t.Fatal(err)
			}
			b, _ := json.MarshalIndent(fx, "", "  ")
			dir := filepath.Join("testdata", "facts", f.name)
			os.MkdirAll(dir, 0o755)
			name := "lab.json"
			if i > 0 {
				name = "lab-" + string(rune('0'+i)) + ".json"
			}
			if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
