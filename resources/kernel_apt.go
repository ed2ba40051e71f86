package resources

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sparkform/sparkform/provider"
)

// Kernel packages through apt: the kernel lines, resolving a line to its image, installing,
// holds and the pin that keeps the other lines out.

// kernelLine is one NVIDIA kernel line: its metapackage, the image metapackage the
// metapackage depends on, and the version series of its images ("" when the line moves
// between series, as the HWE line does).
type kernelLine struct{ meta, imageMeta, family, series string }

var kernelLines = map[string]kernelLine{
	"6.14": {meta: "linux-nvidia-6.14", imageMeta: "linux-image-nvidia-6.14", family: "nvidia-6.14", series: "6.14"},
	"6.17": {meta: "linux-nvidia-6.17", imageMeta: "linux-image-nvidia-6.17", family: "nvidia-6.17", series: "6.17"},
	"hwe":  {meta: "linux-nvidia-hwe-24.04", imageMeta: "linux-image-nvidia-hwe-24.04", family: "nvidia-hwe-24.04"},
}

// kernelLineNames in the order plans and pin files list them.
var kernelLineNames = []string{"6.14", "6.17", "hwe"}

// kernelPinFile is the apt preferences file blocking the other kernel lines (hold = true).
// No extension: apt reads files in preferences.d without one (names are HCL identifiers, no dots).
func kernelPinFile(name string) string { return "/etc/apt/preferences.d/sparkform-kernel-" + name }

// holdSet is what hold = true puts on hold once image is known: the image, and for a line its
// metapackages (so apt upgrade does not move the line to a newer ABI behind sparkform's back).
func (s kernelSpec) holdSet(image string) []string {
	var out []string
	if s.line != "" {
		l := kernelLines[s.line]
		out = append(out, l.meta, l.imageMeta)
	}
	if image != "" {
		out = append(out, image)
	}
	sort.Strings(out)
	return out
}

// pinContent is the apt preferences file for hold = true: every other line's packages (the
// metapackage family linux-*nvidia-LINE: linux-nvidia-X, linux-image-nvidia-X,
// linux-headers-nvidia-X, ...) and the images of the other numbered series get priority -1, so
// neither apt upgrade nor an install by name brings them in. The HWE line moves between series,
// so only its metapackages are blocked; an exact package blocks every line's metapackages.
// Installed packages are never removed by a -1 pin: the previous kernel stays.
func (s kernelSpec) pinContent(addr string) string {
	own := ""
	series := ""
	if s.line != "" {
		own = s.line
		series = kernelLines[s.line].series
	} else {
		series = kernelSeries(kernelRelease(s.pkg))
	}
	var pats []string
	for _, n := range kernelLineNames {
		if n == own {
			continue
		}
		l := kernelLines[n]
		pats = append(pats, "linux-*"+l.family)
		if l.series != "" && l.series != series && !(s.line == "hwe") {
			pats = append(pats, "linux-image-"+l.series+".*-nvidia*", "linux-image-unsigned-"+l.series+".*-nvidia*")
		}
	}
	what := fmt.Sprintf("line %q (%s)", s.line, kernelLines[s.line].meta)
	if s.line == "" {
		what = "package " + s.pkg
	}
	return managedHeader(addr) +
		fmt.Sprintf("# Keeps the host on kernel %s: other NVIDIA kernel lines cannot be installed.\n", what) +
		"Package: " + strings.Join(pats, " ") + "\n" +
		"Pin: version *\n" +
		"Pin-Priority: -1\n"
}

// kernelShellLib (scripts/kernel-resolve.sh) defines sf_resolve MODE PKG: it prints the concrete linux-image-KVER package
// PKG leads to, or nothing. It follows the Depends of each package (linux-nvidia-6.17 →
// linux-image-nvidia-6.17 → linux-image-6.17.0-1014-nvidia) and at every level prefers a
// dependency that is a concrete image, else follows one named linux-image-*, at most 6 levels.
//
// Why this way: `apt-cache show --no-all-versions` prints the deb822 record of exactly the
// candidate version (the one apt-get install would pick, pins included), in a stable,
// untranslated format, whatever the apt version; `apt-cache depends` mixes versions and
// virtual packages in a display format, and `apt-cache policy` gives versions, not names.
// Following every level (instead of assuming linux-image-nvidia-X) survives Ubuntu adding
// levels or extra dependencies (linux-firmware, modules) to its metapackages. A package that
// has no candidate stops the walk, so an unresolvable line is reported, not guessed.
//
// MODE cand: apt's candidates; nopin: candidates with every apt preferences file ignored (to
// see through sparkform's own pin of a previous line); inst: the installed versions (dpkg).
// Nothing here changes the host and nothing runs apt-get update.
var kernelShellLib = "sf_re=" + provider.Quote(kernelImagePattern) + "\nsf_awk=" + provider.Quote(kernelWalkAwk) + "\n" + kernelResolveSh

//go:embed scripts/kernel-resolve.sh
var kernelResolveSh string

// kernelWalkAwk is the walk itself, in awk (one process however many levels and modes).
//
//go:embed scripts/kernel-walk.awk
var kernelWalkAwk string

// aptEnv is how every apt command runs: no questions, keep changed config files, wait for the
// dpkg lock up to 5 minutes instead of failing (never forcing it or removing lock files).
const aptOpts = `-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confold`

func kernelRun(ctx context.Context, h provider.Host, script string, log func(string)) (provider.Result, error) {
	var res provider.Result
	var err error
	if log != nil {
		res, err = h.RunStream(ctx, script, func(_, line string) { log(line) })
	} else {
		res, err = h.Run(ctx, script)
	}
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 {
		return res, fmt.Errorf("exit %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr)+string(res.Stdout), 6), " | "))
	}
	return res, nil
}

// installCheckApply: the line's metapackage and the image must be installed (the image as the
// plan resolved it). Apply runs apt-get update only when apt could not tell what to install
// (the plan said "resolved at apply"); otherwise it installs what the plan showed.
func (dc *kernelDecision) installCheckApply(x *kernelApply) ([]FieldChange, error) {
	o, t := dc.o, dc.t
	s := t.spec
	var install []string
	if s.line != "" {
		if o.resolved["inst"] == "" || (t.image != "" && o.resolved["inst"] != t.image) {
			install = append(install, kernelLines[s.line].meta)
		}
	}
	if t.image != "" {
		if _, ok := o.installed[t.image]; !ok {
			install = append(install, t.image)
		}
	}
	var fields []FieldChange
	if len(install) > 0 {
		fields = append(fields, FieldChange{Path: "install", BeforeNull: true, After: strings.Join(install, ", ")})
	}
	if x == nil || (t.image != "" && len(install) == 0) {
		return fields, nil
	}
	var b strings.Builder
	b.WriteString("set -e\nexport DEBIAN_FRONTEND=noninteractive\n")
	if t.image == "" || (s.line == "" && o.resolved["cand"] == "" && o.resolved["nopin"] == "") {
		x.log("apt-get update")
		b.WriteString("apt-get -q " + aptOpts + " update\n")
	}
	fmt.Fprintf(&b, "apt-get -y -q %s install -- %s\n", aptOpts, provider.Quote(s.target()))
	x.log(fmt.Sprintf("installing %s", s.target()))
	if _, err := kernelRun(x.ctx, x.h, b.String(), x.log); err != nil {
		return fields, fmt.Errorf("%s: installing %s: %w", dc.in.Addr(), s.target(), err)
	}
	return fields, nil
}

// installed re-reads, after the install, the image the target resolves to in dpkg and the holds.
func (dc *kernelDecision) installed(x *kernelApply) (kernelObserved, error) {
	target := dc.t.spec.target()
	res, err := kernelRun(x.ctx, x.h, kernelResolveFact.command(target, "inst")+aptHoldsFact.command(), nil)
	if err != nil {
		return kernelObserved{}, fmt.Errorf("%s: reading the installed kernel: %w", dc.in.Addr(), err)
	}
	var now kernelObserved
	now.readPackageFacts(parseProbe(res.Stdout))
	if now.resolved["inst"] == "" {
		return now, fmt.Errorf("%s: after installing %s, dpkg shows no kernel image it depends on", dc.in.Addr(), target)
	}
	return now, nil
}

// holdsCheckApply: with hold = true, holdSet(image) must be on hold; holds sparkform set that are
// no longer wanted are released (never a hold that was there before sparkform). present are the
// holds on the host now. Apply also records in dc.orig what sparkform holds.
func (dc *kernelDecision) holdsCheckApply(x *kernelApply, present []string, image string) ([]FieldChange, error) {
	s, orig := dc.t.spec, &dc.orig
	var wantHolds []string
	if s.hold {
		wantHolds = s.holdSet(image)
	}
	var toHold, toRelease []string
	for _, p := range wantHolds {
		if !slices.Contains(present, p) {
			toHold = append(toHold, p)
		}
	}
	for _, p := range orig.held {
		if !slices.Contains(wantHolds, p) && !slices.Contains(orig.holdsBefore, p) && slices.Contains(present, p) {
			toRelease = append(toRelease, p)
		}
	}
	var fields []FieldChange
	if len(toHold) > 0 || len(toRelease) > 0 {
		var cur []string
		for _, p := range append(slices.Clone(wantHolds), toRelease...) {
			if slices.Contains(present, p) {
				cur = append(cur, p)
			}
		}
		sort.Strings(cur)
		fc := FieldChange{Path: "hold", Before: strings.Join(cur, ", "), BeforeNull: len(cur) == 0, After: strings.Join(wantHolds, ", "), AfterNull: len(wantHolds) == 0}
		if image == "" && s.hold {
			fc.After += " + the resolved image"
		}
		// Holds sparkform set were released by hand.
		for _, p := range orig.held {
			if slices.Contains(wantHolds, p) && !slices.Contains(present, p) && dc.in.Prior.Exists() {
				fc.Drift = true
			}
		}
		fields = append(fields, fc)
	}
	if x == nil {
		return fields, nil
	}
	var keep []string
	for _, p := range wantHolds {
		if slices.Contains(present, p) && !slices.Contains(orig.held, p) && !slices.Contains(orig.holdsBefore, p) {
			orig.holdsBefore = append(orig.holdsBefore, p) // someone else held it first
		}
	}
	for _, p := range orig.held {
		if slices.Contains(wantHolds, p) {
			keep = append(keep, p)
		}
	}
	if len(toHold) > 0 || len(toRelease) > 0 {
		var b strings.Builder
		b.WriteString("set -e\n")
		if len(toRelease) > 0 {
			b.WriteString("apt-mark unhold -- " + provider.QuoteAll(toRelease...) + "\n")
		}
		if len(toHold) > 0 {
			b.WriteString("apt-mark hold -- " + provider.QuoteAll(toHold...) + "\n")
		}
		if _, err := kernelRun(x.ctx, x.h, b.String(), x.log); err != nil {
			return fields, fmt.Errorf("%s: apt-mark: %w", dc.in.Addr(), err)
		}
	}
	orig.held = append(keep, toHold...)
	orig.holdsBefore = slices.DeleteFunc(orig.holdsBefore, func(p string) bool { return !slices.Contains(wantHolds, p) && !slices.Contains(orig.held, p) })
	return fields, nil
}

// pinCheckApply: with hold = true the pin file must say pinContent; without, it must be absent.
func (dc *kernelDecision) pinCheckApply(x *kernelApply) ([]FieldChange, error) {
	in, o, s := dc.in, dc.o, dc.t.spec
	file := kernelPinFile(in.Name)
	switch {
	case s.hold:
		want := s.pinContent(in.Addr())
		if !o.pin.IsNull() && o.pin.AsString() == want {
			return nil, nil
		}
		fc := FieldChange{Path: "pin_file", After: file, BeforeNull: o.pin.IsNull()}
		if !o.pin.IsNull() {
			fc.Before = file + " (" + pinDifference(o.pin.AsString(), want) + ")"
			prev := decodeKernelSpec(in.Prior.Attributes)
			fc.Drift = in.Prior.Exists() && prev.hold && prev.line == s.line && prev.pkg == s.pkg
		}
		if x != nil {
			if err := x.h.WriteFile(x.ctx, file, []byte(want), 0o644, "root"); err != nil {
				return nil, fmt.Errorf("%s: writing %s: %w", in.Addr(), file, err)
			}
		}
		return []FieldChange{fc}, nil
	case !o.pin.IsNull():
		if x != nil {
			if err := x.h.Remove(x.ctx, file); err != nil {
				return nil, fmt.Errorf("%s: removing %s: %w", in.Addr(), file, err)
			}
		}
		return []FieldChange{{Path: "pin_file", Before: file, AfterNull: true}}, nil
	}
	return nil, nil
}

// releaseCheckApply undoes what the block set when it is removed: the holds sparkform set
// (never one that was there before), the pin file and the GRUB drop-in (then update-grub). It
// never uninstalls a kernel and never reboots.
func (dc *kernelDecision) releaseCheckApply(x *kernelApply) ([]FieldChange, error) {
	in, o, orig := dc.in, dc.o, dc.orig
	var rel []string
	for _, p := range orig.held {
		if !slices.Contains(orig.holdsBefore, p) && slices.Contains(o.holds, p) {
			rel = append(rel, p)
		}
	}
	var fields []FieldChange
	if len(rel) > 0 {
		fields = append(fields, FieldChange{Path: "hold", Before: strings.Join(rel, ", "), AfterNull: true})
	}
	if !o.pin.IsNull() {
		fields = append(fields, FieldChange{Path: "pin_file", Before: kernelPinFile(in.Name), AfterNull: true})
	}
	if !o.dropIn.IsNull() {
		fields = append(fields, FieldChange{Path: "grub_default", Before: "saved (" + kernelGrubDropIn(in.Name) + ")", After: "as /etc/default/grub says (update-grub)"})
	}
	if x == nil {
		return fields, nil
	}
	if len(rel) > 0 {
		if _, err := kernelRun(x.ctx, x.h, "apt-mark unhold -- "+provider.QuoteAll(rel...)+"\n", nil); err != nil {
			return fields, fmt.Errorf("%s: apt-mark unhold: %w", in.Addr(), err)
		}
	}
	if err := x.h.Remove(x.ctx, kernelPinFile(in.Name)); err != nil {
		return fields, fmt.Errorf("%s: removing %s: %w", in.Addr(), kernelPinFile(in.Name), err)
	}
	if !o.dropIn.IsNull() {
		if err := x.h.Remove(x.ctx, kernelGrubDropIn(in.Name)); err != nil {
			return fields, fmt.Errorf("%s: removing %s: %w", in.Addr(), kernelGrubDropIn(in.Name), err)
		}
		if _, err := kernelRun(x.ctx, x.h, "update-grub\n", x.log); err != nil {
			return fields, fmt.Errorf("%s: update-grub: %w", in.Addr(), err)
		}
	}
	return fields, nil
}

// pinDifference says how a pin file differs from what sparkform writes, by its first differing
// line: `has "Pin: version 6.14*" where sparkform writes "Pin: version 6.17*"`.
func pinDifference(got, want string) string {
	if strings.TrimSpace(got) == "" {
		return "empty"
	}
	in := func(l string, text string) bool {
		for _, x := range strings.Split(text, "\n") {
			if strings.TrimSpace(x) == strings.TrimSpace(l) {
				return true
			}
		}
		return false
	}
	first := func(a, b string) string {
		for _, l := range strings.Split(a, "\n") {
			if strings.TrimSpace(l) != "" && !in(l, b) {
				l = strings.TrimSpace(l)
				if len(l) > 60 {
					l = l[:57] + "..."
				}
				return l
			}
		}
		return ""
	}
	extra, missing := first(got, want), first(want, got)
	switch {
	case extra != "" && missing != "":
		return fmt.Sprintf("has %q where sparkform writes %q", extra, missing)
	case missing != "":
		return fmt.Sprintf("lacks %q", missing)
	case extra != "":
		return fmt.Sprintf("also has %q", extra)
	}
	return "differs in spacing or order"
}
