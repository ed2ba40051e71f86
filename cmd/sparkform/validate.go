package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/sparkform/sparkform/internal/config"
)

// validate [DIR]: parse, evaluate and check everything, connecting to nothing.
func runValidate(in *invocation, _ *noFlags) int {
	cfg, diags := config.Load(in.arg, config.Vars{Env: config.EnvVars(os.Environ()), Files: in.varFiles, Flags: in.vars})
	if ui := in.ui; ui != nil {
		ui.hclDiagnostics(diags)
		errs := 0
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				errs++
			}
		}
		msg := "The configuration is valid."
		if errs > 0 {
			msg = fmt.Sprintf("The configuration is not valid: %s.", plural(errs, "error"))
		}
		ui.emit(levelOf(errs == 0), "validate_result", msg, map[string]any{"valid": errs == 0, "error_count": errs, "warning_count": len(diags) - errs})
	} else if len(diags) > 0 {
		config.WriteDiagnostics(in.stderr, diags, cfg.Files, isTerminal(in.stderr))
	}
	if diags.HasErrors() {
		return 1
	}
	if !in.json {
		fmt.Fprintf(in.stdout, "Success! The configuration is valid: %s, %s.\n", plural(len(cfg.Hosts), "host"), plural(len(cfg.Resources), "resource"))
	}
	return 0
}
