package config

import (
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diagnostics the way hcl does (summary, source snippet with the
// subject highlighted, detail), with the position as file:line:column at the head of each
// summary so it can be jumped to from a terminal or editor. files is Config.Files, which Load
// sets even when it fails.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File, color bool) {
	wr := hcl.NewDiagnosticTextWriter(w, files, 0, color)
	for _, d := range diags {
		c := *d // the caller's diagnostics stay as they were
		if c.Subject != nil {
			c.Summary = posString(*c.Subject) + ": " + c.Summary
		}
		// A failing writer (a closed terminal) leaves nothing useful to do with the error.
		_ = wr.WriteDiagnostic(&c)
	}
}
