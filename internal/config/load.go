package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
)

// Reserved reference roots; a resource type can't take these names.
const (
	rootVar   = "var"
	rootLocal = "local"
	rootHost  = "host"
)

// Load parses every *.hcl file in dir (sorted by name; not recursive; *.sfvars are var files,
// not configuration), evaluates variables, locals and blocks in dependency order, selects the
// hosts of each resource and validates everything; diagnostics carry file:line:column.
//
// The returned Config is never nil. When the diagnostics hold an error, only its Dir and Files
// are set — Files so the caller can print the diagnostics with snippets (WriteDiagnostics) —
// and the caller must do nothing else with it. Warnings alone leave a complete Config.
func Load(dir string, vars Vars) (*Config, hcl.Diagnostics) {
	l := &loader{
		dir:   dir,
		files: map[string]*hcl.File{},
		funcs: functions(dir),
		nodes: map[string]*node{},
		types: map[string]resources.Resource{},
	}
	cfg, diags := l.load(vars)
	if diags.HasErrors() || cfg == nil {
		return &Config{Dir: dir, Files: l.files}, diags
	}
	return cfg, diags
}

// node is one thing in the evaluation graph: a variable (already resolved), a local value,
// a host or a resource. Edges are references found in its expressions, and depends_on.
type node struct {
	addr   string // "var.x", "local.x", "host.x", "type.x"
	kind   string // rootVar, rootLocal, rootHost or a resource type
	name   string
	travs  []hcl.Traversal // references in its expressions, resolved into refs by resolveRefs
	deps   []ref           // depends_on entries, already type.name
	refs   []ref
	eval   func(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics)
	state  int  // DFS: 0 new, 1 on the stack, 2 done
	failed bool // it, or something it needs, has an error already reported
}

type ref struct {
	addr string
	rng  hcl.Range
}

type loader struct {
	dir   string
	files map[string]*hcl.File
	funcs evalFuncs
	types map[string]resources.Resource

	nodes  map[string]*node
	decl   []*node // locals, hosts, resources in declaration order
	hosts  []*hostBlock
	res    []*resourceBlock
	varVal map[string]cty.Value
}

func (l *loader) load(in Vars) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	for _, t := range resources.Types() {
		if t == rootVar || t == rootLocal || t == rootHost || t == "variable" || t == "locals" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid resource type",
				Detail: fmt.Sprintf("The resource type %q collides with a reserved name of the language.", t)})
			continue
		}
		r, _ := resources.Lookup(t)
		l.types[t] = r
	}

	names, err := configFiles(l.dir)
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read configuration directory", Detail: err.Error()})
	}
	if len(names) == 0 {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No configuration files",
			Detail: fmt.Sprintf("The directory %s contains no *.hcl files.%s", l.dir, subdirsHint(l.dir))})
	}

	parser := hclparse.NewParser()
	var bodies []*hcl.File
	for _, name := range names {
		f, d := parser.ParseHCLFile(name)
		diags = append(diags, d...)
		if f != nil {
			l.files[name] = f
			bodies = append(bodies, f)
		}
	}
	if diags.HasErrors() {
		return nil, diags // syntax errors: nothing further is meaningful
	}

	var varDecls []*variable
	var rolloutBlock *hcl.Block
	var backend *Backend
	first := map[string]hcl.Range{} // address → first declaration, for duplicate messages
	schema := l.topSchema()
	for _, f := range bodies {
		content, d := f.Body.Content(schema)
		diags = append(diags, l.explainTopLevel(d)...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable":
				v, d := decodeVariable(b)
				diags = append(diags, d...)
				if dup := checkDup(first, "var."+v.Name, "A variable", b.LabelRanges[0]); dup != nil {
					diags = append(diags, dup)
					continue
				}
				varDecls = append(varDecls, v)
			case "locals":
				diags = append(diags, l.addLocals(b, first)...)
			case "host":
				diags = append(diags, l.addHost(b, first)...)
			case "rollout":
				if d := checkDup(first, "rollout.rollout", "A rollout", b.DefRange); d != nil {
					d.Summary, d.Detail = "Duplicate rollout block", fmt.Sprintf("Only one rollout block is allowed; the first is at %s.", posString(first["rollout.rollout"]))
					diags = append(diags, d)
					continue
				}
				rolloutBlock = b
			case "backend":
				be, d := decodeBackend(b)
				diags = append(diags, d...)
				if backend != nil {
					diags = append(diags, duplicateBackend(b, backend))
				} else if be != nil {
					backend = be
				}
			default:
				diags = append(diags, l.addResource(b, first)...)
			}
		}
	}

	varVals, d := resolveVariables(varDecls, in, l.files, l.funcs)
	diags = append(diags, d...)
	l.varVal = varVals
	var rollout *Rollout
	if rolloutBlock != nil {
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{rootVar: cty.ObjectVal(varVals)}, Functions: l.funcs}
		r, d := decodeRollout(rolloutBlock, ctx)
		diags = append(diags, d...)
		rollout = r
	}
	for _, v := range varDecls {
		_, ok := varVals[v.Name]
		l.nodes["var."+v.Name] = &node{addr: "var." + v.Name, kind: rootVar, name: v.Name, state: 2, failed: !ok}
	}

	for _, n := range l.decl {
		diags = append(diags, l.resolveRefs(n)...)
	}
	order, d := l.sortNodes()
	diags = append(diags, d...)
	diags = append(diags, l.evaluate(order)...)
	diags = append(diags, l.selectHosts()...)
	if diags.HasErrors() {
		return nil, diags
	}

	cfg := &Config{Dir: l.dir, Files: l.files, Variables: varVals, Rollout: rollout, Backend: backend}
	for _, h := range l.hosts {
		cfg.Hosts = append(cfg.Hosts, h.host)
	}
	sort.Slice(cfg.Hosts, func(i, j int) bool { return cfg.Hosts[i].Name < cfg.Hosts[j].Name })
	for _, r := range l.res {
		cfg.Resources = append(cfg.Resources, r.res)
	}
	cfg.Hash = hashConfig(cfg)
	return cfg, diags
}

// configFiles lists dir/*.hcl sorted by name, skipping hidden and editor backup files.
// subdirsHint names the subdirectories of dir that hold *.hcl files (plan examples, not
// plan examples/spark-known-good), at most 5, or says nothing.
func subdirsHint(dir string) string {
	entries, _ := os.ReadDir(dir)
	var with []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if names, err := configFiles(filepath.Join(dir, e.Name())); err == nil && len(names) > 0 {
			with = append(with, fmt.Sprintf("%q", filepath.Join(dir, e.Name())))
		}
	}
	switch {
	case len(with) == 0:
		return ""
	case len(with) > 5:
		with = append(with[:5], fmt.Sprintf("and %d more", len(with)-5))
	}
	return " These directories in it do: " + strings.Join(with, ", ") + "."
}

func configFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".hcl") || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "#") {
			continue
		}
		out = append(out, filepath.Join(dir, n))
	}
	sort.Strings(out)
	return out, nil
}

func (l *loader) topSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "host", LabelNames: []string{"name"}},
		{Type: "rollout"},
		{Type: "backend", LabelNames: []string{"type"}},
	}}
	for _, t := range l.typeNames() {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: t, LabelNames: []string{"name"}})
	}
	return s
}

func (l *loader) typeNames() []string {
	out := make([]string, 0, len(l.types))
	for t := range l.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// explainTopLevel adds the list of valid block types to hcl's top-level complaints, since a
// user who typed an unknown block type most likely wants to know what exists.
func (l *loader) explainTopLevel(diags hcl.Diagnostics) hcl.Diagnostics {
	valid := append([]string{"variable", "locals", "host", "rollout", "backend"}, l.typeNames()...)
	for _, d := range diags {
		switch d.Summary {
		case "Unsupported block type":
			d.Detail += " Valid block types are: " + strings.Join(valid, ", ") + "."
		case "Unsupported argument":
			d.Detail += " The top level of a configuration holds only blocks: " + strings.Join(valid, ", ") + "."
		}
	}
	return diags
}

// checkDup records addr's first declaration, or returns the error for a second one.
func checkDup(first map[string]hcl.Range, addr, what string, rng hcl.Range) *hcl.Diagnostic {
	if prev, ok := first[addr]; ok {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate " + strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(what, "A "), "An ")) + " name",
			Detail:   fmt.Sprintf("%s named %q was already declared at %s. Names must be unique.", what, addr[strings.IndexByte(addr, '.')+1:], posString(prev)),
			Subject:  rng.Ptr(),
		}
	}
	first[addr] = rng
	return nil
}

func (l *loader) addLocals(b *hcl.Block, first map[string]hcl.Range) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	sorted := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		sorted = append(sorted, a)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Range.Start.Byte < sorted[j].Range.Start.Byte })
	for _, a := range sorted {
		if d := checkDup(first, "local."+a.Name, "A local value", a.NameRange); d != nil {
			diags = append(diags, d)
			continue
		}
		expr := a.Expr
		n := &node{
			addr: "local." + a.Name, kind: rootLocal, name: a.Name,
			travs: expr.Variables(),
			eval:  func(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) { return expr.Value(ctx) },
		}
		l.nodes[n.addr] = n
		l.decl = append(l.decl, n)
	}
	return diags
}

// resolveRefs validates every reference of n against the declarations and keeps the address
// of each as an edge. An invalid reference marks n failed, so it is not evaluated into a
// second, vaguer error.
func (l *loader) resolveRefs(n *node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, r := range n.deps {
		if _, ok := l.nodes[r.addr]; !ok {
			diags = append(diags, undeclared(r.addr, r.rng))
			n.failed = true
			continue
		}
		n.refs = append(n.refs, r)
	}
	for _, t := range n.travs {
		addr, d := l.refAddr(t)
		if d != nil {
			diags = append(diags, d)
			n.failed = true
			continue
		}
		n.refs = append(n.refs, ref{addr: addr, rng: t.SourceRange()})
	}
	return diags
}

// refAddr maps a traversal to the address of what it refers to.
func (l *loader) refAddr(t hcl.Traversal) (string, *hcl.Diagnostic) {
	root := t.RootName()
	rng := t.SourceRange()
	_, isType := l.types[root]
	if root != rootVar && root != rootLocal && root != rootHost && !isType {
		return "", &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reference to unknown name",
			Detail: fmt.Sprintf("There is nothing named %q. A reference starts with var., local., host. or a resource type (%s).",
				root, strings.Join(l.typeNames(), ", ")),
			Subject: rng.Ptr(),
		}
	}
	name, ok := secondStep(t)
	if !ok {
		return "", &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid reference",
			Detail:   fmt.Sprintf("A reference to %s must name one item, as %s.NAME or %s[\"NAME\"].", root, root, root),
			Subject:  rng.Ptr(),
		}
	}
	addr := root + "." + name
	if _, ok := l.nodes[addr]; !ok {
		return "", undeclared(addr, rng)
	}
	return addr, nil
}

func undeclared(addr string, rng hcl.Range) *hcl.Diagnostic {
	kind, name, _ := strings.Cut(addr, ".")
	what := map[string]string{rootVar: "input variable", rootLocal: "local value", rootHost: "host"}[kind]
	if what == "" {
		what = "resource"
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Reference to undeclared " + what,
		Detail:   fmt.Sprintf("There is no %s named %q (%s) in this configuration.", what, name, addr),
		Subject:  rng.Ptr(),
	}
}

// secondStep is the name after the root: x in var.x or var["x"].
func secondStep(t hcl.Traversal) (string, bool) {
	if len(t) < 2 {
		return "", false
	}
	switch s := t[1].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// sortNodes orders the declarations so each comes after everything it references (a DFS
// post-order, starting in declaration order so the result is stable) and reports cycles.
func (l *loader) sortNodes() ([]*node, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var order, stack []*node
	var visit func(n *node)
	visit = func(n *node) {
		n.state = 1
		stack = append(stack, n)
		for _, r := range n.refs {
			m := l.nodes[r.addr]
			switch m.state {
			case 0:
				visit(m)
			case 1:
				i := len(stack) - 1
				for stack[i] != m {
					i--
				}
				path := make([]string, 0, len(stack)-i+1)
				for _, c := range stack[i:] {
					path = append(path, c.addr)
					c.failed = true
				}
				path = append(path, m.addr)
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Dependency cycle",
					Detail:   fmt.Sprintf("%s refers back to itself: %s.", m.addr, strings.Join(path, " → ")),
					Subject:  r.rng.Ptr(),
				})
			}
		}
		stack = stack[:len(stack)-1]
		n.state = 2
		order = append(order, n)
	}
	for _, n := range l.decl {
		if n.state == 0 {
			visit(n)
		}
	}
	return order, diags
}

// evaluate runs the nodes in order. A node whose dependency failed is skipped without a
// diagnostic of its own: the root cause was reported already.
func (l *loader) evaluate(order []*node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ns := map[string]map[string]cty.Value{rootVar: l.varVal, rootLocal: {}, rootHost: {}}
	for t := range l.types {
		ns[t] = map[string]cty.Value{}
	}
	for _, n := range order {
		if n.kind == rootVar {
			continue
		}
		for _, r := range n.refs {
			if l.nodes[r.addr].failed {
				n.failed = true
			}
		}
		if n.failed {
			continue
		}
		vars := make(map[string]cty.Value, len(ns))
		for k, m := range ns {
			vars[k] = cty.ObjectVal(m)
		}
		val, d := n.eval(&hcl.EvalContext{Variables: vars, Functions: l.funcs})
		diags = append(diags, d...)
		if d.HasErrors() {
			n.failed = true
			continue
		}
		if !val.IsWhollyKnown() {
			n.failed = true
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value not known",
				Detail: fmt.Sprintf("%s depends on a value that is not known while loading the configuration.", n.addr)})
			continue
		}
		ns[n.kind][n.name] = l.exposed(n.kind, val)
	}
	return diags
}

// exposed is what other blocks see of a node: a resource's body plus the computed attributes
// its type exports (llama_cpp.NAME.bin_dir), which a body attribute of the same name never hides.
func (l *loader) exposed(kind string, val cty.Value) cty.Value {
	typ, ok := l.types[kind]
	if !ok {
		return val
	}
	exp, ok := typ.(resources.Exporter)
	if !ok || !val.Type().IsObjectType() {
		return val
	}
	attrs := val.AsValueMap()
	if attrs == nil {
		attrs = map[string]cty.Value{}
	}
	for k, v := range exp.Exports(val) {
		attrs[k] = v
	}
	return cty.ObjectVal(attrs)
}
