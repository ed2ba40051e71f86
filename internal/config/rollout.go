package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Rollout is the `rollout` block: how apply walks the fleet. Without one, every host is in one
// batch and no failure stops the others.
type Rollout struct {
	BatchSize   Amount        `json:"batch_size"`   // hosts per batch; zero: all at once
	MaxFailures *Amount       `json:"max_failures"` // failed hosts tolerated; nil: no limit
	Pause       time.Duration `json:"pause"`        // wait between batches
}

// Amount is a host count, absolute ("2") or relative ("25%").
type Amount struct {
	N       int  `json:"n"`
	Percent bool `json:"percent,omitempty"`
}

func (a Amount) String() string {
	if a.Percent {
		return fmt.Sprintf("%d%%", a.N)
	}
	return strconv.Itoa(a.N)
}

// Of resolves the amount against a number of hosts. A percentage of batch size rounds up
// (25% of 3 hosts is a batch of 1, never 0); callers decide what 0 means.
func (a Amount) Of(total int, roundUp bool) int {
	if !a.Percent {
		return a.N
	}
	f := float64(total) * float64(a.N) / 100
	if roundUp {
		return int(math.Ceil(f))
	}
	return int(math.Floor(f))
}

// ParseAmount reads "3" or "25%".
func ParseAmount(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 0 || (pct && n > 100) {
		return Amount{}, fmt.Errorf("%q is not a host count: give a whole number like 2 or a percentage like \"25%%\"", s)
	}
	return Amount{N: n, Percent: pct}, nil
}

var rolloutSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "batch_size"}, {Name: "max_failures"}, {Name: "pause"},
}}

// decodeRollout reads a rollout block; its values may use variables, locals are not needed.
func decodeRollout(b *hcl.Block, ctx *hcl.EvalContext) (*Rollout, hcl.Diagnostics) {
	content, diags := b.Body.Content(rolloutSchema)
	if diags.HasErrors() {
		return nil, diags
	}
	r := &Rollout{}
	amount := func(name string) (*Amount, bool) {
		a := content.Attributes[name]
		if a == nil {
			return nil, true
		}
		v, d := a.Expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil, false
		}
		s, err := convert.Convert(v, cty.String)
		if err != nil || s.IsNull() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + name,
				Detail: name + " is a whole number of hosts or a percentage string like \"25%\".", Subject: a.Expr.Range().Ptr()})
			return nil, false
		}
		am, err := ParseAmount(s.AsString())
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + name, Detail: err.Error(), Subject: a.Expr.Range().Ptr()})
			return nil, false
		}
		return &am, true
	}
	if bs, ok := amount("batch_size"); ok && bs != nil {
		if bs.N == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid batch_size",
				Detail: "batch_size must be at least 1 (or 1%).", Subject: content.Attributes["batch_size"].Expr.Range().Ptr()})
		}
		r.BatchSize = *bs
	}
	if mf, ok := amount("max_failures"); ok {
		r.MaxFailures = mf
	}
	if a := content.Attributes["pause"]; a != nil {
		v, d := a.Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			var dur time.Duration
			var err error = fmt.Errorf("pause is a duration such as \"30s\" or \"2m\"")
			if v.Type() == cty.String && !v.IsNull() {
				dur, err = resources.ParseDuration(v.AsString(), 0, resources.MaxDuration)
			}
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid pause",
					Detail: "pause: " + err.Error() + ".", Subject: a.Expr.Range().Ptr()})
			}
			r.Pause = dur
		}
	}
	return r, diags
}

// CheckRollout applies the rules of a rollout block to one that did not come from HCL (a saved
// plan file).
func CheckRollout(r *Rollout) error {
	if r == nil {
		return nil
	}
	for name, a := range map[string]*Amount{"batch_size": &r.BatchSize, "max_failures": r.MaxFailures} {
		if a != nil && (a.N < 0 || a.Percent && a.N > 100) {
			return fmt.Errorf("rollout %s %s is not a host count or percentage", name, a)
		}
	}
	if r.Pause < 0 || r.Pause > resources.MaxDuration {
		return fmt.Errorf("rollout pause %s is out of range: from 0s to 24h", r.Pause)
	}
	return nil
}
