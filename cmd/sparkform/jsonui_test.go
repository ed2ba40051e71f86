package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/report"
	"github.com/sparkform/sparkform/state"
)

var uiSchema *jsonschema.Schema

// jsonUISchema compiles docs/json-ui.schema.json, the schema docs/json-ui.md documents.
func jsonUISchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	if uiSchema == nil {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		f, err := os.Open("../../docs/json-ui.schema.json")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("json-ui.schema.json", doc); err != nil {
			t.Fatal(err)
		}
		if uiSchema, err = c.Compile("json-ui.schema.json"); err != nil {
			t.Fatal(err)
		}
	}
	return uiSchema
}

// checkJSONUI checks every line of a -json stream against the documented schema and returns
// the messages; the first must be the version message.
func checkJSONUI(t *testing.T, out string) []map[string]any {
	t.Helper()
	s := jsonUISchema(t)
	var msgs []map[string]any
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
		if err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, line)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("line %d does not match docs/json-ui.schema.json: %v\n%s", i+1, err, line)
		}
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 || msgs[0]["type"] != "version" {
		t.Errorf("the stream does not start with the version message:\n%s", out)
	}
	return msgs
}

func ofType(msgs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, m := range msgs {
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

func TestJSONUIDocumentationExamplesMatchTheSchemaAndCoverEveryType(t *testing.T) {
	b, err := os.ReadFile("../../docs/json-ui.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, block := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		for _, l := range strings.Split(strings.TrimSpace(block[1]), "\n") {
			if strings.HasPrefix(l, "{") {
				lines = append(lines, l)
			}
		}
	}
	msgs := checkJSONUI(t, strings.Join(lines, "\n"))
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m["type"].(string)] = true
	}
	var schema map[string]any
	raw, _ := os.ReadFile("../../docs/json-ui.schema.json")
	json.Unmarshal(raw, &schema)
	for _, typ := range schema["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any) {
		if !seen[typ.(string)] {
			t.Errorf("docs/json-ui.md has no example of %s", typ)
		}
	}
}

func TestEveryEngineEventBecomesASchemaValidMessage(t *testing.T) {
	var b bytes.Buffer
	ui := newJSONUI(&b, "apply")
	p := fleetPlan(3, "spark-002")
	p.Warnings = []string{"spark-009 is in state but has no host block"}
	p.Hosts = append(p.Hosts, &engine.HostPlan{Name: "spark-004", Address: "10.0.0.4", Error: "dial tcp 10.0.0.4:22: connection refused"})
	ui.plan(p, "plan")
	run := &state.TestRun{Test: "smoke_test.gpt-oss", Mode: "mmap", Seconds: 21.5, Runs: []float64{21.4, 21.5, 22}, Passed: true, Kernel: "6.17.0-1014-nvidia", Generation: 1}
	for _, ev := range []engine.Event{
		{Kind: "rollout_batch", Hosts: []string{"spark-001", "spark-002"}, Message: "batch 1 of 2: spark-001, spark-002"},
		{Host: "spark-001", Addr: "sysctl.loading", Kind: "apply_start", Message: "create"},
		{Host: "spark-001", Addr: "sysctl.loading", Kind: "progress", Message: "sparkform: writing"},
		{Host: "spark-001", Addr: "sysctl.loading", Kind: "apply_done", Message: "create after 0.1s", Elapsed: 100 * time.Millisecond},
		{Host: "spark-001", Addr: "kernel.nvidia", Kind: "apply_error", Message: "apt failed", Elapsed: 3 * time.Second},
		{Host: "spark-001", Addr: "kernel.nvidia", Kind: "reboot_start", Message: "rebooting into 6.17"},
		{Host: "spark-001", Addr: "kernel.nvidia", Kind: "reboot_done", Message: "now running 6.17", Elapsed: 9 * time.Second},
		{Host: "spark-001", Addr: "smoke_test.gpt-oss", Kind: "test_done", Message: "mmap: 22s median of 3, passed", Test: run},
		{Host: "spark-002", Kind: "host_failed", Message: "boom"},
		{Kind: "rollout_pause", Message: "pausing 30s before batch 2 of 2"},
		{Kind: "rollout_stopped", Message: "stopped after 1 failed host"},
		{Host: "spark-001", Kind: "connecting", Message: "10.0.0.1"},
	} {
		ui.event(ev, true)
	}
	ui.result(p, &engine.Result{Stopped: "rollout stopped", Hosts: []*engine.HostResult{
		{Name: "spark-001", Status: engine.StatusApplied, Applied: []string{"sysctl.loading"}, Generation: 1},
		{Name: "spark-002", Status: engine.StatusFailed, Error: "boom"},
		{Name: "spark-003", Status: engine.StatusUntouched, Error: "rollout stopped before this host's batch"},
		{Name: "spark-004", Status: engine.StatusSkipped, Error: "not planned"},
	}}, nil, "apply")
	msgs := checkJSONUI(t, b.String())
	for typ, n := range map[string]int{"planned_change": 6, "host_failed": 2, "diagnostic": 1, "change_summary": 2, "apply_complete": 1,
		"apply_errored": 1, "reboot_complete": 1, "test_result": 1, "log": 1, "rollout": 3, "host_result": 4} {
		if got := len(ofType(msgs, typ)); got != n {
			t.Errorf("%d %s messages, want %d:\n%s", got, typ, n, b.String())
		}
	}
	last := msgs[len(msgs)-1]["changes"].(map[string]any)
	if last["add"] != 1.0 || last["errors"] != true || last["operation"] != "apply" {
		t.Errorf("apply summary counts what happened: %v", last)
	}
	if m := msgs[len(msgs)-1]["@message"]; m != "Apply finished with errors on 2 hosts. Resources: 1 added, 0 changed, 0 destroyed, on 4 hosts." {
		t.Errorf("the apply summary's message is the text view's: %q", m)
	}
	if m := ofType(msgs, "test_result")[0]["@message"]; m != "spark-001: smoke_test.gpt-oss: mmap: 22s median of 3, passed" {
		t.Errorf("a test result's message names the host and the test: %q", m)
	}
	if secs := ofType(msgs, "apply_complete")[0]["elapsed_seconds"]; secs != 0.1 {
		t.Errorf("elapsed_seconds is a number of seconds: %v", secs)
	}
}

func TestPlanJSONOnABrokenConfigurationIsADiagnosticWithItsPosition(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.hcl": "host \"a\" {\n  address = \n}\n"})
	code, out, _ := cli(t, "plan", dir, "-json")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	msgs := checkJSONUI(t, out)
	d := ofType(msgs, "diagnostic")
	if len(d) == 0 {
		t.Fatalf("no diagnostic:\n%s", out)
	}
	rng := d[0]["diagnostic"].(map[string]any)["range"].(map[string]any)
	if !strings.HasSuffix(rng["filename"].(string), "main.hcl") || rng["start"].(map[string]any)["line"] != 2.0 {
		t.Errorf("range: %v", rng)
	}
	code, out, _ = cli(t, "validate", dir, "-json")
	if v := ofType(checkJSONUI(t, out), "validate_result"); code != 1 || len(v) != 1 || v[0]["valid"] != false {
		t.Errorf("validate -json: exit %d\n%s", code, out)
	}
}

func TestReadOnlyCommandsStreamTheSameSchema(t *testing.T) {
	dir := t.TempDir()
	writeState(t, dir)
	writeFiles(t, dir, map[string]string{"main.hcl": unreachableHost})
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"show", dir, "-json"}, 0, "state_resource"},
		{[]string{"history", dir, "-json"}, 0, "generation"},
		{[]string{"validate", dir, "-json"}, 0, "validate_result"},
		{[]string{"plan", dir, "-json", "-connect-timeout", "2"}, 1, "host_failed"},
		{[]string{"drift", dir, "-json", "-connect-timeout", "2"}, 1, "drift_summary"},
		{[]string{"apply", dir, "-json"}, 1, "diagnostic"},
	} {
		code, out, errOut := cli(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errOut)
		}
		if msgs := checkJSONUI(t, out); len(ofType(msgs, c.want)) == 0 {
			t.Errorf("%v: no %s message:\n%s", c.args, c.want, out)
		}
	}
}

// With -json an error is a diagnostic in the stream (and text on stderr) for every command that
// takes -json, not only for those that work on hosts: history, show and state versions printed
// text alone and left standard output empty.
func TestEveryCommandsErrorsAreDiagnosticsInItsJSONStream(t *testing.T) {
	empty, withState := t.TempDir(), t.TempDir()
	writeState(t, withState)
	// -chdir changes the process's directory: t.Chdir puts it back at the end (else every later
	// test runs in withState, removed when this test ends: "getwd: no such file or directory").
	t.Chdir(".")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"history", empty, "-json"}, "no state at"},
		{[]string{"history", withState, "-json", "-host", "spark-1"}, `no host "spark-1" in the state`},
		{[]string{"show", empty, "-json"}, "no state at"},
		{[]string{"show", filepath.Join(empty, "missing.plan"), "-json"}, "missing.plan"},
		{[]string{"-chdir=" + withState, "state", "versions", "-json"}, "keeps no write history"},
		{[]string{"validate", empty, withState, "-json"}, "too many arguments"},
		{[]string{"plan", empty, withState, "-json"}, "too many arguments"},
	} {
		code, out, errOut := cli(t, c.args...)
		if code != 1 || !strings.Contains(errOut, "Error: ") {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, errOut)
		}
		d := ofType(checkJSONUI(t, out), "diagnostic")
		if len(d) != 1 || !strings.Contains(d[0]["@message"].(string), c.want) {
			t.Errorf("%v: want one diagnostic saying %q, stream:\n%s", c.args, c.want, out)
		}
	}
	if _, _, errOut := cli(t, "history", withState, "-host", "spark-1"); !strings.Contains(errOut, "Did you mean spark-01?") {
		t.Errorf("history -host with a typo: %q", errOut)
	}
}

// A host string in the -json stream (or a JSON report) is escaped as the text views escape it:
// encoding/json leaves C1 controls (the 8-bit CSI) and bidirectional overrides raw.
func TestJSONOutputCarriesNoRawTerminalControls(t *testing.T) {
	hostile := "6.17\u009b2J\u202e"
	var b bytes.Buffer
	u := newJSONUI(&b, "plan")
	u.emit("error", "diagnostic", "Error: "+hostile, map[string]any{"diagnostic": map[string]any{"severity": "error", "summary": hostile}})
	var r bytes.Buffer
	if err := report.WriteJSONValue(&r, map[string]string{"kernel": hostile}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{"-json stream": b.Bytes(), "JSON report": r.Bytes()} {
		if bytes.Contains(out, []byte("\u009b")) || bytes.Contains(out, []byte("\u202e")) {
			t.Errorf("%s holds a C1 control or bidi override raw: %q", name, out)
		}
		if !bytes.Contains(out, []byte(`\u009b2J\u202e`)) {
			t.Errorf("%s: %s", name, out)
		}
	}
}
