package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sparkform/sparkform/internal/atomicfile"
	"github.com/sparkform/sparkform/internal/report"
)

// report [DIR] [-by configuration|host] [-compare before|GEN] [-format table|csv|json|svg]
// [-o FILE] [-state FILE] [-host H]...: model-load seconds from the smoke-test results in the
// state, by configuration across hosts (default) or per host, or two points side by side.
func runReport(args []string, stdout, stderr io.Writer) int {
	var rf runFlags
	var format, outPath, by, compare string
	dir, ok := rf.parseDir("report", args, stderr, flagHostNames|flagState, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "table", "output format: table, csv, json or svg")
		fs.StringVar(&outPath, "o", "", "write the report to this file (atomically) instead of standard output")
		fs.StringVar(&by, "by", "configuration", "configuration: one line per configuration across hosts (median, min, max, host count); host: one line per host")
		fs.StringVar(&compare, "compare", "", "before: each host's results from before an apply beside those after it; GEN: generation GEN beside the latest")
	})
	if !ok {
		return 1
	}
	render, ok := report.Formats[strings.ToLower(format)]
	if !ok {
		return errorf(stderr, "unknown report format %q: use table, csv, json or svg", format)
	}
	st, names, err := stateHosts(dir, rf.state, rf.hosts)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var buf bytes.Buffer
	n := 0
	fmtName := strings.ToLower(format)
	perHost := false
	switch by {
	case "configuration", "config":
	case "host":
		perHost = true
	default:
		return errorf(stderr, "-by is configuration or host, not %q", by)
	}
	switch {
	case compare != "":
		deltas, err := report.Compare(st, names, compare)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		n = len(deltas)
		if perHost {
			renderCmp, ok := report.CompareFormats[fmtName]
			if !ok {
				return errorf(stderr, "-compare renders as table, csv or json, not %q", format)
			}
			err = renderCmp(&buf, deltas)
		} else {
			changes := report.SummarizeChanges(deltas)
			n = len(changes)
			switch fmtName {
			case "table":
				err = report.WriteChangeTable(&buf, changes)
			case "json":
				err = report.WriteJSONValue(&buf, changes)
			default:
				return errorf(stderr, "-compare by configuration renders as table or json (-by host also as csv), not %q", format)
			}
		}
		if err != nil {
			return errorf(stderr, "rendering the report: %v", err)
		}
	case perHost:
		rows := report.Rows(st, names)
		if err := render(&buf, rows); err != nil {
			return errorf(stderr, "rendering the report: %v", err)
		}
		if len(rows) == 0 && fmtName != "table" {
			// Machine formats stay well-formed (header only, [], an SVG saying so); say why on stderr.
			fmt.Fprintln(stderr, report.NoResults)
		}
		n = len(rows)
	default:
		sums := report.Fleet(st, names)
		if err := report.FleetFormats[fmtName](&buf, sums); err != nil {
			return errorf(stderr, "rendering the report: %v", err)
		}
		if len(sums) == 0 && fmtName != "table" {
			fmt.Fprintln(stderr, report.NoResults)
		}
		n = len(sums)
	}
	if outPath == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return errorf(stderr, "%v", err)
		}
		return 0
	}
	if err := atomicfile.Write(outPath, buf.Bytes(), 0o644); err != nil {
		return errorf(stderr, "writing %s: %v", outPath, err)
	}
	fmt.Fprintf(stdout, "Wrote %s (%s, %d rows).\n", outPath, strings.ToLower(format), n)
	return 0
}
