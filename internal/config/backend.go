package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Backend is the `backend "TYPE" { ... }` block: where the state lives. Like Terraform's, its
// arguments are literals (no variables): the state must be found before anything is evaluated.
type Backend struct {
	Type string // "local" or "pg"
	// Path is the local state file, relative to the configuration directory ("": the default).
	Path string
	// Schema and Name select the state in PostgreSQL ("": the defaults). The connection string
	// is never configuration: it comes from the environment (SPARKFORM_PG_CONN, PG*).
	Schema, Name string
	DeclRange    hcl.Range
}

// backendArgs are the arguments each backend type takes.
var backendArgs = map[string][]string{
	"local": {"path"},
	"pg":    {"schema", "name"},
}

var pgIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// decodeBackend checks and reads one backend block.
func decodeBackend(b *hcl.Block) (*Backend, hcl.Diagnostics) {
	be := &Backend{Type: b.Labels[0], DeclRange: b.DefRange}
	allowed, ok := backendArgs[be.Type]
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown backend type",
			Detail:  fmt.Sprintf("There is no backend %q: use \"local\" (the default, a state file) or \"pg\" (PostgreSQL).", be.Type),
			Subject: b.LabelRanges[0].Ptr()}}
	}
	attrs, diags := b.Body.JustAttributes()
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := attrs[n]
		if !slices.Contains(allowed, n) {
			d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported backend argument",
				Detail:  fmt.Sprintf("The %s backend takes %s.", be.Type, strings.Join(allowed, " and ")),
				Subject: a.NameRange.Ptr()}
			if strings.Contains(n, "conn") || strings.Contains(n, "password") || strings.Contains(n, "url") {
				d.Summary = "Connection settings do not belong in configuration"
				d.Detail = "The PostgreSQL connection string comes from the environment only (SPARKFORM_PG_CONN, or the PGHOST, PGUSER, PGDATABASE, PGPASSWORD... variables), so it is never stored in files, state or plans."
			}
			diags = append(diags, d)
			continue
		}
		v, d := a.Expr.Value(nil)
		if d.HasErrors() {
			for _, x := range d {
				x.Detail += " Backend arguments are literals: the state is found before variables are evaluated."
			}
			diags = append(diags, d...)
			continue
		}
		if v.IsNull() || !v.IsKnown() || v.Type() != cty.String || v.AsString() == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid backend argument",
				Detail: fmt.Sprintf("%s must be a non-empty string.", n), Subject: a.Expr.Range().Ptr()})
			continue
		}
		s := v.AsString()
		switch n {
		case "path":
			be.Path = s
		case "schema":
			if !pgIdent.MatchString(s) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid schema name",
					Detail: "Use lower-case letters, digits and _ (at most 63, not starting with a digit).", Subject: a.Expr.Range().Ptr()})
			}
			be.Schema = s
		case "name":
			be.Name = s
		}
	}
	return be, diags
}

// LoadBackend reads only the backend block of the configuration in dir (nil: none), for the
// commands that read the state without evaluating the configuration (show, state, history,
// report). A directory without configuration files has no backend block.
func LoadBackend(dir string) (*Backend, hcl.Diagnostics) {
	names, err := configFiles(dir)
	if err != nil {
		return nil, nil // no configuration here: the local default applies
	}
	parser := hclparse.NewParser()
	schema := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "backend", LabelNames: []string{"type"}}}}
	var found *Backend
	var diags hcl.Diagnostics
	for _, name := range names {
		f, d := parser.ParseHCLFile(name)
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		content, _, d := f.Body.PartialContent(schema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			be, d := decodeBackend(b)
			diags = append(diags, d...)
			if found != nil {
				diags = append(diags, duplicateBackend(b, found))
				continue
			}
			found = be
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return found, diags
}

func duplicateBackend(b *hcl.Block, first *Backend) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate backend block",
		Detail: fmt.Sprintf("Only one backend block is allowed; the first is at %s.", posString(first.DeclRange)), Subject: b.DefRange.Ptr()}
}
