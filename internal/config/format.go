package config

import (
	"bytes"
	"fmt"
	"github.com/sparkform/sparkform/internal/atomicfile"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical layout (hclwrite's). It refuses a file with syntax errors,
// since hclwrite would otherwise reformat broken input into something else broken.
func Format(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

// FormatChange is a file that is not in canonical layout.
type FormatChange struct {
	Path string // as found in the directory, dir joined with the file name
	Diff string // unified diff from the file to its formatted form
}

// FormatDir checks the *.hcl and *.sfvars files of dir (not recursive) and returns those whose
// layout is not canonical, in name order. With write, each of them is rewritten (atomically,
// keeping its mode); without, nothing is touched — `fmt -check` fails when the list is not
// empty. Files with syntax errors are reported and left alone.
func FormatDir(dir string, write bool) ([]FormatChange, hcl.Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration directory", Detail: err.Error()}}
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && !strings.HasPrefix(n, ".") && (strings.HasSuffix(n, ".hcl") || strings.HasSuffix(n, ".sfvars")) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var changes []FormatChange
	var diags hcl.Diagnostics
	for _, n := range names {
		path := filepath.Join(dir, n)
		src, err := os.ReadFile(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read file", Detail: err.Error()})
			continue
		}
		out, d := Format(src, path)
		diags = append(diags, d...)
		if d.HasErrors() || bytes.Equal(src, out) {
			continue
		}
		changes = append(changes, FormatChange{Path: path, Diff: UnifiedDiff("a/"+filepath.ToSlash(path), "b/"+filepath.ToSlash(path), src, out)})
		if write {
			if err := writeFileAtomic(path, out); err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot write formatted file", Detail: err.Error()})
			}
		}
	}
	return changes, diags
}

// writeFileAtomic replaces path keeping its mode, so an interrupted fmt never leaves a
// half-written configuration file.
func writeFileAtomic(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, fi.Mode().Perm())
}

type diffOp struct {
	kind  byte // ' ', '-', '+'
	text  string
	aLine int // lines of a before this op
	bLine int // lines of b before this op
}

// UnifiedDiff renders the line difference of a and b as a unified diff with three lines of
// context, "" when they are equal. Lines are matched by longest common subsequence after the
// common head and tail are cut off, which keeps the table small for formatting changes.
func UnifiedDiff(aName, bName string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	al, bl := splitLines(a), splitLines(b)
	pre := 0
	for pre < len(al) && pre < len(bl) && al[pre] == bl[pre] {
		pre++
	}
	suf := 0
	for suf < len(al)-pre && suf < len(bl)-pre && al[len(al)-1-suf] == bl[len(bl)-1-suf] {
		suf++
	}
	var ops []diffOp
	for i := 0; i < pre; i++ {
		ops = append(ops, diffOp{kind: ' ', text: al[i]})
	}
	ops = append(ops, lcsOps(al[pre:len(al)-suf], bl[pre:len(bl)-suf])...)
	for i := len(al) - suf; i < len(al); i++ {
		ops = append(ops, diffOp{kind: ' ', text: al[i]})
	}
	ai, bi := 0, 0
	for i := range ops {
		ops[i].aLine, ops[i].bLine = ai, bi
		if ops[i].kind != '+' {
			ai++
		}
		if ops[i].kind != '-' {
			bi++
		}
	}

	const context = 3
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", aName, bName)
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-context, 0)
		end := i // extend over changes separated by at most 2*context unchanged lines
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*context {
				break
			}
		}
		stop := min(end+context+1, len(ops))
		aCount, bCount := 0, 0
		for _, op := range ops[start:stop] {
			if op.kind != '+' {
				aCount++
			}
			if op.kind != '-' {
				bCount++
			}
		}
		aStart, bStart := ops[start].aLine+1, ops[start].bLine+1
		if aCount == 0 {
			aStart--
		}
		if bCount == 0 {
			bStart--
		}
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", aStart, aCount, bStart, bCount)
		for _, op := range ops[start:stop] {
			sb.WriteByte(op.kind)
			sb.WriteString(op.text)
			if !strings.HasSuffix(op.text, "\n") {
				sb.WriteString("\n\\ No newline at end of file\n")
			}
		}
		i = stop
	}
	return sb.String()
}

// splitLines splits after each newline; a last line without one is kept as is.
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// lcsOps is the classic dynamic-programming LCS edit script. Past a size where the table
// would be large it gives up on alignment and replaces the whole span, still a correct diff.
func lcsOps(a, b []string) []diffOp {
	var ops []diffOp
	if len(a)*len(b) > 4_000_000 {
		for _, l := range a {
			ops = append(ops, diffOp{kind: '-', text: l})
		}
		for _, l := range b {
			ops = append(ops, diffOp{kind: '+', text: l})
		}
		return ops
	}
	// t[i][j]: LCS length of a[i:] and b[j:].
	t := make([][]int, len(a)+1)
	for i := range t {
		t[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			ops = append(ops, diffOp{kind: ' ', text: a[i]})
			i++
			j++
		case t[i+1][j] >= t[i][j+1]:
			ops = append(ops, diffOp{kind: '-', text: a[i]})
			i++
		default:
			ops = append(ops, diffOp{kind: '+', text: b[j]})
			j++
		}
	}
	for ; i < len(a); i++ {
		ops = append(ops, diffOp{kind: '-', text: a[i]})
	}
	for ; j < len(b); j++ {
		ops = append(ops, diffOp{kind: '+', text: b[j]})
	}
	return ops
}
