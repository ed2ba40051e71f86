package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
)

// writeTable writes cells as aligned columns under header (tab-separated), or empty when there
// are no rows. Host values are escaped for the terminal; tabs or newlines in them would also
// break the alignment.
func writeTable(w io.Writer, empty, header string, cells [][]string) error {
	if len(cells) == 0 {
		_, err := fmt.Fprintln(w, empty)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, cols := range cells {
		for i, c := range cols {
			cols[i] = termsafe.Line(c)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
}

// WriteTable writes aligned columns; a TEST column appears when the rows hold several tests.
func WriteTable(w io.Writer, rows []*Row) error {
	tests := map[string]bool{}
	for _, r := range rows {
		tests[r.Test] = true
	}
	withTest := len(tests) > 1
	head := "HOST\tGEN\tKERNEL\tREAD_AHEAD\tMODE\tMEDIAN_S\tRUNS\tRESULT"
	if withTest {
		head = "HOST\tTEST\tGEN\tKERNEL\tREAD_AHEAD\tMODE\tMEDIAN_S\tRUNS\tRESULT"
	}
	var cells [][]string
	for _, r := range rows {
		result := "ok"
		if r.Failed > 0 {
			result = "FAILED"
			if r.Passed > 0 {
				result = fmt.Sprintf("FAILED %d of %d", r.Failed, r.Results)
			}
			if r.Message != "" {
				result += ": " + shorten(r.Message, 60)
			}
		}
		cols := []string{r.Host, r.genText(), dash(r.Kernel), dash(r.ReadAhead), dash(r.Mode), dash(r.secondsText()), strconv.Itoa(r.Runs), result}
		if withTest {
			cols = append([]string{r.Host, testName(r.Test)}, cols[1:]...)
		}
		cells = append(cells, cols)
	}
	return writeTable(w, NoResults, head, cells)
}

var csvHeader = []string{"host", "test", "generation", "kernel", "read_ahead_kb", "mode", "median_seconds",
	"runs", "results", "passed", "failed", "result", "message", "first_time", "last_time"}

func WriteCSV(w io.Writer, rows []*Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, r := range rows {
		gen := ""
		if r.Generation != 0 {
			gen = strconv.Itoa(r.Generation)
		}
		rec := []string{r.Host, r.Test, gen, r.Kernel, r.ReadAhead, r.Mode, r.secondsText(),
			strconv.Itoa(r.Runs), strconv.Itoa(r.Results), strconv.Itoa(r.Passed), strconv.Itoa(r.Failed),
			r.Result, r.Message, r.FirstTime.Format(time.RFC3339), r.LastTime.Format(time.RFC3339)}
		if err := csvRecord(cw, rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func WriteJSON(w io.Writer, rows []*Row) error { return writeJSONList(w, rows) }
