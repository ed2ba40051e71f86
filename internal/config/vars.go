package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvPrefix marks environment variables that set input variables: SPARKFORM_VAR_name=value.
const EnvPrefix = "SPARKFORM_VAR_"

// EnvVars picks the SPARKFORM_VAR_* entries of an environment (os.Environ() form) as Vars.Env.
func EnvVars(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) || len(k) == len(EnvPrefix) {
			continue
		}
		out[k[len(EnvPrefix):]] = v
	}
	return out
}

// ParseVarFlag splits a -var argument "name=value". The value is kept raw: how it is parsed
// depends on the variable's type constraint, which only Load knows.
func ParseVarFlag(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", "", fmt.Errorf("invalid -var option %q: expected name=value", s)
	}
	if !hclsyntax.ValidIdentifier(name) {
		return "", "", fmt.Errorf("invalid -var option %q: %q is not a valid variable name", s, name)
	}
	return name, value, nil
}

// variable is one `variable "name" { ... }` block.
type variable struct {
	Name        string
	Description string
	Type        cty.Type // cty.DynamicPseudoType when no type was given
	defaults    *typeexpr.Defaults
	HasDefault  bool
	Default     cty.Value
	DefaultRng  hcl.Range
	Validations []varValidation
	DeclRange   hcl.Range
}

type varValidation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

func decodeVariable(block *hcl.Block) (*variable, hcl.Diagnostics) {
	v := &variable{Name: block.Labels[0], Type: cty.DynamicPseudoType, DeclRange: block.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(v.Name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail:   "A variable name must start with a letter or underscore and contain only letters, digits, underscores and dashes.",
			Subject:  &block.LabelRanges[0],
		})
	}
	content, d := block.Body.Content(variableSchema)
	diags = append(diags, d...)

	if attr, ok := content.Attributes["description"]; ok {
		val, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if s, err := convert.Convert(val, cty.String); err != nil || s.IsNull() {
				diags = append(diags, attrTypeError(attr, "a string"))
			} else {
				v.Description = s.AsString()
			}
		}
	}
	if attr, ok := content.Attributes["type"]; ok {
		ty, defaults, d := typeexpr.TypeConstraintWithDefaults(attr.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type, v.defaults = ty, defaults
		}
	}
	if attr, ok := content.Attributes["default"]; ok {
		// A default is a constant: it is known before anything else is evaluated.
		val, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			conv, err := v.convert(val)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint %s: %s.", typeexpr.TypeString(v.Type), err),
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				v.HasDefault, v.Default, v.DefaultRng = true, conv, attr.Expr.Range()
			}
		}
	}
	for _, b := range content.Blocks {
		c, d := b.Body.Content(validationSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		v.Validations = append(v.Validations, varValidation{
			Condition:    c.Attributes["condition"].Expr,
			ErrorMessage: c.Attributes["error_message"].Expr,
			DeclRange:    b.DefRange,
		})
	}
	return v, diags
}

func (v *variable) convert(val cty.Value) (cty.Value, error) {
	if v.defaults != nil && !val.IsNull() {
		val = v.defaults.Apply(val)
	}
	return convert.Convert(val, v.Type)
}

// parseRaw turns a string from the environment or a -var flag into a value the way Terraform
// does: for a primitive (or absent) type constraint the string is taken as-is and converted;
// otherwise it is parsed as an HCL expression, so `-var 'zones=["a","b"]'` works.
func (v *variable) parseRaw(raw, filename string) (cty.Value, hcl.Range, hcl.Diagnostics) {
	rng := wholeRange(filename, raw)
	if v.Type.IsPrimitiveType() || v.Type == cty.DynamicPseudoType {
		return cty.StringVal(raw), rng, nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), filename, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, rng, diags
	}
	val, diags := expr.Value(nil)
	return val, expr.Range(), diags
}

// wholeRange spans all of src, for values that have no file of their own.
func wholeRange(filename, src string) hcl.Range {
	end := hcl.Pos{Line: 1, Column: 1, Byte: len(src)}
	for _, line := range strings.Split(src, "\n") {
		end.Column = utf8.RuneCountInString(line) + 1
	}
	end.Line = strings.Count(src, "\n") + 1
	return hcl.Range{Filename: filename, Start: hcl.InitialPos, End: end}
}

// assignment is one value given to a variable by a source outside the configuration. Raw
// strings (environment, -var) are parsed only if they win, as Terraform does, so a stale
// environment variable overridden by -var is not an error.
type assignment struct {
	name   string
	val    cty.Value // as given, before conversion; cty.NilVal while raw is unparsed
	raw    string
	file   string // synthetic file name of a raw value, for its diagnostics and snippet
	rng    hcl.Range
	source string // for messages: "the environment variable SPARKFORM_VAR_x", "a -var option", a file name
}

// resolveVariables applies default < environment < var files (in order) < -var flags (in order),
// converts each value to its type constraint and runs validation blocks. It returns the values
// of the variables that resolved, and adds the synthetic and var files to files for snippets.
func resolveVariables(decls []*variable, in Vars, files map[string]*hcl.File, funcs evalFuncs) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	byName := map[string]*variable{}
	for _, v := range decls {
		byName[v.Name] = v
	}
	final := map[string]assignment{} // the last assignment wins

	for _, name := range slices.Sorted(maps.Keys(in.Env)) {
		if _, ok := byName[name]; !ok {
			continue // like Terraform: the environment is shared by many configurations
		}
		final[name] = assignment{name: name, raw: in.Env[name], file: "<value for var." + name + " from " + EnvPrefix + name + ">",
			source: "the environment variable " + EnvPrefix + name}
	}

	for _, path := range in.Files {
		a, d := readVarFile(path, byName, files)
		diags = append(diags, d...)
		for _, a := range a {
			final[a.name] = a
		}
	}

	for _, flag := range in.Flags {
		name, raw, err := ParseVarFlag(flag)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option", Detail: err.Error()})
			continue
		}
		if _, ok := byName[name]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("A variable named %q was assigned with -var, but the configuration does not declare a variable of that name.%s", name, declaredVarsHint(decls)),
			})
			continue
		}
		final[name] = assignment{name: name, raw: raw, file: "<value for var." + name + ">", source: "a -var option"}
	}

	out := map[string]cty.Value{}
	for _, v := range decls {
		a, ok := final[v.Name]
		var val cty.Value
		rng := a.rng
		if ok {
			if a.val == cty.NilVal {
				files[a.file] = &hcl.File{Bytes: []byte(a.raw)}
				var d hcl.Diagnostics
				a.val, rng, d = v.parseRaw(a.raw, a.file)
				diags = append(diags, d...)
				if d.HasErrors() {
					continue
				}
			}
			conv, err := v.convert(a.val)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid value for variable",
					Detail:   fmt.Sprintf("Unsuitable value for var.%s set from %s: %s. The variable's type constraint is %s.", v.Name, a.source, err, typeexpr.TypeString(v.Type)),
					Subject:  rng.Ptr(),
				})
				continue
			}
			val = conv
		} else if v.HasDefault {
			val, rng = v.Default, v.DefaultRng
		} else {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("The variable %q has no default, so a value must be given with -var, -var-file or the environment variable %s%s.", v.Name, EnvPrefix, v.Name),
				Subject:  v.DeclRange.Ptr(),
			})
			continue
		}
		d := v.validate(val, rng, funcs)
		diags = append(diags, d...)
		if !d.HasErrors() {
			out[v.Name] = val
		}
	}
	return out, diags
}

// validate runs the variable's validation blocks; their expressions see only var.<this one>.
func (v *variable) validate(val cty.Value, valRng hcl.Range, funcs evalFuncs) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})},
		Functions: funcs,
	}
	for _, vr := range v.Validations {
		res, d := vr.Condition.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		res, err := convert.Convert(res, cty.Bool)
		if err != nil || res.IsNull() || !res.IsKnown() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid validation condition",
				Detail:   "The condition must evaluate to true or false.",
				Subject:  vr.Condition.Range().Ptr(),
			})
			continue
		}
		if res.True() {
			continue
		}
		msg := "The value is not valid."
		if m, d := vr.ErrorMessage.Value(ctx); !d.HasErrors() {
			if s, err := convert.Convert(m, cty.String); err == nil && !s.IsNull() && s.IsKnown() {
				msg = s.AsString()
			}
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", msg, posString(vr.DeclRange)),
			Subject:  valRng.Ptr(),
		})
	}
	return diags
}

// readVarFile reads a -var-file: HCL `name = value` lines (JSON when the name ends in .json).
func readVarFile(path string, byName map[string]*variable, files map[string]*hcl.File) ([]assignment, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read variables file", Detail: err.Error()}}
	}
	var file *hcl.File
	var diags hcl.Diagnostics
	if strings.EqualFold(filepath.Ext(path), ".json") {
		file, diags = hcljson.Parse(src, path)
	} else {
		file, diags = hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	}
	if file != nil {
		files[path] = file
	}
	if diags.HasErrors() {
		return nil, diags
	}
	attrs, d := file.Body.JustAttributes()
	diags = append(diags, d...)
	sorted := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		sorted = append(sorted, a)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Range.Start.Byte < sorted[j].Range.Start.Byte })
	var out []assignment
	for _, a := range sorted {
		if _, ok := byName[a.Name]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("The configuration does not declare a variable named %q.", a.Name),
				Subject:  a.NameRange.Ptr(),
			})
			continue
		}
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		out = append(out, assignment{name: a.Name, val: val, rng: a.Expr.Range(), source: path})
	}
	return out, diags
}

func declaredVarsHint(decls []*variable) string {
	if len(decls) == 0 {
		return " This configuration declares no variables."
	}
	names := make([]string, len(decls))
	for i, v := range decls {
		names[i] = v.Name
	}
	return " Declared variables: " + strings.Join(names, ", ") + "."
}

// posString renders a range's start as file:line:column.
func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func attrTypeError(attr *hcl.Attribute, want string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Incorrect attribute value type",
		Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s is required.", attr.Name, want),
		Subject:  attr.Expr.Range().Ptr(),
	}
}
