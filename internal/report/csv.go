package report

import (
	"encoding/csv"
	"regexp"
	"strings"

	"github.com/sparkform/sparkform/internal/termsafe"
)

// csvNumberRe is a cell a spreadsheet reads as a number, sign and percent included.
var csvNumberRe = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?%?$`)

// csvRecord writes one record with every cell made safe for a spreadsheet: a cell that starts
// with = + - @ (or a tab or carriage return before one) is a formula to Excel, LibreOffice and
// Google Sheets, and host strings (build, kernel, failure messages) reach these cells, so such a
// cell gets a leading ' (shown as text) unless it is a plain number. OWASP's "CSV injection".
func csvRecord(cw *csv.Writer, rec []string) error {
	out := make([]string, len(rec))
	for i, c := range rec {
		c = termsafe.Line(c)
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) && !csvNumberRe.MatchString(c) {
			c = "'" + c
		}
		out[i] = c
	}
	return cw.Write(out)
}
