package resources

import (
	"math/big"
	"slices"

	"github.com/zclconf/go-cty/cty"
)

// Helpers between cty values (configuration, observed and prior attributes) and Go values,
// shared by every resource type.

// attr returns an attribute of an object value, or a null of type t when the object is null
// or lacks it.
func attr(obj cty.Value, name string, t cty.Type) cty.Value {
	if obj == cty.NilVal || obj.IsNull() || !obj.Type().IsObjectType() || !obj.Type().HasAttribute(name) {
		return cty.NullVal(t)
	}
	return obj.GetAttr(name)
}

// stringMap turns a known map/object of strings into a Go map; null gives an empty map, and
// null or non-string elements are skipped (prior state is untrusted).
func stringMap(v cty.Value) map[string]string {
	out := map[string]string{}
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			continue
		}
		out[k.AsString()] = e.AsString()
	}
	return out
}

// stringMapVal is the inverse of stringMap; an empty map is cty.MapValEmpty.
func stringMapVal(m map[string]string) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	vals := make(map[string]cty.Value, len(m))
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	return cty.MapVal(vals)
}

// stringList turns a known list, set or tuple of strings into a Go slice; null, unknown or any
// other type gives nil, and null or non-string elements are skipped (prior state is untrusted).
func stringList(v cty.Value) []string {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !(v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType()) {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if !e.IsNull() && e.IsKnown() && e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	return out
}

// stringListVal is the inverse of stringList, keeping the order; an empty slice is an empty list.
func stringListVal(l []string) cty.Value {
	if len(l) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(l))
	for i, s := range l {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

// stringSetVal is a sorted list of the distinct strings of l (for sets of names such as holds,
// where order carries no meaning and must not show as a change).
func stringSetVal(l []string) cty.Value {
	s := slices.Clone(l)
	slices.Sort(s)
	return stringListVal(slices.Compact(s))
}

// strAttr is a string attribute of an object, def when null, unknown or absent.
func strAttr(obj cty.Value, name, def string) string {
	if s, ok := optString(obj, name); ok {
		return s
	}
	return def
}

// intAttr is a whole-number attribute, def when null; ok false when not a whole number in [lo, hi].
func intAttr(obj cty.Value, name string, def, lo, hi int64) (int64, bool) {
	v := attr(obj, name, cty.Number)
	if v.IsNull() || !v.IsKnown() {
		return def, true
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() || bf.Cmp(big.NewFloat(float64(lo))) < 0 || bf.Cmp(big.NewFloat(float64(hi))) > 0 {
		return 0, false
	}
	i, _ := bf.Int64()
	return i, true
}

// optString is a string attribute of an object and whether it is set (not null, unknown or absent).
func optString(v cty.Value, name string) (string, bool) {
	a := attr(v, name, cty.String)
	if a.IsNull() || !a.IsKnown() || !a.Type().Equals(cty.String) {
		return "", false
	}
	return a.AsString(), true
}

// boolAttr is a bool attribute of an object, false when null, unknown or absent.
func boolAttr(v cty.Value, name string) bool {
	a := attr(v, name, cty.Bool)
	return !a.IsNull() && a.IsKnown() && a.True()
}

// instanceString is a string attribute of the block an instance is about: the desired value,
// or the one last applied when the block is being removed ("" when neither has it).
func instanceString(in Instance, name string) string {
	if !in.Destroying() {
		return strAttr(in.Desired, name, "")
	}
	return strAttr(in.Prior.Attributes, name, "")
}

// pathExports exports the path attribute name and derived (the path plus suffix), both unknown
// until the path is known.
func pathExports(desired cty.Value, name, derived, suffix string) map[string]cty.Value {
	p := attr(desired, name, cty.String)
	if p.IsNull() || !p.IsKnown() {
		return map[string]cty.Value{name: cty.UnknownVal(cty.String), derived: cty.UnknownVal(cty.String)}
	}
	return map[string]cty.Value{name: p, derived: cty.StringVal(p.AsString() + suffix)}
}
