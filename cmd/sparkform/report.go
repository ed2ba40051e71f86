package main

import (
	"bytes"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/sparkform/sparkform/internal/atomicfile"
	"github.com/sparkform/sparkform/internal/report"
	"github.com/sparkform/sparkform/internal/suggest"
)

// reportFlags are report's own flags.
type reportFlags struct{ format, outPath, by, compare string }

func (o *reportFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "table", "output format: table, csv, json or svg")
	fs.StringVar(&o.outPath, "o", "", "write the report to this file (atomically) instead of standard output")
	fs.StringVar(&o.by, "by", "configuration", "configuration: one line per configuration across hosts (median, min, max, host count); host: one line per host")
	fs.StringVar(&o.compare, "compare", "", "before: each host's results from before an apply beside those after it; GEN: generation GEN beside the latest")
}

// report [DIR] [-by configuration|host] [-compare before|GEN] [-format table|csv|json|svg]
// [-o FILE] [-state FILE] [-host H]...: model-load seconds from the smoke-test results in the
// state, by configuration across hosts (default) or per host, or two points side by side.
func runReport(in *invocation, o *reportFlags) int {
	stdout, stderr := in.stdout, in.stderr
	render, ok := report.Formats[strings.ToLower(o.format)]
	if !ok {
		return errorf(stderr, "unknown report format %q: use table, csv, json or svg.%s", o.format, suggest.Hint(strings.ToLower(o.format), []string{"table", "csv", "json", "svg"}))
	}
	st, names, err := stateHosts(in.arg, in.state, in.hosts)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var buf bytes.Buffer
	n := 0
	fmtName := strings.ToLower(o.format)
	perHost := false
	switch o.by {
	case "configuration", "config":
	case "host":
		perHost = true
	default:
		return errorf(stderr, "-by is configuration or host, not %q.%s", o.by, suggest.Hint(o.by, []string{"configuration", "host"}))
	}
	switch {
	case o.compare != "":
		deltas, err := report.Compare(st, names, o.compare)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		n = len(deltas)
		if perHost {
			renderCmp, ok := report.CompareFormats[fmtName]
			if !ok {
				return errorf(stderr, "-compare renders as table, csv or json, not %q", o.format)
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
				return errorf(stderr, "-compare by configuration renders as table or json (-by host also as csv), not %q", o.format)
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
	if o.outPath == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return errorf(stderr, "%v", err)
		}
		return 0
	}
	if err := atomicfile.Write(o.outPath, buf.Bytes(), 0o644); err != nil {
		return errorf(stderr, "writing %s: %v", o.outPath, err)
	}
	fmt.Fprintf(stdout, "Wrote %s (%s, %s).\n", o.outPath, strings.ToLower(o.format), plural(n, "row"))
	return 0
}
