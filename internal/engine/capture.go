package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Capture reads back, in one round trip, what every resource type that can be captured
// (resources.Capturer) finds on the host, and returns blocks reproducing it plus notes on what
// was not captured and why. Nothing on the host changes: every fragment only reads. Each block
// is checked with its type's Validate (the same check a block in a configuration gets); a block
// that fails is left out with a note. Blocks come in the order of resources.Types().
func Capture(ctx context.Context, h provider.Host, opts resources.CaptureOptions) ([]resources.CapturedBlock, []string, error) {
	type capt struct {
		typ string
		r   resources.Resource
		c   resources.Capturer
	}
	var cs []capt
	var notes []string
	frags := []string{factsProbe}
	for _, t := range resources.Types() {
		r, _ := resources.Lookup(t)
		c, ok := r.(resources.Capturer)
		if _, check := r.(resources.Tester); !ok && check {
			notes = append(notes, fmt.Sprintf("%s: not captured: a check (what to run, thresholds) is a choice, not a setting a host has; write it by hand", t))
			continue
		}
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: not captured: it has no setting that can be read back from a host", t))
			continue
		}
		cs = append(cs, capt{typ: t, r: r, c: c})
		f := c.CaptureProbe(opts)
		if strings.TrimSpace(f) == "" {
			f = ":" // an empty subshell is a syntax error
		}
		frags = append(frags, f)
	}
	token := newToken()
	res, err := h.Run(ctx, probeScript(token, frags))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the host: %w", tooLargeNamed(err, token, func(i int) string { return "the capture probe of " + cs[i-1].typ }))
	}
	secs, err := splitSections(res.Stdout, token, len(frags))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the host: %w; stderr: %s", err, strings.TrimSpace(string(res.Stderr)))
	}
	if _, err := parseFacts(secs[0]); err != nil {
		return nil, nil, err
	}
	var blocks []resources.CapturedBlock
	for i, c := range cs {
		s := secs[i+1]
		if s.status != 0 {
			notes = append(notes, fmt.Sprintf("%s: not captured: reading the host failed (exit %d): %s", c.typ, s.status, firstLineOf(s.text())))
			continue
		}
		bs, ns, err := c.c.Capture(opts, s.stdout)
		notes = append(notes, ns...)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: not captured: %v", c.typ, err))
			continue
		}
		for _, b := range bs {
			if err := validateCaptured(c.r, b); err != nil {
				notes = append(notes, fmt.Sprintf("%s.%s: not captured: %v", b.Type, b.Name, err))
				continue
			}
			blocks = append(blocks, b)
		}
	}
	return blocks, notes, nil
}

// validateCaptured builds the value a configuration would decode for the block (its attributes
// converted to the Spec's types, the others null) and runs the type's Validate on it.
func validateCaptured(r resources.Resource, b resources.CapturedBlock) error {
	if b.Type != r.Type() {
		return fmt.Errorf("captured as type %q", b.Type)
	}
	ty := hcldec.ImpliedType(r.Spec())
	if !ty.IsObjectType() {
		return fmt.Errorf("type %s has no object body", r.Type())
	}
	vals := map[string]cty.Value{}
	for name, at := range ty.AttributeTypes() {
		vals[name] = cty.NullVal(at)
	}
	for _, a := range b.Attrs {
		at, ok := ty.AttributeTypes()[a.Name]
		if !ok {
			return fmt.Errorf("%s is not an attribute of %s", a.Name, r.Type())
		}
		v, err := convert.Convert(a.Value, at)
		if err != nil {
			return fmt.Errorf("%s: %v", a.Name, err)
		}
		vals[a.Name] = v
	}
	var msgs []string
	for _, e := range r.Validate(cty.ObjectVal(vals)) {
		msgs = append(msgs, e.Error())
	}
	if len(msgs) > 0 {
		sort.Strings(msgs)
		return fmt.Errorf("the captured values do not validate: %s", strings.Join(msgs, "; "))
	}
	return nil
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
