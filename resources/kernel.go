package resources

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// Kernel chooses the kernel a host boots: an NVIDIA kernel line (its Ubuntu metapackage) or one
// exact image package. Apply installs it (the previous kernel stays installed, nothing is ever
// removed), optionally holds it and blocks the other lines with an apt preferences pin. The new
// kernel only takes effect after a reboot, run by the engine through the Rebooter sequence:
// PrepareBoot makes only the NEXT boot use it (grub-reboot, the saved default stays on the
// running kernel, so a kernel that fails to boot falls back by itself), ConfirmBoot makes it
// the saved default once the engine has seen it run.
//
// Removing the block releases the holds sparkform set, removes its pin file and its GRUB
// drop-in; it never uninstalls a kernel and never reboots.
type Kernel struct{}

func init() { Register(Kernel{}) }

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

const kernelImagePattern = `^linux-image-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-[a-z0-9-]+$`

var (
	kernelImageRe = regexp.MustCompile(kernelImagePattern)
	// What dpkg allows in package names and versions; anything else in probe output is ignored.
	debNameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	debVersionRe = regexp.MustCompile(`^[A-Za-z0-9.+~:-]+$`)
	kernelRelRe  = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-[a-z0-9-]+$`)
)

// defaultKernelRebootTimeout applies when reboot_timeout is not set.
const defaultKernelRebootTimeout = 10 * time.Minute

const (
	grubCfgPath = "/boot/grub/grub.cfg"
	grubEnvPath = "/boot/grub/grubenv"
)

// kernelPinFile is the apt preferences file blocking the other kernel lines (hold = true).
// No extension: apt reads files in preferences.d without one (names are HCL identifiers, no dots).
func kernelPinFile(name string) string { return "/etc/apt/preferences.d/sparkform-kernel-" + name }

// kernelGrubDropIn sets GRUB_DEFAULT=saved when the host's GRUB configuration does not; 99-
// so it comes after the distribution's drop-ins (update-grub sources them in order, last wins).
func kernelGrubDropIn(name string) string {
	return "/etc/default/grub.d/99-sparkform-kernel-" + name + ".cfg"
}

func (Kernel) Type() string { return "kernel" }

func (Kernel) Spec() hcldec.Spec {
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

func (Kernel) Validate(desired cty.Value) []AttrError {
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
		if _, err := ParseDuration(s, MinDuration, MaxDuration); err != nil {
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
		if d, err := ParseDuration(t, MinDuration, MaxDuration); err == nil {
			s.timeout = d
		}
	}
	return s
}

// Exports offers `release` when it follows from the configuration alone (package = ...); a
// line's release is only known on a host, so it is not exported then.
func (Kernel) Exports(desired cty.Value) map[string]cty.Value {
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

func grubDropInContent(addr string) string {
	return managedHeader(addr) +
		"# grub-reboot (try a kernel once) and grub-set-default need the saved default.\n" +
		"GRUB_DEFAULT=saved\n"
}

// kernelShellLib defines sf_resolve MODE PKG: it prints the concrete linux-image-KVER package
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
var kernelShellLib = `sf_re=` + provider.Quote(kernelImagePattern) + `
sf_deps() {
  case "$1" in
    cand) apt-cache show --no-all-versions -- "$2" 2>/dev/null ;;
    nopin) apt-cache -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null show --no-all-versions -- "$2" 2>/dev/null ;;
    inst) dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Depends}, ${Pre-Depends}\n' -- "$2" 2>/dev/null |
      awk -F'|' '$1 ~ /^.[iWt]/ { print "Package: " $2; print "Depends: " $3; exit }' ;;
  esac | awk '
    /^$/ { if (seen) exit }
    /^Package:/ { if (!seen) print "=" $2; seen = 1; next }
    /^(Depends|Pre-Depends):/ { f = 1; sub(/^[^:]*:/, ""); deps = deps "," $0; next }
    /^[ \t]/ { if (f) deps = deps $0; next }
    { f = 0 }
    END { n = split(deps, a, /[,|]/); for (i = 1; i <= n; i++) { s = a[i]; sub(/\(.*/, "", s); gsub(/[ \t]/, "", s); sub(/:.*/, "", s); if (s != "") print s } }'
}
sf_resolve() {
  sf_cur=$2
  sf_n=0
  while [ "$sf_n" -lt 6 ]; do
    sf_d=$(sf_deps "$1" "$sf_cur")
    case "$sf_d" in "="*) ;; *) return 0 ;; esac
    if printf '%s\n' "$sf_cur" | grep -Eq "$sf_re"; then printf '%s\n' "$sf_cur"; return 0; fi
    sf_next=$(printf '%s\n' "$sf_d" | sed 1d | grep -E "$sf_re" | head -n 1)
    [ -n "$sf_next" ] || sf_next=$(printf '%s\n' "$sf_d" | sed 1d | grep -E '^linux-image-' | head -n 1)
    [ -n "$sf_next" ] || return 0
    sf_cur=$sf_next
    sf_n=$((sf_n + 1))
  done
}
sf_report() { r=$(sf_resolve "$1" "$2"); printf 'resolve %s %s\n' "$1" "${r:--}"; }
`

// kernelImagesProbe prints "image PKG VERSION" for every installed linux-image-* package.
const kernelImagesProbe = `dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' 'linux-image-*' 2>/dev/null | while read -r st pkg ver; do
  case "$st" in ?[iWt]*) printf 'image %s %s\n' "$pkg" "$ver" ;; esac
done
`

// kernelGrubProbe reports the GRUB state: environment block, menu, effective GRUB_DEFAULT lines.
func kernelGrubProbe(name string) string {
	env := provider.Quote(grubEnvPath)
	return fmt.Sprintf("if command -v grub-editenv >/dev/null 2>&1 && [ -f %s ]; then printf 'grubenv %%s\\n' \"$(grub-editenv %s list 2>/dev/null | base64 -w0)\"; else echo nogrubenv; fi\n", env, env) +
		probeFile("grubcfg", grubCfgPath) +
		"printf 'grubdefault %s\\n' \"$(cat /etc/default/grub /etc/default/grub.d/*.cfg 2>/dev/null | grep -E '^[[:space:]]*(export[[:space:]]+)?GRUB_DEFAULT=' | base64 -w0)\"\n" +
		probeFile("dropin", kernelGrubDropIn(name))
}

// Probe reports the running kernel, installed images, holds, whether apt has lists, what the
// desired line or package resolves to (see kernelShellLib), the pin file and the GRUB state.
func (Kernel) Probe(in Instance) string {
	var b strings.Builder
	b.WriteString("printf 'running %s\\n' \"$(uname -r)\"\n")
	b.WriteString(kernelImagesProbe)
	b.WriteString("apt-mark showhold 2>/dev/null | while read -r p; do printf 'hold %s\\n' \"$p\"; done\n")
	b.WriteString("set -- /var/lib/apt/lists/*_Packages*; if [ -e \"$1\" ]; then echo 'lists yes'; else echo 'lists no'; fi\n")
	if !in.Destroying() {
		t := decodeKernelSpec(in.Desired).target()
		if kernelImageRe.MatchString(t) || debNameRe.MatchString(t) {
			b.WriteString(kernelShellLib)
			for _, m := range []string{"cand", "nopin", "inst"} {
				fmt.Fprintf(&b, "sf_report %s %s\n", m, provider.Quote(t))
			}
		}
	}
	b.WriteString(probeFile("pin", kernelPinFile(in.Name)))
	b.WriteString(kernelGrubProbe(in.Name))
	return b.String()
}

// kernelObserved is the parsed probe.
type kernelObserved struct {
	running      string
	installed    map[string]string // installed linux-image-* package → version
	resolved     map[string]string // cand / nopin / inst → concrete image package
	lists        bool              // apt has package lists
	holds        []string
	grubEnv      map[string]string // nil: no GRUB environment block
	grubDefault  string            // effective GRUB_DEFAULT ("" when never set: GRUB's default 0)
	grubEntries  map[string]string // kernel release → menu entry path (submenu id>entry id)
	pin, dropIn  cty.Value         // file contents, null when absent
	grubCfgFound bool
	grubBoots    string // the kernel release GRUB boots by default ("" when it cannot tell)
}

func (Kernel) Read(in Instance, out []byte) (cty.Value, error) {
	lines := parseProbe(out)
	o := kernelObserved{installed: map[string]string{}, resolved: map[string]string{}, grubEntries: map[string]string{}}
	var cfg string
	for _, l := range lines {
		switch l.tag {
		case "running":
			if len(l.args) >= 1 {
				o.running = strings.TrimSpace(strings.Join(l.args, " "))
			}
		case "image":
			if len(l.args) == 2 && debNameRe.MatchString(l.args[0]) && debVersionRe.MatchString(l.args[1]) {
				o.installed[l.args[0]] = l.args[1]
			}
		case "hold":
			if len(l.args) >= 1 && debNameRe.MatchString(l.args[0]) {
				o.holds = append(o.holds, l.args[0])
			}
		case "lists":
			o.lists = len(l.args) >= 1 && l.args[0] == "yes"
		case "resolve":
			if len(l.args) == 2 && kernelImageRe.MatchString(l.args[1]) {
				o.resolved[l.args[0]] = l.args[1]
			}
		case "grubenv":
			enc := ""
			if len(l.args) >= 1 {
				enc = strings.Join(l.args, "")
			}
			s, err := decodeB64(enc)
			if err != nil {
				return cty.NilVal, fmt.Errorf("kernel probe: grub environment: %v", err)
			}
			o.grubEnv = parseGrubEnv(s)
		case "grubdefault":
			enc := ""
			if len(l.args) >= 1 {
				enc = strings.Join(l.args, "")
			}
			s, err := decodeB64(enc)
			if err != nil {
				return cty.NilVal, fmt.Errorf("kernel probe: GRUB_DEFAULT: %v", err)
			}
			o.grubDefault = lastGrubDefault(s)
		}
	}
	if o.running == "" {
		return cty.NilVal, fmt.Errorf("kernel probe: uname -r printed nothing (was the probe cut short?)")
	}
	cfgVal, err := fileFromProbe(lines, "grubcfg")
	if err != nil {
		return cty.NilVal, err
	}
	if !cfgVal.IsNull() {
		cfg = cfgVal.AsString()
		o.grubEntries = parseGrubEntries(cfg)
		o.grubCfgFound = true
		o.grubBoots = grubDefaultKernel(cfg, o.grubDefault, o.grubEnv)
	}
	if o.pin, err = fileFromProbe(lines, "pin"); err != nil {
		return cty.NilVal, err
	}
	if o.dropIn, err = fileFromProbe(lines, "dropin"); err != nil {
		return cty.NilVal, err
	}
	return o.value(), nil
}

func (o kernelObserved) value() cty.Value {
	env := cty.NullVal(cty.Map(cty.String))
	if o.grubEnv != nil {
		env = stringMapVal(o.grubEnv)
	}
	gd := cty.NullVal(cty.String)
	if o.grubDefault != "" {
		gd = cty.StringVal(o.grubDefault)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"running":      cty.StringVal(o.running),
		"installed":    stringMapVal(o.installed),
		"resolved":     stringMapVal(o.resolved),
		"apt_lists":    cty.BoolVal(o.lists),
		"holds":        stringSetVal(o.holds),
		"grub_env":     env,
		"grub_default": gd,
		"grub_cfg":     cty.BoolVal(o.grubCfgFound),
		"grub_entries": stringMapVal(o.grubEntries),
		"pin":          o.pin,
		"dropin":       o.dropIn,
		"grub_boots":   cty.StringVal(o.grubBoots),
	})
}

func decodeKernelObserved(v cty.Value) kernelObserved {
	o := kernelObserved{
		running:      attr(v, "running", cty.String).AsString(),
		installed:    stringMap(attr(v, "installed", cty.Map(cty.String))),
		resolved:     stringMap(attr(v, "resolved", cty.Map(cty.String))),
		holds:        stringList(attr(v, "holds", cty.List(cty.String))),
		grubEntries:  stringMap(attr(v, "grub_entries", cty.Map(cty.String))),
		pin:          attr(v, "pin", cty.String),
		dropIn:       attr(v, "dropin", cty.String),
		grubCfgFound: boolAttr(v, "grub_cfg"),
		lists:        boolAttr(v, "apt_lists"),
	}
	if e := attr(v, "grub_env", cty.Map(cty.String)); !e.IsNull() {
		o.grubEnv = stringMap(e)
	}
	if d := attr(v, "grub_default", cty.String); !d.IsNull() {
		o.grubDefault = d.AsString()
	}
	if b := attr(v, "grub_boots", cty.String); !b.IsNull() {
		o.grubBoots = b.AsString()
	}
	return o
}

// parseGrubEnv reads `grub-editenv FILE list` output.
func parseGrubEnv(s string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

// lastGrubDefault is the value of the last GRUB_DEFAULT= assignment (files are sourced in
// order, the last wins), unquoted.
func lastGrubDefault(lines string) string {
	val := ""
	for _, line := range strings.Split(lines, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		v, ok := strings.CutPrefix(line, "GRUB_DEFAULT=")
		if !ok {
			continue
		}
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		val = v
	}
	return val
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

func (Kernel) Diff(in Instance, observed cty.Value) (Diff, error) {
	o := decodeKernelObserved(observed)
	orig := decodeKernelOriginal(in.Prior.Original)
	var d Diff

	releasable := func() []string { // holds sparkform set and may release
		var out []string
		for _, p := range orig.held {
			if !slices.Contains(orig.holdsBefore, p) && slices.Contains(o.holds, p) {
				out = append(out, p)
			}
		}
		return out
	}

	if in.Destroying() {
		rel := releasable()
		if !in.Prior.Exists() && o.pin.IsNull() && o.dropIn.IsNull() && len(rel) == 0 {
			return Diff{Action: NoOp}, nil
		}
		if len(rel) > 0 {
			d.Fields = append(d.Fields, FieldChange{Path: "hold", Before: strings.Join(rel, ", "), AfterNull: true})
		}
		if !o.pin.IsNull() {
			d.Fields = append(d.Fields, FieldChange{Path: "pin_file", Before: kernelPinFile(in.Name), AfterNull: true})
		}
		if !o.dropIn.IsNull() {
			d.Fields = append(d.Fields, FieldChange{Path: "grub_default", Before: "saved (" + kernelGrubDropIn(in.Name) + ")", After: "as /etc/default/grub says (update-grub)"})
		}
		d.Action = Delete
		d.Summary = fmt.Sprintf("stop managing the kernel: %s stays installed and running, no kernel is removed, no reboot", o.running)
		return d, nil
	}

	t, err := resolveTarget(in, o)
	if err != nil {
		return Diff{}, err
	}
	s := t.spec

	// The kernel itself.
	switch {
	case t.image == "":
		d.RequiresReboot = true
		d.Summary = fmt.Sprintf("%s → %s (%s)", o.running, s.target(), t.why)
		d.Fields = append(d.Fields, FieldChange{Path: "kernel", Before: o.running, After: s.target() + " (resolved at apply)"})
	case t.release != o.running:
		d.RequiresReboot = true
		d.Summary = fmt.Sprintf("%s → %s", o.running, t.release)
		fc := FieldChange{Path: "kernel", Before: o.running, After: t.release}
		// State says sparkform made this host run orig.release; it runs something else.
		fc.Drift = in.Prior.Exists() && orig.release != "" && orig.release != o.running
		d.Fields = append(d.Fields, fc)
	}

	// Packages to install.
	var install []string
	if s.line != "" {
		l := kernelLines[s.line]
		if o.resolved["inst"] == "" || (t.image != "" && o.resolved["inst"] != t.image) {
			install = append(install, l.meta)
		}
	}
	if t.image != "" {
		if _, ok := o.installed[t.image]; !ok {
			install = append(install, t.image)
		}
	}
	if len(install) > 0 {
		d.Fields = append(d.Fields, FieldChange{Path: "install", BeforeNull: true, After: strings.Join(install, ", ")})
	}

	// Holds.
	var wantHolds []string
	if s.hold {
		wantHolds = s.holdSet(t.image)
	}
	var missing []string
	for _, p := range wantHolds {
		if !slices.Contains(o.holds, p) {
			missing = append(missing, p)
		}
	}
	var release []string
	for _, p := range releasable() {
		if !slices.Contains(wantHolds, p) {
			release = append(release, p)
		}
	}
	if len(missing) > 0 || len(release) > 0 {
		var cur []string
		for _, p := range append(slices.Clone(wantHolds), release...) {
			if slices.Contains(o.holds, p) {
				cur = append(cur, p)
			}
		}
		sort.Strings(cur)
		fc := FieldChange{Path: "hold", Before: strings.Join(cur, ", "), BeforeNull: len(cur) == 0, After: strings.Join(wantHolds, ", "), AfterNull: len(wantHolds) == 0}
		if t.image == "" && s.hold {
			fc.After += " + the resolved image"
		}
		// Holds sparkform set were released by hand.
		for _, p := range orig.held {
			if slices.Contains(wantHolds, p) && !slices.Contains(o.holds, p) && in.Prior.Exists() {
				fc.Drift = true
			}
		}
		d.Fields = append(d.Fields, fc)
	}

	// Pin file.
	if s.hold {
		want := s.pinContent(in.Addr())
		if o.pin.IsNull() || o.pin.AsString() != want {
			fc := FieldChange{Path: "pin_file", After: kernelPinFile(in.Name), BeforeNull: o.pin.IsNull()}
			if !o.pin.IsNull() {
				fc.Before = kernelPinFile(in.Name) + " (differs)"
				prev := decodeKernelSpec(in.Prior.Attributes)
				fc.Drift = in.Prior.Exists() && prev.hold && prev.line == s.line && prev.pkg == s.pkg
			}
			d.Fields = append(d.Fields, fc)
		}
	} else if !o.pin.IsNull() {
		d.Fields = append(d.Fields, FieldChange{Path: "pin_file", Before: kernelPinFile(in.Name), AfterNull: true})
	}

	// Boot entry: the saved default must end on the desired kernel (after a verified boot when
	// a reboot is needed), which needs GRUB_DEFAULT=saved.
	saved := o.grubEnv["saved_entry"]
	wantEntry := ""
	if t.release != "" {
		wantEntry = o.grubEntries[t.release]
	}
	switch {
	case d.RequiresReboot:
		after := wantEntry
		if after == "" {
			after = "the GRUB entry of " + firstNonEmpty(t.release, s.target())
		}
		d.Fields = append(d.Fields, FieldChange{Path: "boot_default", Before: saved, BeforeNull: saved == "",
			After: after + " (tried once with grub-reboot, default after the boot is verified)"})
	case wantEntry == "" || saved != wantEntry && o.grubBoots != t.release:
		// Judged by effect: GRUB booting the kernel by default (the saved entry by id, title or
		// number, or entry 0 being the newest) is as good as the saved entry sparkform would set.
		after := wantEntry
		if after == "" {
			after = "the GRUB entry of " + t.release + " (after update-grub)"
		}
		d.Fields = append(d.Fields, FieldChange{Path: "boot_default", Before: saved, BeforeNull: saved == "", After: after,
			Drift: in.Prior.Exists() && orig.release == t.release})
	}
	bootTouched := len(d.Fields) > 0 && d.Fields[len(d.Fields)-1].Path == "boot_default"
	if bootTouched && o.grubDefault != "saved" {
		before := o.grubDefault
		if before == "" {
			before = "0"
		}
		d.Fields = append(d.Fields, FieldChange{Path: "grub_default", Before: before, After: "saved (" + kernelGrubDropIn(in.Name) + ")"})
	}

	switch {
	case len(d.Fields) == 0:
		// Also without state: a host already running, booting and holding what the block asks is left alone.
		d.Action = NoOp
	case !in.Prior.Exists():
		d.Action = Create
	default:
		d.Action = Update
	}
	if d.Summary == "" && d.Action != NoOp {
		d.Summary = fmt.Sprintf("%s (running, no reboot)", o.running)
	}
	return d, nil
}

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

func (k Kernel) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	o := decodeKernelObserved(observed)
	orig := decodeKernelOriginal(in.Prior.Original)
	if log == nil {
		log = func(string) {}
	}

	if in.Destroying() {
		var rel []string
		for _, p := range orig.held {
			if !slices.Contains(orig.holdsBefore, p) && slices.Contains(o.holds, p) {
				rel = append(rel, p)
			}
		}
		if len(rel) > 0 {
			if _, err := kernelRun(ctx, h, "apt-mark unhold -- "+provider.QuoteAll(rel...)+"\n", nil); err != nil {
				return in.Prior, fmt.Errorf("%s: apt-mark unhold: %w", in.Addr(), err)
			}
		}
		if err := h.Remove(ctx, kernelPinFile(in.Name)); err != nil {
			return in.Prior, fmt.Errorf("%s: removing %s: %w", in.Addr(), kernelPinFile(in.Name), err)
		}
		if !o.dropIn.IsNull() {
			if err := h.Remove(ctx, kernelGrubDropIn(in.Name)); err != nil {
				return in.Prior, fmt.Errorf("%s: removing %s: %w", in.Addr(), kernelGrubDropIn(in.Name), err)
			}
			if _, err := kernelRun(ctx, h, "update-grub\n", log); err != nil {
				return in.Prior, fmt.Errorf("%s: update-grub: %w", in.Addr(), err)
			}
		}
		return Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
	}

	t, err := resolveTarget(in, o)
	if err != nil {
		return in.Prior, err
	}
	s := t.spec
	partial := Prior{Attributes: in.Prior.Attributes, Original: orig.value()}
	if partial.Attributes == cty.NilVal {
		partial.Attributes = cty.NullVal(in.Desired.Type())
	}

	// 1. The pin first: a pin of the previous line may block the new one.
	if s.hold {
		if err := h.WriteFile(ctx, kernelPinFile(in.Name), []byte(s.pinContent(in.Addr())), 0o644, "root"); err != nil {
			return partial, fmt.Errorf("%s: writing %s: %w", in.Addr(), kernelPinFile(in.Name), err)
		}
	} else if !o.pin.IsNull() {
		if err := h.Remove(ctx, kernelPinFile(in.Name)); err != nil {
			return partial, fmt.Errorf("%s: removing %s: %w", in.Addr(), kernelPinFile(in.Name), err)
		}
	}

	// 2. Install. apt-get update only when apt could not tell what to install: then the plan
	// said "resolved at apply"; otherwise the plan's packages are what gets installed.
	_, imageInstalled := o.installed[t.image]
	needInstall := t.image == "" || !imageInstalled || (s.line != "" && o.resolved["inst"] != t.image)
	if needInstall {
		var b strings.Builder
		b.WriteString("set -e\nexport DEBIAN_FRONTEND=noninteractive\n")
		if t.image == "" || (s.line == "" && o.resolved["cand"] == "" && o.resolved["nopin"] == "") {
			log("apt-get update")
			b.WriteString("apt-get -q " + aptOpts + " update\n")
		}
		fmt.Fprintf(&b, "apt-get -y -q %s install -- %s\n", aptOpts, provider.Quote(s.target()))
		log(fmt.Sprintf("installing %s", s.target()))
		if _, err := kernelRun(ctx, h, b.String(), log); err != nil {
			return partial, fmt.Errorf("%s: installing %s: %w", in.Addr(), s.target(), err)
		}
	}

	// 3. What is installed now: the line's image as dpkg resolves it, and the current holds.
	check := kernelShellLib + "sf_report inst " + provider.Quote(s.target()) + "\n" +
		"apt-mark showhold 2>/dev/null | while read -r p; do printf 'hold %s\\n' \"$p\"; done\n" +
		kernelGrubProbe(in.Name)
	res, err := kernelRun(ctx, h, check, nil)
	if err != nil {
		return partial, fmt.Errorf("%s: reading the installed kernel: %w", in.Addr(), err)
	}
	now := kernelObserved{resolved: map[string]string{}}
	for _, l := range parseProbe(res.Stdout) {
		switch {
		case l.tag == "resolve" && len(l.args) == 2 && kernelImageRe.MatchString(l.args[1]):
			now.resolved[l.args[0]] = l.args[1]
		case l.tag == "hold" && len(l.args) >= 1:
			now.holds = append(now.holds, l.args[0])
		}
	}
	image := now.resolved["inst"]
	if image == "" {
		return partial, fmt.Errorf("%s: after installing %s, dpkg shows no kernel image it depends on", in.Addr(), s.target())
	}
	if t.image != "" && image != t.image {
		log(fmt.Sprintf("note: %s resolved to %s (the plan showed %s)", s.target(), image, t.image))
	}
	orig.release = kernelRelease(image)
	partial.Original = orig.value()

	// 4. Holds: hold what is wanted, release what sparkform held and no longer wants.
	var wantHolds []string
	if s.hold {
		wantHolds = s.holdSet(image)
	}
	var toHold, toRelease []string
	for _, p := range wantHolds {
		if !slices.Contains(now.holds, p) {
			toHold = append(toHold, p)
		} else if !slices.Contains(orig.held, p) && !slices.Contains(orig.holdsBefore, p) {
			orig.holdsBefore = append(orig.holdsBefore, p) // someone else held it first
		}
	}
	var keep []string
	for _, p := range orig.held {
		switch {
		case slices.Contains(wantHolds, p):
			keep = append(keep, p)
		case !slices.Contains(orig.holdsBefore, p) && slices.Contains(now.holds, p):
			toRelease = append(toRelease, p)
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
		if _, err := kernelRun(ctx, h, b.String(), log); err != nil {
			return partial, fmt.Errorf("%s: apt-mark: %w", in.Addr(), err)
		}
	}
	orig.held = append(keep, toHold...)
	orig.holdsBefore = slices.DeleteFunc(orig.holdsBefore, func(p string) bool { return !slices.Contains(wantHolds, p) && !slices.Contains(orig.held, p) })

	// 5. Already running the desired kernel: no reboot, make it the saved default now.
	if orig.release == o.running {
		if _, err := k.setDefault(ctx, h, in.Name, in.Addr(), orig.release, o.running, false); err != nil {
			return Prior{Attributes: in.Desired, Original: orig.value()}, err
		}
	}
	return Prior{Attributes: in.Desired, Original: orig.value()}, nil
}

// grubState reads the GRUB facts PrepareBoot and ConfirmBoot need, in one round trip.
func (Kernel) grubState(ctx context.Context, h provider.Host, name string) (kernelObserved, error) {
	res, err := kernelRun(ctx, h, "printf 'running %s\\n' \"$(uname -r)\"\n"+kernelGrubProbe(name), nil)
	if err != nil {
		return kernelObserved{}, fmt.Errorf("reading GRUB state: %w", err)
	}
	v, err := Kernel{}.readGrub(res.Stdout)
	if err != nil {
		return kernelObserved{}, err
	}
	return v, nil
}

func (Kernel) readGrub(out []byte) (kernelObserved, error) {
	lines := parseProbe(out)
	o := kernelObserved{grubEntries: map[string]string{}}
	for _, l := range lines {
		enc := strings.Join(l.args, "")
		switch l.tag {
		case "running":
			o.running = strings.TrimSpace(strings.Join(l.args, " "))
		case "grubenv":
			s, err := decodeB64(enc)
			if err != nil {
				return o, err
			}
			o.grubEnv = parseGrubEnv(s)
		case "grubdefault":
			s, err := decodeB64(enc)
			if err != nil {
				return o, err
			}
			o.grubDefault = lastGrubDefault(s)
		}
	}
	cfg, err := fileFromProbe(lines, "grubcfg")
	if err != nil {
		return o, err
	}
	if !cfg.IsNull() {
		o.grubCfgFound = true
		o.grubEntries = parseGrubEntries(cfg.AsString())
	}
	if o.dropIn, err = fileFromProbe(lines, "dropin"); err != nil {
		return o, err
	}
	return o, nil
}

// ensureSavedMode makes GRUB_DEFAULT=saved effective (a drop-in, then update-grub) and makes
// sure grub.cfg has entries for the kernels named; it returns the fresh GRUB state.
func (k Kernel) ensureSavedMode(ctx context.Context, h provider.Host, name, addr string, kernels ...string) (kernelObserved, error) {
	g, err := k.grubState(ctx, h, name)
	if err != nil {
		return g, err
	}
	if g.grubEnv == nil {
		return g, fmt.Errorf("no GRUB environment block (%s) or no grub-editenv: this host does not boot with GRUB as sparkform expects", grubEnvPath)
	}
	update := false
	if g.grubDefault != "saved" {
		// Ubuntu ships /etc/default/grub.d; Debian does not (update-grub reads it when present).
		if _, err := kernelRun(ctx, h, "mkdir -p /etc/default/grub.d\n", nil); err != nil {
			return g, fmt.Errorf("creating /etc/default/grub.d: %w", err)
		}
		if err := h.WriteFile(ctx, kernelGrubDropIn(name), []byte(grubDropInContent(addr)), 0o644, "root"); err != nil {
			return g, fmt.Errorf("writing %s: %w", kernelGrubDropIn(name), err)
		}
		update = true
	}
	for _, kv := range kernels {
		if g.grubEntries[kv] == "" {
			update = true
		}
	}
	if !update {
		return g, nil
	}
	if _, err := kernelRun(ctx, h, "update-grub\n", nil); err != nil {
		return g, fmt.Errorf("update-grub: %w", err)
	}
	if g, err = k.grubState(ctx, h, name); err != nil {
		return g, err
	}
	if g.grubDefault != "saved" {
		return g, fmt.Errorf("GRUB_DEFAULT is still %q after writing %s: a later file in /etc/default/grub.d overrides it", g.grubDefault, kernelGrubDropIn(name))
	}
	for _, kv := range kernels {
		if g.grubEntries[kv] == "" {
			return g, fmt.Errorf("%s has no entry in %s even after update-grub (is /boot/vmlinuz-%s there?)", kv, grubCfgPath, kv)
		}
	}
	return g, nil
}

// setDefault makes release the saved default (grub-set-default by id) and verifies it with
// grub-editenv. With requireRunning it refuses unless the host runs that kernel.
func (k Kernel) setDefault(ctx context.Context, h provider.Host, name, addr, release, running string, requireRunning bool) (string, error) {
	g, err := k.ensureSavedMode(ctx, h, name, addr, release)
	if err != nil {
		return "", fmt.Errorf("%s: %w", addr, err)
	}
	if requireRunning && g.running != release {
		return "", fmt.Errorf("%s: the host runs %s, not %s: not making it the default", addr, g.running, release)
	}
	id := g.grubEntries[release]
	if g.grubEnv["saved_entry"] == id {
		return id, nil
	}
	script := "set -e\ngrub-set-default " + provider.Quote(id) + "\ngrub-editenv " + provider.Quote(grubEnvPath) + " list\n"
	res, err := kernelRun(ctx, h, script, nil)
	if err != nil {
		return "", fmt.Errorf("%s: grub-set-default: %w", addr, err)
	}
	if env := parseGrubEnv(string(res.Stdout)); env["saved_entry"] != id {
		return "", fmt.Errorf("%s: grub-set-default %s did not stick: saved_entry is %q", addr, id, env["saved_entry"])
	}
	return id, nil
}

// PrepareBoot arranges that the next boot, and only it, runs the applied kernel: GRUB_DEFAULT
// saved (drop-in + update-grub when needed), the saved default pinned to the RUNNING kernel's
// entry (a saved_entry of "0" would mean "the newest kernel", which is now the new one: a kernel
// that fails to boot would then be retried forever), then grub-reboot with the new entry's id.
func (k Kernel) PrepareBoot(ctx context.Context, h provider.Host, in Instance, applied Prior) (BootPlan, error) {
	orig := decodeKernelOriginal(applied.Original)
	s := decodeKernelSpec(in.Desired)
	if orig.release == "" {
		return BootPlan{}, fmt.Errorf("%s: state does not say which kernel was installed", in.Addr())
	}
	g, err := k.grubState(ctx, h, in.Name)
	if err != nil {
		return BootPlan{}, fmt.Errorf("%s: %w", in.Addr(), err)
	}
	if g, err = k.ensureSavedMode(ctx, h, in.Name, in.Addr(), orig.release, g.running); err != nil {
		return BootPlan{}, fmt.Errorf("%s: %w", in.Addr(), err)
	}
	newID, prevID := g.grubEntries[orig.release], g.grubEntries[g.running]
	var b strings.Builder
	b.WriteString("set -e\n")
	if g.grubEnv["saved_entry"] != prevID {
		b.WriteString("grub-set-default " + provider.Quote(prevID) + "\n")
	}
	b.WriteString("grub-reboot " + provider.Quote(newID) + "\n")
	b.WriteString("grub-editenv " + provider.Quote(grubEnvPath) + " list\n")
	res, err := kernelRun(ctx, h, b.String(), nil)
	if err != nil {
		return BootPlan{}, fmt.Errorf("%s: grub-reboot: %w", in.Addr(), err)
	}
	env := parseGrubEnv(string(res.Stdout))
	if env["next_entry"] != newID || env["saved_entry"] != prevID {
		return BootPlan{}, fmt.Errorf("%s: GRUB environment after grub-reboot is next_entry=%q saved_entry=%q, want %q and %q", in.Addr(), env["next_entry"], env["saved_entry"], newID, prevID)
	}
	return BootPlan{ExpectKernel: orig.release, PreviousKernel: g.running, Entry: newID, Timeout: s.timeout}, nil
}

// ConfirmBoot makes the verified kernel the saved default (grub-set-default by id), after
// checking the host really runs it, and checks the environment block says so.
func (k Kernel) ConfirmBoot(ctx context.Context, h provider.Host, in Instance, applied Prior, bp BootPlan) error {
	g, err := k.grubState(ctx, h, in.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", in.Addr(), err)
	}
	if g.running != bp.ExpectKernel {
		return fmt.Errorf("%s: the host runs %s, not %s: not making it the default", in.Addr(), g.running, bp.ExpectKernel)
	}
	script := "set -e\ngrub-set-default " + provider.Quote(bp.Entry) + "\ngrub-editenv " + provider.Quote(grubEnvPath) + " list\n"
	res, err := kernelRun(ctx, h, script, nil)
	if err != nil {
		return fmt.Errorf("%s: grub-set-default: %w", in.Addr(), err)
	}
	if env := parseGrubEnv(string(res.Stdout)); env["saved_entry"] != bp.Entry {
		return fmt.Errorf("%s: grub-set-default %s did not stick: saved_entry is %q", in.Addr(), bp.Entry, env["saved_entry"])
	}
	return nil
}

// parseGrubEntries reads an Ubuntu grub.cfg and returns, per kernel release, the path GRUB
// commands take to its normal (not recovery) entry: "SUBMENU_ID>ENTRY_ID", or "ENTRY_ID" for a
// top-level entry. Entries are found by id (the `$menuentry_id_option 'ID'` form grub-mkconfig
// writes, or `--id ID` / `--id=ID`), never by their translated titles; the kernel of an entry
// is its `linux .../vmlinuz-KVER` line. Ubuntu's "gnulinux-KVER-advanced-UUID" entries win over
// others of the same kernel (the top "gnulinux-simple" entry always boots the newest kernel).
func parseGrubEntries(cfg string) map[string]string {
	type node struct {
		kind, id string
		kernel   string
	}
	var stack []*node // one per open '{'; nil for blocks that are not menu entries (functions, ...)
	best := map[string]string{}
	rank := map[string]int{}
	consider := func(n *node, path string) {
		if n.kernel == "" || n.id == "" || !kernelRelRe.MatchString(n.kernel) || strings.Contains(n.id, "recovery") {
			return
		}
		// The path becomes grub-set-default's operand, and that script takes no "--".
		if strings.HasPrefix(path, "-") || HasControl(path) {
			return
		}
		r := 1
		if strings.HasPrefix(n.id, "gnulinux-"+n.kernel+"-advanced-") {
			r = 3
		} else if strings.HasPrefix(n.id, "gnulinux-simple-") {
			r = 0
		}
		if cur, ok := rank[n.kernel]; !ok || r > cur {
			best[n.kernel], rank[n.kernel] = path, r
		}
	}
	for _, raw := range strings.Split(cfg, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		toks := grubTokens(line)
		if len(toks) == 0 {
			continue
		}
		switch {
		case (toks[0] == "menuentry" || toks[0] == "submenu") && toks[len(toks)-1] == "{":
			stack = append(stack, &node{kind: toks[0], id: grubEntryID(toks[1 : len(toks)-1])})
		case toks[len(toks)-1] == "{":
			stack = append(stack, nil)
		case toks[0] == "}":
			if len(stack) == 0 {
				continue
			}
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == nil || n.kind != "menuentry" {
				continue
			}
			var ids []string
			ok := true
			for _, p := range stack {
				if p == nil {
					continue
				}
				if p.id == "" {
					ok = false
				}
				ids = append(ids, p.id)
			}
			if ok {
				consider(n, strings.Join(append(ids, n.id), ">"))
			}
		case toks[0] == "linux" || toks[0] == "linuxefi":
			if len(stack) > 0 && stack[len(stack)-1] != nil && len(toks) > 1 {
				img := toks[1]
				if i := strings.LastIndex(img, "/vmlinuz-"); i >= 0 {
					stack[len(stack)-1].kernel = img[i+len("/vmlinuz-"):]
				} else if strings.HasPrefix(img, "vmlinuz-") {
					stack[len(stack)-1].kernel = strings.TrimPrefix(img, "vmlinuz-")
				}
			}
		}
	}
	return best
}

// grubEntryID finds the id among a menuentry/submenu's arguments.
func grubEntryID(args []string) string {
	for i, a := range args {
		switch {
		case (a == "$menuentry_id_option" || a == "${menuentry_id_option}" || a == "--id") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "--id="):
			return strings.TrimPrefix(a, "--id=")
		}
	}
	return ""
}

// grubTokens splits a grub.cfg line into words as GRUB's script lexer does for what grub-mkconfig
// writes: single quotes literal, double quotes and backslash escapes, variables kept as written.
func grubTokens(line string) []string {
	var toks []string
	var cur strings.Builder
	in := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(line):
				i++
				cur.WriteByte(line[i])
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				toks = append(toks, cur.String())
				cur.Reset()
				in = false
			}
		case c == '#' && !in:
			return toks
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		toks = append(toks, cur.String())
	}
	return toks
}

// RevertBoot makes the kernel the host ran before this apply the default boot entry again
// (by GRUB id); the engine then reboots into it and verifies. Used when a smoke test with
// on_failure = "rollback" fails on the new kernel.
func (k Kernel) RevertBoot(ctx context.Context, h provider.Host, in Instance, applied Prior, bp BootPlan) error {
	if bp.PreviousKernel == "" {
		return fmt.Errorf("%s: no previous kernel recorded to return to", in.Addr())
	}
	_, err := k.setDefault(ctx, h, in.Name, in.Addr(), bp.PreviousKernel, "", false)
	return err
}
