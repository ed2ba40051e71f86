package main

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/sparkform/sparkform/internal/config"
)

// validate [DIR]: parse, evaluate and check everything, connecting to nothing.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	var rf runFlags
	fs.Var(&rf.vars, "var", "set a variable: -var 'name=value' (repeatable)")
	fs.Var(&rf.varFiles, "var-file", "load variable values from an HCL file (repeatable)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	dir, ok := parseDir(fs, args, stderr)
	if !ok {
		return 1
	}
	cfg, diags := config.Load(dir, config.Vars{Env: config.EnvVars(os.Environ()), Files: rf.varFiles, Flags: rf.vars})
	if *asJSON {
		type jdiag struct {
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
			Detail   string `json:"detail,omitempty"`
			Range    string `json:"range,omitempty"`
		}
		out := struct {
			Valid       bool    `json:"valid"`
			Diagnostics []jdiag `json:"diagnostics"`
		}{Valid: !diags.HasErrors(), Diagnostics: []jdiag{}}
		for _, d := range diags {
			j := jdiag{Severity: "warning", Summary: d.Summary, Detail: d.Detail}
			if d.Severity == hcl.DiagError {
				j.Severity = "error"
			}
			if d.Subject != nil {
				j.Range = d.Subject.String()
			}
			out.Diagnostics = append(out.Diagnostics, j)
		}
		writeJSON(stdout, out)
	} else if len(diags) > 0 {
		config.WriteDiagnostics(stderr, diags, cfg.Files, isTerminal(stderr))
	}
	if diags.HasErrors() {
		return 1
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "Success! The configuration is valid: %d hosts, %d resources.\n", len(cfg.Hosts), len(cfg.Resources))
	}
	return 0
}
