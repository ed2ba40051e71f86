package resources

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// kernel chooses the kernel a host boots: an NVIDIA kernel line (its Ubuntu metapackage) or one
// exact image package. Apply installs it (the previous kernel stays installed, nothing is ever
// removed), optionally holds it and blocks the other lines with an apt preferences pin. The new
// kernel only takes effect after a reboot, run by the engine through the Rebooter sequence:
// PrepareBoot makes only the NEXT boot use it (grub-reboot, the saved default stays on the
// running kernel, so a kernel that fails to boot falls back by itself), ConfirmBoot makes it
// the saved default once the engine has seen it run.
//
// Removing the block releases the holds sparkform set, removes its pin file and its GRUB
// drop-in; it never uninstalls a kernel and never reboots.
type kernel struct{}

func init() { Register(kernel{}) }

const kernelImagePattern = `^linux-image-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-[a-z0-9-]+$`

var (
	kernelImageRe = regexp.MustCompile(kernelImagePattern)
	// What dpkg allows in package names and versions; anything else in probe output is ignored.
	debNameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	debVersionRe = regexp.MustCompile(`^[A-Za-z0-9.+~:-]+$`)
	kernelRelRe  = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-[a-z0-9-]+$`)
	// unameReleaseRe is what uname -r can print (any kernel, not only Ubuntu's): printable, no
	// blanks, at most 64 bytes (__NEW_UTS_LEN).
	unameReleaseRe = regexp.MustCompile(`^[!-~]{1,64}$`)
)

// defaultKernelRebootTimeout applies when reboot_timeout is not set.
const defaultKernelRebootTimeout = 10 * time.Minute

func (kernel) Type() string { return "kernel" }

func (kernel) Spec() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"line":           &hcldec.AttrSpec{Name: "line", Type: cty.String},
		"package":        &hcldec.AttrSpec{Name: "package", Type: cty.String},
		"hold":           &hcldec.AttrSpec{Name: "hold", Type: cty.Bool},
		"reboot_timeout": &hcldec.AttrSpec{Name: "reboot_timeout", Type: cty.String},
	}
}

// kernelSpec is a decoded, validated body.
type kernelSpec struct {
	line    string // "" when package is set
	pkg     string // "" when line is set
	hold    bool
	timeout time.Duration
}

func (kernel) Validate(desired cty.Value) []AttrError {
	var errs []AttrError
	line, hasLine := optString(desired, "line")
	pkg, hasPkg := optString(desired, "package")
	switch {
	case hasLine && hasPkg:
		errs = append(errs, AttrError{Attr: "package", Msg: "set either line or package, not both"})
	case !hasLine && !hasPkg:
		errs = append(errs, AttrError{Attr: "line", Msg: `set exactly one of line ("6.14", "6.17" or "hwe") or package (e.g. "linux-image-6.17.0-1014-nvidia")`})
	}
	if hasLine {
		if _, ok := kernelLines[line]; !ok {
			errs = append(errs, AttrError{Attr: "line", Msg: fmt.Sprintf(`%q is not a kernel line: use "6.14", "6.17" or "hwe"`, line)})
		}
	}
	if hasPkg && !kernelImageRe.MatchString(pkg) {
		errs = append(errs, AttrError{Attr: "package", Msg: fmt.Sprintf(`%q is not a kernel image package: give one like "linux-image-6.17.0-1014-nvidia"`, pkg)})
	}
	if s, ok := optString(desired, "reboot_timeout"); ok {
		if _, err := ParseDuration(s, minDuration, MaxDuration); err != nil {
			errs = append(errs, AttrError{Attr: "reboot_timeout", Msg: err.Error()})
		}
	}
	return errs
}

// decodeKernelSpec reads a validated body.
func decodeKernelSpec(v cty.Value) kernelSpec {
	var s kernelSpec
	s.line, _ = optString(v, "line")
	s.pkg, _ = optString(v, "package")
	if h := attr(v, "hold", cty.Bool); !h.IsNull() && h.IsKnown() {
		s.hold = h.True()
	}
	s.timeout = defaultKernelRebootTimeout
	if t, ok := optString(v, "reboot_timeout"); ok {
		if d, err := ParseDuration(t, minDuration, MaxDuration); err == nil {
			s.timeout = d
		}
	}
	return s
}

// Exports offers `release` when it follows from the configuration alone (package = ...); a
// line's release is only known on a host, so it is not exported then.
func (kernel) Exports(desired cty.Value) map[string]cty.Value {
	if pkg, ok := optString(desired, "package"); ok && kernelImageRe.MatchString(pkg) {
		return map[string]cty.Value{"release": cty.StringVal(kernelRelease(pkg))}
	}
	return nil
}

// kernelRelease is the `uname -r` of an image package: linux-image-6.17.0-1014-nvidia → 6.17.0-1014-nvidia.
func kernelRelease(image string) string { return strings.TrimPrefix(image, "linux-image-") }

// kernelSeries is "6.17" for "6.17.0-1014-nvidia".
func kernelSeries(release string) string {
	p := strings.SplitN(release, ".", 3)
	if len(p) < 2 {
		return ""
	}
	return p[0] + "." + p[1]
}

// target is the package apt-get installs: a line's metapackage, or the image itself.
func (s kernelSpec) target() string {
	if s.line != "" {
		return kernelLines[s.line].meta
	}
	return s.pkg
}

// kernelOriginal is the resource's bookkeeping in state (Prior.Original): what a destroy needs.
type kernelOriginal struct {
	holdsBefore []string // packages already on hold before sparkform held them: never released
	held        []string // packages sparkform put on hold
	release     string   // the kernel release last installed for this block
}

func decodeKernelOriginal(v cty.Value) kernelOriginal {
	r := attr(v, "release", cty.String)
	o := kernelOriginal{
		holdsBefore: stringList(attr(v, "holds_before", cty.List(cty.String))),
		held:        stringList(attr(v, "held", cty.List(cty.String))),
	}
	if !r.IsNull() {
		o.release = r.AsString()
	}
	return o
}

func (o kernelOriginal) value() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"holds_before": stringSetVal(o.holdsBefore),
		"held":         stringSetVal(o.held),
		"release":      cty.StringVal(o.release),
	})
}

// kernelTarget is what the desired body means on one host.
type kernelTarget struct {
	spec    kernelSpec
	image   string // concrete image package; "" until apply when apt cannot tell yet
	release string
	why     string // when image is "": why
}

// resolveTarget decides the image the desired body means on this host, from the probe.
func resolveTarget(in Instance, o kernelObserved) (kernelTarget, error) {
	s := decodeKernelSpec(in.Desired)
	t := kernelTarget{spec: s}
	if s.pkg != "" {
		t.image, t.release = s.pkg, kernelRelease(s.pkg)
		return t, nil
	}
	l := kernelLines[s.line]
	held := slices.Contains(o.holds, l.meta)
	switch {
	case s.hold && held && o.resolved["inst"] != "":
		// A held line stays where it is installed: apt would refuse to move it anyway.
		t.image = o.resolved["inst"]
	case o.resolved["cand"] != "":
		t.image = o.resolved["cand"]
	case o.resolved["nopin"] != "" && !o.pin.IsNull():
		// Only sparkform's own pin (of a previous line) hides it; apply rewrites that pin first.
		t.image = o.resolved["nopin"]
	case o.resolved["nopin"] != "":
		return t, fmt.Errorf("%s: %s has no installation candidate on this host: an apt preferences pin blocks it (see apt-cache policy %s)", in.Addr(), l.meta, l.meta)
	case o.resolved["inst"] != "":
		t.image = o.resolved["inst"]
	case !o.lists:
		t.why = "apt has no package lists yet: resolved at apply, after apt-get update"
	default:
		t.why = fmt.Sprintf("%s is not in apt's package lists: resolved at apply, after apt-get update", l.meta)
	}
	if t.image != "" {
		t.release = kernelRelease(t.image)
	}
	return t, nil
}

// kernelDecision is what a kernel block means on one host, decided once from the desired body,
// the probe and state (as python_venv and llama_cpp decide): Diff shows it and Apply carries it
// out. Each aspect (install, holds, pin, boot entry; releasing on destroy) is checked and
// applied by one function, so the plan shows exactly what apply does.
type kernelDecision struct {
	in   Instance
	o    kernelObserved
	orig kernelOriginal // updated by apply as it goes (what state must record)
	t    kernelTarget   // zero when destroying
}

// kernelApply is the host an aspect changes; a nil *kernelApply only checks (plan).
type kernelApply struct {
	ctx context.Context
	h   provider.Host
	log func(string)
}

func (kernel) decide(in Instance, observed cty.Value) (*kernelDecision, error) {
	dc := &kernelDecision{in: in, o: decodeKernelObserved(observed), orig: decodeKernelOriginal(in.Prior.Original)}
	if in.Destroying() {
		return dc, nil
	}
	t, err := resolveTarget(in, dc.o)
	if err != nil {
		return nil, err
	}
	dc.t = t
	return dc, nil
}

func (k kernel) Diff(in Instance, observed cty.Value) (Diff, error) {
	dc, err := k.decide(in, observed)
	if err != nil {
		return Diff{}, err
	}
	o, orig, t := dc.o, dc.orig, dc.t
	var d Diff

	if in.Destroying() {
		d.Fields, _ = dc.releaseCheckApply(nil)
		if !in.Prior.Exists() && len(d.Fields) == 0 {
			return Diff{Action: NoOp}, nil
		}
		d.Action = Delete
		d.Summary = fmt.Sprintf("stop managing the kernel: %s stays installed and running, no kernel is removed, no reboot", o.running)
		return d, nil
	}

	// The kernel itself: a different one means a reboot, which the engine runs (Rebooter).
	switch {
	case t.image == "":
		d.RequiresReboot = true
		d.Summary = fmt.Sprintf("%s → %s (%s)", o.running, t.spec.target(), t.why)
		d.Fields = append(d.Fields, FieldChange{Path: "kernel", Before: o.running, After: t.spec.target() + " (resolved at apply)"})
	case t.release != o.running:
		d.RequiresReboot = true
		d.Summary = fmt.Sprintf("%s → %s", o.running, t.release)
		fc := FieldChange{Path: "kernel", Before: o.running, After: t.release}
		// State says sparkform made this host run orig.release; it runs something else.
		fc.Drift = in.Prior.Exists() && orig.release != "" && orig.release != o.running
		d.Fields = append(d.Fields, fc)
	}
	install, _ := dc.installCheckApply(nil)
	holds, _ := dc.holdsCheckApply(nil, o.holds, t.image)
	pin, _ := dc.pinCheckApply(nil)
	boot, _ := k.bootCheckApply(dc, nil, d.RequiresReboot)
	d.Fields = slices.Concat(d.Fields, install, holds, pin, boot)

	// Also without state: a host already running, booting and holding what the block asks is left alone.
	d.Action = changeAction(in, d.Fields)
	if d.Summary == "" && d.Action != NoOp {
		d.Summary = fmt.Sprintf("%s (running, no reboot)", o.running)
	}
	return d, nil
}

// Apply carries out the decision in the order that works on a host: the pin (a pin of the
// previous line may block the new one), the install, the holds on what was really installed,
// then the boot entry when no reboot is needed. Each step that fails returns what is true so far.
func (k kernel) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	log = logOrDiscard(log)
	dc, err := k.decide(in, observed)
	if err != nil {
		return in.Prior, err
	}
	x := &kernelApply{ctx: ctx, h: h, log: log}
	if in.Destroying() {
		if _, err := dc.releaseCheckApply(x); err != nil {
			return in.Prior, err
		}
		return Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
	}
	partial := Prior{Attributes: in.Prior.Attributes, Original: dc.orig.value()}
	if partial.Attributes == cty.NilVal {
		partial.Attributes = cty.NullVal(in.Desired.Type())
	}
	if _, err := dc.pinCheckApply(x); err != nil {
		return partial, err
	}
	if _, err := dc.installCheckApply(x); err != nil {
		return partial, err
	}

	// What is installed now: the image as dpkg resolves it, and the current holds.
	now, err := dc.installed(x)
	if err != nil {
		return partial, err
	}
	image := now.resolved["inst"]
	if dc.t.image != "" && image != dc.t.image {
		log(fmt.Sprintf("note: %s resolved to %s (the plan showed %s)", dc.t.spec.target(), image, dc.t.image))
	}
	dc.orig.release = kernelRelease(image)
	partial.Original = dc.orig.value()

	if _, err := dc.holdsCheckApply(x, now.holds, image); err != nil {
		return partial, err
	}
	if _, err := k.bootCheckApply(dc, x, false); err != nil {
		return Prior{Attributes: in.Desired, Original: dc.orig.value()}, err
	}
	return Prior{Attributes: in.Desired, Original: dc.orig.value()}, nil
}
