package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
)

// jsonUIVersion is the version of the machine-readable UI (docs/json-ui.md). A change that
// removes or renames a field, or changes a field's meaning, raises the major version; new
// message types and new fields raise the minor version.
const jsonUIVersion = "1.0"

// jsonUI writes the -json stream of every command: one JSON object per line, in the manner of
// Terraform's machine-readable UI. Every line has @level, @message, @timestamp and type; the
// first line of a stream is the version message. Host-provided strings are JSON-escaped by the
// encoder, C1 controls and bidi overrides too (termsafe.JSON), never interpreted. Safe for concurrent use.
type jsonUI struct {
	mu sync.Mutex
	w  io.Writer
}

// newJSONUI starts a stream on w with its version line.
func newJSONUI(w io.Writer, command string) *jsonUI {
	u := &jsonUI{w: w}
	u.emit("info", "version", fmt.Sprintf("sparkform %s", version), map[string]any{"sparkform": version, "ui": jsonUIVersion, "command": command})
	return u
}

// emit writes one message. fields hold the type's own members.
func (u *jsonUI) emit(level, typ, message string, fields map[string]any) {
	m := map[string]any{"@level": level, "@message": message, "@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"@level": "error", "@message": "sparkform: encoding a message: " + err.Error(),
			"@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "type": "diagnostic",
			"diagnostic": map[string]any{"severity": "error", "summary": "encoding a message failed", "detail": err.Error()}})
	}
	b = termsafe.JSON(b) // C1 controls and bidi overrides, which encoding/json leaves raw
	u.mu.Lock()
	defer u.mu.Unlock()
	u.w.Write(append(b, '\n'))
}

// diagnostic reports an error or warning; rng may be nil.
func (u *jsonUI) diagnostic(severity, summary, detail string, rng *hcl.Range) {
	d := map[string]any{"severity": severity, "summary": summary}
	if detail != "" {
		d["detail"] = detail
	}
	if rng != nil {
		d["range"] = map[string]any{"filename": rng.Filename,
			"start": map[string]any{"line": rng.Start.Line, "column": rng.Start.Column, "byte": rng.Start.Byte},
			"end":   map[string]any{"line": rng.End.Line, "column": rng.End.Column, "byte": rng.End.Byte}}
	}
	level := "error"
	if severity == "warning" {
		level = "warn"
	}
	msg := severity + ": " + summary
	if severity == "error" {
		msg = "Error: " + summary
	} else if severity == "warning" {
		msg = "Warning: " + summary
	}
	u.emit(level, "diagnostic", msg, map[string]any{"diagnostic": d})
}

// hclDiagnostics reports configuration diagnostics.
func (u *jsonUI) hclDiagnostics(diags hcl.Diagnostics) {
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		u.diagnostic(sev, d.Summary, d.Detail, d.Subject)
	}
}

func resourceRef(addr, typ, name string) map[string]any {
	return map[string]any{"addr": addr, "type": typ, "name": name}
}

// actionName is the JSON name of a plan action (Terraform's words).
func actionName(a resources.Action) string {
	switch a {
	case resources.Create:
		return "create"
	case resources.Update:
		return "update"
	case resources.Delete:
		return "delete"
	case resources.Replace:
		return "replace"
	}
	return "noop"
}
