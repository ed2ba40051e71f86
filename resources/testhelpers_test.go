package resources

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// fieldLines renders a diff's fields one per line ("path before->after", " drift" when changed
// outside sparkform), for table tests to compare.
func fieldLines(fields []FieldChange) []string {
	var got []string
	for _, f := range fields {
		after := f.After
		if f.AfterNull {
			after = "(null)"
		}
		s := f.Path + " " + f.Before + "->" + after
		if f.Drift {
			s += " drift"
		}
		got = append(got, s)
	}
	return got
}

// labSteps runs the steps of a lab scenario as subtests, in order, skipping the rest once one
// failed (later steps build on earlier ones), and logs how long each took.
func labSteps(t *testing.T) func(name string, f func(t *testing.T)) {
	return func(name string, f func(t *testing.T)) {
		if t.Failed() {
			t.Logf("skipping %s: an earlier step failed", name)
			return
		}
		start := time.Now()
		t.Run(name, f)
		t.Logf("%s: %s", name, time.Since(start).Round(10*time.Millisecond))
	}
}

// fileOut is what probeFile prints for a file holding content.
func fileOut(tag, content string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "file %s\n", tag)
	lines := strings.SplitAfter(content, "\n")
	for _, l := range lines {
		switch {
		case strings.HasSuffix(l, "\n"):
			fmt.Fprintf(&b, "fl %s %s\n", tag, strings.TrimSuffix(l, "\n"))
		case l != "":
			fmt.Fprintf(&b, "flx %s %s\n", tag, l)
		}
	}
	return b.String()
}

// dropInsOut is what dropInProbe and grepDropIns print for files (path, content pairs): the
// listing, then every line containing fixed as PATH:LINE.
func dropInsOut(tag, fixed string, files ...string) string {
	var b strings.Builder
	for i := 0; i < len(files); i += 2 {
		fmt.Fprintf(&b, "dfile %s %s\n", tag, files[i])
	}
	for i := 0; i < len(files); i += 2 {
		for _, l := range strings.Split(strings.TrimSuffix(files[i+1], "\n"), "\n") {
			if strings.Contains(l, fixed) {
				fmt.Fprintf(&b, "%s:%s\n", files[i], l)
			}
		}
	}
	return b.String()
}

// validationCase is a row of a resource's validation table: attributes set over a valid body,
// and the one attribute Validate must reject ("" → the body is valid).
type validationCase struct {
	name     string
	set      map[string]cty.Value
	wantAttr string
}

// hostileManagedPaths are values no directory sparkform owns may take (checkManagedPath rejects
// them): every attribute naming one (llama_cpp dir, python_venv path) is tested with all of them.
var hostileManagedPaths = []struct{ name, path string }{
	{"relative", "opt/venv"}, {"relative name", "llama.cpp"}, {"dot-dot", "/opt/../etc/venv"}, {"traversal to /etc", "/opt/../etc"},
	{"trailing slash", "/opt/venv/"}, {"shell", "/opt/l$(reboot)"}, {"semicolon", "/opt/v;reboot"}, {"space", "/opt/my venv"},
	{"newline", "/opt/v\nrm -rf /"}, {"system directory", "/usr"}, {"system directory /usr/local", "/usr/local"}, {"root", "/"},
}

// managedPathCases are the validation cases of attr, an attribute naming a directory sparkform
// owns: each hostile path must be rejected, on attr.
func managedPathCases(attr string) []validationCase {
	var cases []validationCase
	for _, h := range hostileManagedPaths {
		cases = append(cases, validationCase{name: attr + " " + h.name, set: map[string]cty.Value{attr: cty.StringVal(h.path)}, wantAttr: attr})
	}
	return cases
}

// shellPayloads are what a value would make a shell run if it reached one unquoted.
var shellPayloads = []struct{ name, tail string }{
	{"command substitution", "$(reboot)"}, {"semicolon command", "; reboot"},
	{"newline command", "\nreboot"}, {"backquote command", "`reboot`"},
}

// shellPayloadCases are the validation cases of attr with each shell payload appended to valid,
// a value attr takes (wrap makes the attribute's value of it: a string, a list, a map entry):
// each must be rejected, on attr.
func shellPayloadCases(attr, valid string, wrap func(string) cty.Value) []validationCase {
	var cases []validationCase
	for _, p := range shellPayloads {
		cases = append(cases, validationCase{name: attr + " with " + p.name, set: map[string]cty.Value{attr: wrap(valid + p.tail)}, wantAttr: attr})
	}
	return cases
}

// checkValidationTable runs each case of the tables (a resource's own, then generated ones such
// as managedPathCases) as a subtest, checking validate(case.set) with checkOneAttrError (the
// hostile-input tables of llama_cpp and python_venv).
func checkValidationTable(t *testing.T, validate func(set map[string]cty.Value) []AttrError, tables ...[]validationCase) {
	t.Helper()
	for _, cases := range tables {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				checkOneAttrError(t, validate(c.set), c.wantAttr)
			})
		}
	}
}

// checkOneAttrError fails the test unless errs is empty when wantAttr is "", or holds exactly one
// error, on wantAttr, otherwise (validation table tests).
func checkOneAttrError(t *testing.T, errs []AttrError, wantAttr string) {
	t.Helper()
	if wantAttr == "" {
		if len(errs) > 0 {
			t.Fatalf("want no error, got %v", errs)
		}
		return
	}
	if len(errs) != 1 || errs[0].Attr != wantAttr {
		t.Fatalf("want one error on %s, got %v", wantAttr, errs)
	}
}

// fieldChanges renders a diff's fields as "path:before->after", "!" added for drift (the
// kernel, sysctl and readahead table tests).
func fieldChanges(fields []FieldChange) []string {
	return markDrift(fields, func(f FieldChange) string { return f.Path + ":" + f.Before + "->" + f.After })
}

// fieldPaths renders a diff's fields as their paths, "!" added for drift.
func fieldPaths(fields []FieldChange) []string {
	return markDrift(fields, func(f FieldChange) string { return f.Path })
}

func markDrift(fields []FieldChange, show func(FieldChange) string) []string {
	var got []string
	for _, f := range fields {
		s := show(f)
		if f.Drift {
			s += "!"
		}
		got = append(got, s)
	}
	return got
}

// persistedObs is persistedValue with the file as a pointer (nil: absent).
func persistedObs(live, boot map[string]string, file *string) cty.Value {
	f := cty.NullVal(cty.String)
	if file != nil {
		f = cty.StringVal(*file)
	}
	return persistedValue(live, f, boot)
}

// checkDiff fails the test unless a Diff gave the error containing errHas (when set), or
// else action, a summary starting with summary, and exactly fields (as fieldLines renders
// them): the python_venv and llama_cpp table tests.
func checkDiff(t *testing.T, d Diff, err error, errHas string, action Action, summary string, fields []string) {
	t.Helper()
	if errHas != "" {
		if err == nil || !strings.Contains(err.Error(), errHas) {
			t.Fatalf("want error containing %q, got %v (%+v)", errHas, err, d)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != action || !strings.HasPrefix(d.Summary, summary) {
		t.Fatalf("diff = %s %q, want %s %q (%+v)", d.Action, d.Summary, action, summary, d)
	}
	got := fieldLines(d.Fields)
	if fmt.Sprint(got) != fmt.Sprint(fields) && !(len(got) == 0 && len(fields) == 0) {
		t.Fatalf("fields = %q\nwant     %q", got, fields)
	}
}
