package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/sparkform/sparkform/internal/config"
)

// fmt [-check] [-diff] [DIR]: rewrite *.hcl and *.sfvars files in canonical layout.
func runFmt(args []string, stdout, stderr io.Writer) int {
	var check, diff bool
	dir, ok := new(runFlags).parseDir("fmt", args, stderr, 0, func(fs *flag.FlagSet) {
		fs.BoolVar(&check, "check", false, "change nothing; exit 3 when a file is not formatted")
		fs.BoolVar(&diff, "diff", false, "show the changes as a unified diff")
	})
	if !ok {
		return 1
	}
	changes, diags := config.FormatDir(dir, !check)
	if len(diags) > 0 {
		config.WriteDiagnostics(stderr, diags, nil, false)
	}
	for _, c := range changes {
		fmt.Fprintln(stdout, c.Path)
		if diff {
			fmt.Fprint(stdout, c.Diff)
		}
	}
	switch {
	case diags.HasErrors():
		return 1
	case check && len(changes) > 0:
		// Terraform's fmt -check exits 3 when files need formatting; scripts rely on non-zero.
		return 3
	}
	return 0
}
