package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
)

// fakeRes is a test-only resource type, so these tests don't depend on the real ones.
// Loading only calls Type, Spec and Validate; the embedded nil interface stands in for the
// engine-side methods, keeping this file independent of their signatures.
type fakeRes struct {
	resources.Resource
	typ  string
	spec hcldec.Spec
	bad  string // Validate rejects attribute "value" containing this
}

func (f fakeRes) Type() string      { return f.typ }
func (f fakeRes) Spec() hcldec.Spec { return f.spec }
func (f fakeRes) Validate(v cty.Value) []resources.AttrError {
	if f.bad == "" {
		return nil
	}
	if s := v.GetAttr("value"); !s.IsNull() && strings.Contains(s.AsString(), f.bad) {
		return []resources.AttrError{{Attr: "value", Msg: "must not contain " + f.bad}}
	}
	return nil
}

// fakeExporter exports a computed attribute, as llama_cpp exports bin_dir.
type fakeExporter struct{ fakeRes }

func (f fakeExporter) Exports(v cty.Value) map[string]cty.Value {
	return map[string]cty.Value{"bin_dir": cty.StringVal(v.GetAttr("value").AsString() + "/current/bin")}
}

func init() {
	resources.Register(fakeExporter{fakeRes{typ: "testexport", spec: hcldec.ObjectSpec{
		"value": &hcldec.AttrSpec{Name: "value", Type: cty.String, Required: true},
	}}})
	// testres rejects values holding ';', to exercise the Validate → diagnostic mapping.
	resources.Register(fakeRes{typ: "testres", bad: ";", spec: hcldec.ObjectSpec{
		"value": &hcldec.AttrSpec{Name: "value", Type: cty.String, Required: true},
		"count": &hcldec.AttrSpec{Name: "count", Type: cty.Number},
		"tags":  &hcldec.AttrSpec{Name: "tags", Type: cty.Map(cty.String)},
	}})
	resources.Register(fakeRes{typ: "testother", spec: hcldec.ObjectSpec{
		"from": &hcldec.AttrSpec{Name: "from", Type: cty.String},
		"n":    &hcldec.AttrSpec{Name: "n", Type: cty.Number},
		"rule": &hcldec.BlockListSpec{TypeName: "rule", Nested: hcldec.ObjectSpec{
			"port": &hcldec.AttrSpec{Name: "port", Type: cty.Number, Required: true},
		}},
	}})
}
