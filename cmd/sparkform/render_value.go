package main

// State resources and cty values as text (show, state show, history, plan).

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// renderStateResource writes one resource of the state as an HCL-like block: when it was
// applied, its attributes and the values it replaced.
func renderStateResource(w io.Writer, indent, addr string, r *state.Resource) {
	renderStateBlock(w, indent, addr, r, "applied "+english.Time(r.AppliedAt))
}

// renderStateBlock is renderStateResource with its note on the address line said by the caller
// ("applied ...", for a group of hosts a span); none when note is "".
func renderStateBlock(w io.Writer, indent, addr string, r *state.Resource, note string) {
	if note != "" {
		note = " (" + note + ")"
	}
	fmt.Fprintf(w, "%s# %s%s\n", indent, termsafe.Line(addr), note)
	fmt.Fprintf(w, "%s%s %q {\n", indent, termsafe.Line(r.Type), r.Name)
	writeAttrs(w, indent+"    ", r.Attributes.Value)
	if !isNullValue(r.Original.Value) {
		fmt.Fprintf(w, "%s    # values before sparkform first changed them:\n", indent)
		writeOriginal(w, indent+"    ", r.Original.Value)
	}
	fmt.Fprintf(w, "%s}\n", indent)
}

// stateLineWidth is where show's "# original = { ... }" line breaks into one line per key (a
// kernel's held packages made it ~170 characters); shorter ones stay on one line.
const stateLineWidth = 160

func writeOriginal(w io.Writer, indent string, v cty.Value) {
	line := renderValue(v)
	if len(indent)+len("# original = ")+len(line) <= stateLineWidth || !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		fmt.Fprintf(w, "%s# original = %s\n", indent, line)
		return
	}
	fmt.Fprintf(w, "%s# original = {\n", indent)
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		fmt.Fprintf(w, "%s#   %q = %s\n", indent, k.AsString(), renderValue(e))
	}
	fmt.Fprintf(w, "%s# }\n", indent)
}

func writeAttrs(w io.Writer, indent string, v cty.Value) {
	if isNullValue(v) || !v.Type().IsObjectType() {
		fmt.Fprintf(w, "%s%s\n", indent, renderValue(v))
		return
	}
	names := make([]string, 0)
	for n := range v.Type().AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "%s%-*s = %s\n", indent, width, termsafe.Line(n), renderValue(v.GetAttr(n)))
	}
}

// renderValue prints a cty value in HCL-like syntax on one line.
func renderValue(v cty.Value) string {
	switch {
	case v == cty.NilVal || v.IsNull():
		return "null"
	case !v.IsKnown():
		return "(known after apply)"
	case v.Type() == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case v.Type() == cty.Bool:
		return fmt.Sprint(v.True())
	case v.Type().IsMapType() || v.Type().IsObjectType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			parts = append(parts, fmt.Sprintf("%q = %s", k.AsString(), renderValue(e)))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case v.CanIterateElements():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			parts = append(parts, renderValue(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return v.GoString()
}

func isNullValue(v cty.Value) bool { return v == cty.NilVal || v.IsNull() }
