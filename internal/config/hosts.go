package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Host key policies.
const (
	HostKeyStrict    = "strict"
	HostKeyAcceptNew = "accept-new"
)

var hostSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address", Required: true},
		{Name: "port"},
		{Name: "user"},
		{Name: "identity_file"},
		{Name: "known_hosts"},
		{Name: "host_key_policy"},
		{Name: "sudo"},
		{Name: "labels"},
		{Name: "connect_timeout"},
		{Name: "max_output"},
	},
}

var (
	hostNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// DNS names, plus underscores because ssh_config Host aliases may use them. Every label
	// starts and ends with an alphanumeric, so nothing can start with '-' and pass as an option.
	dnsNameRe  = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$`)
	ipZoneRe   = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	userRe     = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
	labelKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,62}$`)
	labelValRe = regexp.MustCompile(`^[A-Za-z0-9_.:/@+-]{0,128}$`)
)

// hostBlock is a host declaration on its way to a Host.
type hostBlock struct {
	name    string
	block   *hcl.Block
	content *hcl.BodyContent
	host    *Host // set once evaluated without error
}

func (l *loader) addHost(b *hcl.Block, first map[string]hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	name := b.Labels[0]
	if !hostNameRe.MatchString(name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid host name",
			Detail:   fmt.Sprintf("The host name %q must start with a letter or digit and contain only letters, digits, '_', '.' and '-'.", name),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	if d := checkDup(first, "host."+name, "A host", b.LabelRanges[0]); d != nil {
		return append(diags, d)
	}
	content, d := b.Body.Content(hostSchema)
	diags = append(diags, d...)
	hb := &hostBlock{name: name, block: b, content: content}
	n := &node{addr: "host." + name, kind: rootHost, name: name, eval: func(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
		return hb.eval(ctx, l.dir)
	}}
	for _, a := range content.Attributes {
		n.travs = append(n.travs, a.Expr.Variables()...)
	}
	n.failed = d.HasErrors() || diags.HasErrors()
	l.nodes[n.addr] = n
	l.decl = append(l.decl, n)
	l.hosts = append(l.hosts, hb)
	return diags
}

// attrValue evaluates an attribute and converts it to ty. ok is false when the attribute is
// absent or null (both mean "not set") or on error.
func attrValue(ctx *hcl.EvalContext, attrs hcl.Attributes, name string, ty cty.Type, diags *hcl.Diagnostics) (cty.Value, *hcl.Attribute, bool) {
	a, ok := attrs[name]
	if !ok {
		return cty.NilVal, nil, false
	}
	v, d := a.Expr.Value(ctx)
	*diags = append(*diags, d...)
	if d.HasErrors() {
		return cty.NilVal, a, false
	}
	if v.IsNull() {
		return cty.NilVal, a, false
	}
	c, err := convert.Convert(v, ty)
	if err != nil {
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, err),
			Subject:  a.Expr.Range().Ptr(),
		})
		return cty.NilVal, a, false
	}
	return c, a, true
}

func invalidAttr(a *hcl.Attribute, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s", a.Name),
		Detail:   fmt.Sprintf(format, args...),
		Subject:  a.Expr.Range().Ptr(),
	}
}

func (hb *hostBlock) eval(ctx *hcl.EvalContext, dir string) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	attrs := hb.content.Attributes
	h := &Host{Name: hb.name, HostKeyPolicy: HostKeyStrict, Labels: map[string]string{}, DeclRange: hb.block.DefRange}

	if v, a, ok := attrValue(ctx, attrs, "address", cty.String, &diags); ok {
		h.Address = v.AsString()
		if err := checkAddress(h.Address); err != nil {
			diags = append(diags, invalidAttr(a, "%s", err))
		}
	} else if a != nil && len(diags) == 0 { // present, no error: it was null
		diags = append(diags, invalidAttr(a, "The address of host %q must not be null.", hb.name))
	}
	if v, a, ok := attrValue(ctx, attrs, "port", cty.Number, &diags); ok {
		var p int
		if err := gocty.FromCtyValue(v, &p); err != nil || p < 1 || p > 65535 {
			diags = append(diags, invalidAttr(a, "The port must be a whole number from 1 to 65535, not %s.", v.AsBigFloat().Text('g', -1)))
		} else {
			h.Port = p
		}
	}
	if v, a, ok := attrValue(ctx, attrs, "user", cty.String, &diags); ok {
		h.User = v.AsString()
		if !userRe.MatchString(h.User) {
			diags = append(diags, invalidAttr(a, "The user %q is not a valid login name: at most 32 characters, lower-case letters, digits, '_', '.' and '-', not starting with a digit, '.' or '-'.", h.User))
		}
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"identity_file", &h.IdentityFile}, {"known_hosts", &h.KnownHosts}} {
		if v, a, ok := attrValue(ctx, attrs, p.name, cty.String, &diags); ok {
			path, err := resolvePath(dir, v.AsString())
			if err == nil && !printable(path) {
				err = fmt.Errorf("the path contains control characters")
			}
			if err != nil {
				diags = append(diags, invalidAttr(a, "Invalid %s path: %s.", p.name, err))
			}
			*p.dst = path
		}
	}
	if v, a, ok := attrValue(ctx, attrs, "host_key_policy", cty.String, &diags); ok {
		h.HostKeyPolicy = v.AsString()
		if h.HostKeyPolicy != HostKeyStrict && h.HostKeyPolicy != HostKeyAcceptNew {
			diags = append(diags, invalidAttr(a, "The host_key_policy must be %q (the key must already be in known_hosts) or %q (a new host's key is recorded on first use, a changed key is refused), not %q.", HostKeyStrict, HostKeyAcceptNew, h.HostKeyPolicy))
		}
	}
	if v, _, ok := attrValue(ctx, attrs, "sudo", cty.Bool, &diags); ok {
		h.Sudo = v.True()
	}
	if v, a, ok := attrValue(ctx, attrs, "labels", cty.Map(cty.String), &diags); ok {
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if e.IsNull() {
				diags = append(diags, invalidAttr(a, "The label %q has a null value.", k.AsString()))
				continue
			}
			key, val := k.AsString(), e.AsString()
			if !labelKeyRe.MatchString(key) {
				diags = append(diags, invalidAttr(a, "The label key %q must start with a letter or '_' and hold at most 63 letters, digits, '_', '.' and '-'.", key))
			}
			if !labelValRe.MatchString(val) {
				diags = append(diags, invalidAttr(a, "The value %q of label %q may hold at most 128 letters, digits and '_', '.', ':', '/', '@', '+', '-'.", val, key))
			}
			h.Labels[key] = val
		}
	}
	if v, a, ok := attrValue(ctx, attrs, "connect_timeout", cty.String, &diags); ok {
		h.ConnectTimeout = v.AsString()
		if err := checkConnectTimeout(h.ConnectTimeout); err != nil {
			diags = append(diags, invalidAttr(a, "The connect_timeout %v.", err))
		}
	}
	if v, a, ok := attrValue(ctx, attrs, "max_output", cty.String, &diags); ok {
		n, err := provider.ParseSize(v.AsString())
		if err == nil {
			err = checkMaxOutput(n)
		}
		if err != nil {
			diags = append(diags, invalidAttr(a, "The max_output %v.", err))
		} else {
			h.MaxOutput = n
		}
	}
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	hb.host = h
	return hostValue(h), diags
}

// hostValue is what `host.NAME` evaluates to. Unset port and user are null rather than a
// guess, since ssh_config decides them at connect time.
func hostValue(h *Host) cty.Value {
	port, user := cty.NullVal(cty.Number), cty.NullVal(cty.String)
	if h.Port != 0 {
		port = cty.NumberIntVal(int64(h.Port))
	}
	if h.User != "" {
		user = cty.StringVal(h.User)
	}
	labels := cty.MapValEmpty(cty.String)
	if len(h.Labels) > 0 {
		m := make(map[string]cty.Value, len(h.Labels))
		for k, v := range h.Labels {
			m[k] = cty.StringVal(v)
		}
		labels = cty.MapVal(m)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(h.Name),
		"address": cty.StringVal(h.Address),
		"port":    port,
		"user":    user,
		"labels":  labels,
	})
}

// checkAddress accepts a DNS name (or ssh_config alias) or an IP address: nothing that a
// shell or ssh could read as more than one word or as an option.
func checkAddress(s string) error {
	if s == "" {
		return fmt.Errorf("The address must not be empty.")
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if z := ip.Zone(); z != "" && !ipZoneRe.MatchString(z) {
			return fmt.Errorf("The IPv6 zone %q of address %q is not a plain interface name.", z, s)
		}
		return nil
	}
	if len(s) > 253 || !dnsNameRe.MatchString(s) {
		return fmt.Errorf("The address %q is neither an IP address nor a host name (letters, digits, '-', '_' and dots; no spaces, shell characters or leading '-'; IPv6 without brackets).", s)
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// matchLabels reports whether labels holds every key/value of sel.
func matchLabels(labels, sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// MinMaxOutput and MaxMaxOutput bound a host's max_output: below, ordinary probes would fail;
// above, one host could take the controller's memory.
const (
	MinMaxOutput = 64 << 10
	MaxMaxOutput = 1 << 30
)

// checkMaxOutput checks a max_output in bytes.
func checkMaxOutput(n int64) error {
	if n < MinMaxOutput || n > MaxMaxOutput {
		return fmt.Errorf("%s is out of range: from %s to %s (default %s)", provider.FormatSize(n),
			provider.FormatSize(MinMaxOutput), provider.FormatSize(MaxMaxOutput), provider.FormatSize(provider.DefaultMaxOutput))
	}
	return nil
}

// MaxConnectTimeout bounds a host's connect_timeout: longer is a hung dial, not a slow one.
const MaxConnectTimeout = time.Hour

// checkConnectTimeout checks a connect_timeout value ("is ..." when wrong).
func checkConnectTimeout(s string) error {
	if _, err := resources.ParseDuration(s, time.Millisecond, MaxConnectTimeout); err != nil {
		return fmt.Errorf("%v", err)
	}
	return nil
}

// CheckHost applies the rules of a host block to connection settings that did not come from
// HCL (a saved plan file is input like HCL, and someone else may have edited it). It returns
// every problem, joined, or nil.
func CheckHost(h *Host) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !hostNameRe.MatchString(h.Name) {
		add("host name %q is not a host name", h.Name)
	}
	if err := checkAddress(h.Address); err != nil {
		add("%s", err)
	}
	if h.Port < 0 || h.Port > 65535 {
		add("port %d is not from 1 to 65535", h.Port)
	}
	if h.User != "" && !userRe.MatchString(h.User) {
		add("user %q is not a valid login name", h.User)
	}
	for name, p := range map[string]string{"identity_file": h.IdentityFile, "known_hosts": h.KnownHosts} {
		if p != "" && (!filepath.IsAbs(p) || filepath.Clean(p) != p || !printable(p)) {
			add("%s %q is not a clean absolute path", name, p)
		}
	}
	if h.HostKeyPolicy != HostKeyStrict && h.HostKeyPolicy != HostKeyAcceptNew {
		add("host_key_policy %q is neither %q nor %q", h.HostKeyPolicy, HostKeyStrict, HostKeyAcceptNew)
	}
	for k, v := range h.Labels {
		if !labelKeyRe.MatchString(k) || !labelValRe.MatchString(v) {
			add("label %q = %q is not a label", k, v)
		}
	}
	if h.ConnectTimeout != "" {
		if err := checkConnectTimeout(h.ConnectTimeout); err != nil {
			add("connect_timeout %v", err)
		}
	}
	if h.MaxOutput != 0 {
		if err := checkMaxOutput(h.MaxOutput); err != nil {
			add("max_output %v", err)
		}
	}
	return errors.Join(errs...)
}
