package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const unformatted = "host \"a\" {\naddress=\"10.0.0.1\"\n    port = 22\n}\n\ntestres \"r\" {\n  value=\"x\"   # note\n}\n"

func TestFormatIsCanonicalAndIdempotent(t *testing.T) {
	out, diags := Format([]byte(unformatted), "x.hcl")
	if diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	want := "host \"a\" {\n  address = \"10.0.0.1\"\n  port    = 22\n}\n\ntestres \"r\" {\n  value = \"x\" # note\n}\n"
	if string(out) != want {
		t.Errorf("Format =\n%s\nwant\n%s", out, want)
	}
	again, _ := Format(out, "x.hcl")
	if string(again) != string(out) {
		t.Errorf("Format is not idempotent:\n%s", again)
	}
}

func TestFormatRefusesSyntaxErrors(t *testing.T) {
	if _, diags := Format([]byte("host \"a\" {\n  address = \n"), "x.hcl"); !diags.HasErrors() {
		t.Error("want a syntax error")
	}
}

func TestFormatDirCheckReportsWithoutWritingThenWriteFixes(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"a.hcl":       unformatted,
		"b.hcl":       "host \"b\" {\n  address = \"b\"\n}\n",
		"v.sfvars":    "x=1\n",
		"notes.txt":   "x=1\n",
		"broken.hcl":  "host {{{\n",
		".hidden.hcl": "x=1\n",
	})
	changes, diags := FormatDir(dir, false)
	if !diags.HasErrors() {
		t.Error("a file with syntax errors must be reported")
	}
	var paths []string
	for _, c := range changes {
		paths = append(paths, filepath.Base(c.Path))
	}
	if strings.Join(paths, ",") != "a.hcl,v.sfvars" {
		t.Fatalf("changed files = %v", paths)
	}
	if src, _ := os.ReadFile(filepath.Join(dir, "a.hcl")); string(src) != unformatted {
		t.Error("check mode must not write")
	}
	d := changes[0].Diff
	for _, want := range []string{"--- a/", "+++ b/", "@@ -1,8 +1,8 @@", "-address=\"10.0.0.1\"\n", "+  address = \"10.0.0.1\"\n", " host \"a\" {\n"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}

	if _, diags := FormatDir(dir, true); len(diags) != 1 {
		t.Fatalf("write: %s", diagList(diags))
	}
	if src, _ := os.ReadFile(filepath.Join(dir, "v.sfvars")); string(src) != "x = 1\n" {
		t.Errorf("v.sfvars not rewritten: %q", src)
	}
	os.Remove(filepath.Join(dir, "broken.hcl"))
	changes, diags = FormatDir(dir, false)
	if len(changes) != 0 || len(diags) != 0 {
		t.Errorf("after writing, check must find nothing: %v %s", changes, diagList(diags))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 5 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestUnifiedDiffHunks(t *testing.T) {
	a := strings.Join([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", ""}, "\n")
	b := strings.Replace(strings.Replace(a, "2\n", "two\n", 1), "14\n", "", 1)
	got := UnifiedDiff("a", "b", []byte(a), []byte(b))
	want := "--- a\n+++ b\n" +
		"@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n" +
		"@@ -11,5 +11,4 @@\n 11\n 12\n 13\n-14\n 15\n"
	if got != want {
		t.Errorf("diff =\n%s\nwant\n%s", got, want)
	}
	if UnifiedDiff("a", "b", []byte(a), []byte(a)) != "" {
		t.Error("equal inputs must give no diff")
	}
	if got := UnifiedDiff("a", "b", []byte("x"), []byte("x\n")); !strings.Contains(got, "-x\n\\ No newline at end of file\n+x\n") {
		t.Errorf("missing final newline must be marked:\n%s", got)
	}
	if got := UnifiedDiff("a", "b", nil, []byte("x\n")); !strings.Contains(got, "@@ -0,0 +1,1 @@\n+x\n") {
		t.Errorf("diff from empty:\n%s", got)
	}
}
