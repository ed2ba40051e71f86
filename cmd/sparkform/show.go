package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// show [-json] [PLANFILE | DIR]: a saved plan, or the state of DIR (default: the current directory).
func runShow(in *invocation, _ *noFlags) int {
	file, dir, stdout, stderr := in.arg, ".", in.stdout, in.stderr
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		dir, file = file, ""
	}
	if file != "" {
		p, err := loadPlan(file)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		if in.json {
			newJSONUI(stdout, "show").plan(p, "plan")
		} else {
			renderPlan(stdout, p, styleFor(stdout, in.noColor))
		}
		return 0
	}
	path, st, err := readState(dir, in.state)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	path.Close()
	if in.json {
		ui := newJSONUI(stdout, "show")
		n := 0
		for _, host := range sortedKeysOf(st.Hosts) {
			hs := st.Hosts[host]
			for _, addr := range sortedKeysOf(hs.Resources) {
				r := hs.Resources[addr]
				ui.emit("info", "state_resource", host+": "+addr, map[string]any{"host": map[string]any{"name": host, "host_key": hs.HostKey},
					"resource": resourceRef(addr, r.Type, r.Name), "attributes": valueJSON(r.Attributes.Value),
					"original": valueJSON(r.Original.Value), "applied_at": r.AppliedAt.UTC().Format(time.RFC3339Nano)})
				n++
			}
		}
		ui.emit("info", "state_summary", fmt.Sprintf("%s on %s.", plural(n, "resource"), plural(len(st.Hosts), "host")),
			map[string]any{"state": map[string]any{"serial": st.Serial, "lineage": st.Lineage, "hosts": len(st.Hosts), "resources": n}})
		return 0
	}
	if len(st.Hosts) == 0 {
		fmt.Fprintf(stdout, "The state at %s holds no hosts.\n", path)
		return 0
	}
	for _, host := range sortedKeysOf(st.Hosts) {
		hs := st.Hosts[host]
		fmt.Fprintf(stdout, "%s\n", termsafe.Line(host))
		for _, addr := range sortedKeysOf(hs.Resources) {
			renderStateResource(stdout, "  ", addr, hs.Resources[addr])
		}
		fmt.Fprintln(stdout)
	}
	return 0
}

func renderStateResource(w io.Writer, indent, addr string, r *state.Resource) {
	fmt.Fprintf(w, "%s# %s (applied %s)\n", indent, termsafe.Line(addr), r.AppliedAt.Local().Format(time.RFC3339))
	fmt.Fprintf(w, "%s%s %q {\n", indent, termsafe.Line(r.Type), r.Name)
	writeAttrs(w, indent+"    ", r.Attributes.Value)
	if !isNullValue(r.Original.Value) {
		fmt.Fprintf(w, "%s    # values before sparkform first changed them:\n", indent)
		fmt.Fprintf(w, "%s    # original = %s\n", indent, renderValue(r.Original.Value))
	}
	fmt.Fprintf(w, "%s}\n", indent)
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

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
