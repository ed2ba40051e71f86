package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
)

// metaSchema is the meta-arguments every resource block takes besides its type's own.
var metaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "hosts"},
		{Name: "labels"},
		{Name: "depends_on"},
	},
}

// resourceBlock is a resource declaration on its way to a Resource.
type resourceBlock struct {
	typ     resources.Resource
	block   *hcl.Block
	meta    *hcl.BodyContent
	remain  hcl.Body
	explict []string // depends_on addresses, in order written

	hosts    []string // evaluated `hosts`, nil when not set
	hostsSet bool
	labels   map[string]string // evaluated `labels`, nil when not set
	res      *Resource         // set once evaluated without error
}

func (l *loader) addResource(b *hcl.Block, first map[string]hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	typ := l.types[b.Type]
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid resource name",
			Detail:   fmt.Sprintf("The name %q must start with a letter or '_' and contain only letters, digits, '_' and '-', so that %s.NAME can refer to it.", name, b.Type),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	addr := b.Type + "." + name
	if d := checkDup(first, addr, "A "+b.Type+" resource", b.LabelRanges[0]); d != nil {
		return append(diags, d)
	}
	meta, remain, d := b.Body.PartialContent(metaSchema)
	diags = append(diags, d...)
	rb := &resourceBlock{typ: typ, block: b, meta: meta, remain: remain}
	n := &node{addr: addr, kind: b.Type, name: name}

	if h, lb := meta.Attributes["hosts"], meta.Attributes["labels"]; h != nil && lb != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting host selection",
			Detail:   fmt.Sprintf("%s sets both hosts (at %s) and labels; a resource selects its hosts by name or by labels, not both.", addr, posString(h.Range)),
			Subject:  lb.Range.Ptr(),
		})
	}
	if a := meta.Attributes["depends_on"]; a != nil {
		exprs, d := hcl.ExprList(a.Expr)
		diags = append(diags, d...)
		for _, e := range exprs {
			t, d := hcl.AbsTraversalForExpr(e)
			if d.HasErrors() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid depends_on reference",
					Detail: "Each depends_on entry is a resource reference such as sysctl.NAME.", Subject: e.Range().Ptr()})
				continue
			}
			dep, ok := secondStep(t)
			if _, isType := l.types[t.RootName()]; !isType || !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid depends_on reference",
					Detail:  fmt.Sprintf("depends_on lists resources as TYPE.NAME, where TYPE is one of: %s.", strings.Join(l.typeNames(), ", ")),
					Subject: e.Range().Ptr()})
				continue
			}
			depAddr := t.RootName() + "." + dep
			rb.explict = append(rb.explict, depAddr)
			n.deps = append(n.deps, ref{addr: depAddr, rng: t.SourceRange()})
		}
	}

	// dynblock's walk also sees the for_each of `dynamic` blocks and excludes their iterator.
	n.travs = dynblock.VariablesHCLDec(remain, typ.Spec())
	for _, k := range []string{"hosts", "labels"} {
		if a := meta.Attributes[k]; a != nil {
			n.travs = append(n.travs, a.Expr.Variables()...)
		}
	}
	n.eval = func(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) { return rb.eval(ctx, n) }
	n.failed = diags.HasErrors()
	l.nodes[addr] = n
	l.decl = append(l.decl, n)
	l.res = append(l.res, rb)
	return diags
}

func (rb *resourceBlock) eval(ctx *hcl.EvalContext, n *node) (cty.Value, hcl.Diagnostics) {
	val, diags := hcldec.Decode(dynblock.Expand(rb.remain, ctx), rb.typ.Spec(), ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if v, _, ok := attrValue(ctx, rb.meta.Attributes, "hosts", cty.List(cty.String), &diags); ok {
		rb.hostsSet = true
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				diags = append(diags, invalidAttr(rb.meta.Attributes["hosts"], "A host name in hosts is null."))
				continue
			}
			rb.hosts = append(rb.hosts, e.AsString())
		}
	}
	if v, a, ok := attrValue(ctx, rb.meta.Attributes, "labels", cty.Map(cty.String), &diags); ok {
		rb.labels = map[string]string{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if e.IsNull() {
				diags = append(diags, invalidAttr(a, "The label %q has a null value.", k.AsString()))
				continue
			}
			rb.labels[k.AsString()] = e.AsString()
		}
	}
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	diags = append(diags, rb.validate(val)...)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}

	// Dependencies are the explicit depends_on plus every resource the body refers to, as in
	// Terraform: a value taken from another resource implies it is applied first.
	seen := map[string]bool{n.addr: true}
	var deps []string
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			deps = append(deps, a)
		}
	}
	for _, a := range rb.explict {
		add(a)
	}
	for _, r := range n.refs {
		if k, _, _ := strings.Cut(r.addr, "."); k != rootVar && k != rootLocal && k != rootHost {
			add(r.addr)
		}
	}
	sort.Strings(deps)
	rb.res = &Resource{Type: rb.block.Type, Name: rb.block.Labels[0], Body: val, DependsOn: deps, DeclRange: rb.block.DefRange}
	return val, diags
}

// validate runs the type's Validate and places each complaint on the attribute it names.
func (rb *resourceBlock) validate(val cty.Value) (diags hcl.Diagnostics) {
	defer func() {
		// A resource type is code written apart from this package; a panic on an odd value
		// must become an error at the block, not crash validate.
		if p := recover(); p != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Internal error validating " + rb.block.Type,
				Detail:   fmt.Sprintf("The %s resource type failed while validating this block: %v", rb.block.Type, p),
				Subject:  rb.block.DefRange.Ptr(),
			})
		}
	}()
	for _, e := range rb.typ.Validate(val) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s.%s", rb.block.Type, e.Attr),
			Detail:   e.Msg,
			Subject:  rb.attrRange(e.Attr).Ptr(),
		})
	}
	return diags
}

// attrRange is the source range of a top-level attribute (its value) or nested block in the
// resource body, or the block header when the body doesn't name it.
func (rb *resourceBlock) attrRange(name string) hcl.Range {
	if body, ok := rb.block.Body.(*hclsyntax.Body); ok {
		if a, ok := body.Attributes[name]; ok {
			return a.Expr.Range()
		}
		for _, b := range body.Blocks {
			if b.Type == name || b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == name {
				return b.DefRange()
			}
		}
	}
	return rb.block.DefRange
}

// selectHosts resolves each resource's hosts or labels meta-argument to host names. Names in
// `hosts` are checked even for a resource that failed validation, so one run reports both.
func (l *loader) selectHosts() hcl.Diagnostics {
	var diags hcl.Diagnostics
	declared := map[string]bool{}
	var names []string
	for _, hb := range l.hosts {
		declared[hb.name] = true
		names = append(names, hb.name)
	}
	sort.Strings(names)
	var unselected []string
	for _, rb := range l.res {
		set := map[string]bool{}
		bad := false
		if rb.hostsSet {
			a := rb.meta.Attributes["hosts"]
			elems, _ := a.Expr.(*hclsyntax.TupleConsExpr)
			for i, h := range rb.hosts {
				if declared[h] {
					set[h] = true
					continue
				}
				bad = true
				rng := a.Expr.Range()
				if elems != nil && len(elems.Exprs) == len(rb.hosts) {
					rng = elems.Exprs[i].Range()
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared host",
					Detail: fmt.Sprintf("%s.%s selects the host %q, which is not declared. Declared hosts: %s.",
						rb.block.Type, rb.block.Labels[0], h, listOrNone(names)),
					Subject: rng.Ptr(),
				})
			}
		}
		if rb.res == nil {
			continue
		}
		switch {
		case rb.hostsSet:
		case rb.labels != nil:
			for _, hb := range l.hosts {
				if hb.host != nil && matchLabels(hb.host.Labels, rb.labels) {
					set[hb.name] = true
				}
			}
		default:
			for _, hb := range l.hosts {
				set[hb.name] = true
			}
		}
		rb.res.Hosts = slices.Sorted(maps.Keys(set))
		if len(set) > 0 || bad {
			continue
		}
		if len(l.hosts) == 0 {
			unselected = append(unselected, rb.res.Addr())
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Resource selects no hosts",
			Detail:   fmt.Sprintf("%s applies to no host, so it will do nothing.", rb.res.Addr()),
			Subject:  rb.block.DefRange.Ptr(),
		})
	}
	if len(unselected) > 0 {
		// One warning, not one per resource: a configuration kept apart from its host
		// blocks (the lab writes them to their own file) is a normal thing to validate.
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "No hosts declared",
			Detail:   fmt.Sprintf("The configuration declares no host blocks, so %s will do nothing.", strings.Join(unselected, ", ")),
		})
	}
	return diags
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
