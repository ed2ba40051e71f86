package main

import (
	"flag"
	"fmt"

	"github.com/sparkform/sparkform/internal/config"
)

// fmtFlags are fmt's own flags.
type fmtFlags struct{ check, diff bool }

func (o *fmtFlags) declare(fs *flag.FlagSet) {
	fs.BoolVar(&o.check, "check", false, "change nothing; exit 3 when a file is not formatted")
	fs.BoolVar(&o.diff, "diff", false, "show the changes as a unified diff")
}

// fmt [-check] [-diff] [DIR]: rewrite *.hcl and *.sfvars files in canonical layout.
func runFmt(in *invocation, o *fmtFlags) int {
	changes, diags := config.FormatDir(in.arg, !o.check)
	if len(diags) > 0 {
		config.WriteDiagnostics(in.stderr, diags, nil, false)
	}
	for _, c := range changes {
		fmt.Fprintln(in.stdout, c.Path)
		if o.diff {
			fmt.Fprint(in.stdout, c.Diff)
		}
	}
	switch {
	case diags.HasErrors():
		return 1
	case o.check && len(changes) > 0:
		// Terraform's fmt -check exits 3 when files need formatting; scripts rely on non-zero.
		return 3
	}
	return 0
}
