package main

// The files and states tests start from, and the helpers that write and read them back.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// readFile is the content of the file at p.
func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFile writes b to path (mode 0600).
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeFiles writes each file (name → content) into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// unreachableHost is a host block whose connection is refused at once (port 1 on loopback).
const unreachableHost = "host \"spark-01\" {\n  address = \"127.0.0.1\"\n  port = 1\n  user = \"root\"\n}\n"

// knownGood is examples/spark-known-good's files, and the absolute path of examples/lab.sfvars,
// which points them at the lab's stand-ins (as examples/quickstart.sh runs them).
func knownGood(t *testing.T) (files map[string]string, varFile string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "examples", "spark-known-good", "*.hcl"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("examples/spark-known-good: %v %v", paths, err)
	}
	files = map[string]string{}
	for _, p := range paths {
		files[filepath.Base(p)] = readFile(t, p)
	}
	varFile, err = filepath.Abs(filepath.Join("..", "..", "examples", "lab.sfvars"))
	if err != nil {
		t.Fatal(err)
	}
	return files, varFile
}

// loadDirState loads the state file of the configuration in dir, failing the test (saying when,
// if not "") when it does not load.
func loadDirState(t testing.TB, dir, when string) *state.State {
	t.Helper()
	st, err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Load()
	if err != nil && when != "" {
		t.Fatalf("%s: %v", when, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// saveState persists st as the state of the configuration in dir.
func saveState(t *testing.T, dir string, st *state.State) {
	t.Helper()
	if err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Persist(st); err != nil {
		t.Fatal(err)
	}
}

// writeState writes a state with one host, one resource and one generation into dir (unit
// tests: no lab).
func writeState(t *testing.T, dir string) {
	t.Helper()
	st := state.New()
	st.Set("spark-01", sysctlLoading(map[string]string{"vm.swappiness": "10"}))
	st.Host("spark-01").AddGeneration(time.Now(), "abc", "")
	saveState(t, dir, st)
}

// sysctlLoading is the stored sysctl "loading" resource setting values.
func sysctlLoading(values map[string]string) *state.Resource {
	m := map[string]cty.Value{}
	for k, v := range values {
		m[k] = cty.StringVal(v)
	}
	return &state.Resource{Type: "sysctl", Name: "loading", AppliedAt: time.Now(),
		Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"values": cty.MapVal(m)})}}
}

// readaheadNVMe is the stored readahead "nvme" resource setting kb.
func readaheadNVMe(kb int64) *state.Resource {
	return &state.Resource{Type: "readahead", Name: "nvme", AppliedAt: time.Now(),
		Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"kb": cty.NumberIntVal(kb)})}}
}

// editMain replaces old with new in dir's main.hcl.
func editMain(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "main.hcl")
	if err := os.WriteFile(p, []byte(strings.Replace(readFile(t, p), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantAll fails the test for each of wants that out lacks, naming what out is.
func wantAll(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}
