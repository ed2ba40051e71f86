package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"golang.org/x/crypto/ssh"
)

// errUntrustedPlan is returned for a plan file that breaks the rules its configuration would.
var errUntrustedPlan = errors.New("the plan file holds what no valid configuration and state would")

// checkBody treats v as an untrusted body of resource type typ (from a plan file or a state
// generation): it must convert to the type's Spec (attributes beyond it, such as what state
// records after an apply, are dropped) and pass the type's Validate. It returns the body in the
// Spec's shape, or an error naming every attribute that fails.
func checkBody(typ string, v cty.Value) (body cty.Value, err error) {
	r, ok := resources.Lookup(typ)
	if !ok {
		return cty.NilVal, fmt.Errorf("unknown resource type %q", typ)
	}
	if v == cty.NilVal || v.IsNull() || !v.IsWhollyKnown() {
		return cty.NilVal, fmt.Errorf("the body is null or not known")
	}
	body, err = convert.Convert(v, hcldec.ImpliedType(r.Spec()))
	if err != nil {
		return cty.NilVal, fmt.Errorf("the body does not have the attributes of a %s block: %v", typ, err)
	}
	defer func() {
		// Validate is written for decoded HCL; a body shaped by hand must not crash apply.
		if p := recover(); p != nil {
			body, err = cty.NilVal, fmt.Errorf("the body is not one a %s block can have: %v", typ, p)
		}
	}()
	var msgs []string
	for _, e := range r.Validate(body) {
		msgs = append(msgs, e.Error())
	}
	if len(msgs) > 0 {
		return cty.NilVal, errors.New(strings.Join(msgs, "; "))
	}
	return body, nil
}

// CheckSavedPlan treats a saved plan as input like HCL (someone else may have written or edited
// the file) before anything of it reaches a host: every desired body passes its type's Validate
// (and apply uses the validated body), what the plan says state held must be what state holds,
// connection settings follow the rules of a host block, the host key a plan pins must be the one
// state pins, and keys are checked strictly (a saved plan never pins a new key: the plan that
// made it already did). Call it after CheckFresh, with the state locked.
func CheckSavedPlan(p *Plan, st *state.State) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := config.CheckRollout(p.Rollout); err != nil {
		add("%v", err)
	}
	if resources.HasControl(p.Note) {
		add("the note has control characters")
	}
	seen := map[string]bool{}
	for _, hp := range p.Hosts {
		if hp == nil || hp.Connection == nil {
			add("a host has no connection settings")
			continue
		}
		if seen[hp.Name] {
			add("host %q is planned twice", hp.Name)
		}
		seen[hp.Name] = true
		if hp.Connection.Name != hp.Name || hp.Connection.Address != hp.Address {
			add("%s: its connection settings name another host (%q at %q)", hp.Name, hp.Connection.Name, hp.Connection.Address)
		}
		if err := config.CheckHost(hp.Connection); err != nil {
			add("%s: %v", hp.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		hs := st.Hosts[hp.Name]
		if hp.HostKey != "" {
			if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hp.HostKey)); err != nil {
				add("%s: the pinned host key is not a public key", hp.Name)
			} else if hs != nil && hs.HostKey != "" && strings.TrimSpace(hs.HostKey) != strings.TrimSpace(hp.HostKey) {
				add("%s: the plan pins a host key that is not the one state pins", hp.Name)
			}
		}
		hp.Connection.HostKeyPolicy = config.HostKeyStrict
		for _, c := range hp.Changes {
			if err := checkChange(c, hs); err != nil {
				add("%s: %v", hp.Name, err)
			}
		}
	}
	p.saved = true
	if len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = e.Error()
		}
		return fmt.Errorf("%w: nothing was applied:\n  %s", errUntrustedPlan, strings.Join(lines, "\n  "))
	}
	return nil
}

// checkChange checks one planned change against its type's rules and the state it was made from.
func checkChange(c *Change, hs *state.Host) error {
	if c == nil {
		return fmt.Errorf("an empty change")
	}
	if !hclsyntax.ValidIdentifier(c.Name) || c.Addr != c.Type+"."+c.Name {
		return fmt.Errorf("%q is not a resource address", c.Addr)
	}
	switch c.Action {
	case resources.NoOp, resources.Create, resources.Update, resources.Delete, resources.Replace:
	default:
		return fmt.Errorf("%s: unknown action %q", c.Addr, c.Action)
	}
	if _, ok := resources.Lookup(c.Type); !ok {
		return fmt.Errorf("%s: unknown resource type %q", c.Addr, c.Type)
	}
	if !c.Destroying() {
		body, err := checkBody(c.Type, c.Desired.Value)
		if err != nil {
			return fmt.Errorf("%s: %v", c.Addr, err)
		}
		c.Desired = state.Value{Value: body}
	} else if c.Action != resources.Delete && c.Action != resources.NoOp {
		return fmt.Errorf("%s: a %s without a desired body", c.Addr, c.Action)
	}
	// The state is the one the plan was made against (CheckFresh): what the plan says it held
	// must be what it holds, or a destroy could "restore" values nobody ever had.
	attrs, orig := cty.NullVal(cty.DynamicPseudoType), cty.NullVal(cty.DynamicPseudoType)
	if hs != nil {
		if sr := hs.Resources[c.Addr]; sr != nil {
			attrs, orig = sr.Attributes.Value, sr.Original.Value
		}
	}
	if !sameStateValue(c.PriorAttributes.Value, attrs) || !sameStateValue(c.PriorOriginal.Value, orig) {
		return fmt.Errorf("%s: what the plan says state held differs from the state", c.Addr)
	}
	return nil
}

// sameStateValue compares two values that went through state's JSON encoding; NilVal and null match.
func sameStateValue(a, b cty.Value) bool {
	an, bn := isNull(a), isNull(b)
	if an || bn {
		return an && bn
	}
	return a.Type().Equals(b.Type()) && a.RawEquals(b)
}

// reprobe reads the host again for the changes of a saved plan: what the file says was observed
// is a file's word, and Apply acts on it (a venv's generations become rm -rf operands, a build id
// a path). Each change gets what the host shows now, and must give the diff the plan showed;
// otherwise nothing is changed on the host. One exec, like a plan's probe.
func reprobe(ctx context.Context, h provider.Host, hp *HostPlan, changes []*Change, timeout time.Duration) error {
	if len(changes) == 0 {
		return nil
	}
	instances := make([]resources.Instance, len(changes))
	for i, c := range changes {
		instances[i] = c.instance()
	}
	_, outs, err := probeHost(ctx, h, instances, timeout)
	if err != nil {
		return fmt.Errorf("reading the host again before applying the saved plan: %w", err)
	}
	var changed []string
	fresh := make([]*Change, len(changes))
	for i, c := range changes {
		r, _ := resources.Lookup(c.Type)
		f, err := diffInstance(r, instances[i], outs[i])
		if err != nil {
			return fmt.Errorf("reading the host again before applying the saved plan: %w", err)
		}
		now, _ := json.Marshal(f.Diff)
		then, _ := json.Marshal(c.Diff)
		if !bytes.Equal(now, then) {
			changed = append(changed, c.Addr)
		}
		fresh[i] = f
	}
	if len(changed) > 0 {
		return fmt.Errorf("the host changed since the plan was made (%s would no longer do what the plan shows): nothing was applied on %s; make a new plan", strings.Join(changed, ", "), hp.Name)
	}
	for i, c := range changes {
		c.Observed = fresh[i].Observed
	}
	return nil
}
