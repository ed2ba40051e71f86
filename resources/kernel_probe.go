package resources

import (
	"fmt"
	"strings"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// What the kernel resource reads from a host: the probe and its parsed form.

// The facts the kernel resource reads. Each is one command and its parser (see fact).
var (
	kernelRunningFact = fact[string]{
		name: "kernel_running",
		// The kernel's osrelease is what uname -r prints; read with a builtin (a string sysctl
		// answers any read, unlike the integer ones: see sysctlLiveFact).
		command: func(...string) string {
			return "r=; IFS= read -r r < /proc/sys/kernel/osrelease; printf 'running %s\\n' \"$r\"\n"
		},
		parse: func(lines []probeLine, _ ...string) (string, error) {
			return strings.TrimSpace(strings.Join(firstTagged(lines, "running").args, " ")), nil
		},
	}
	// kernelImagesFact: installed linux-image-* package → version.
	kernelImagesFact = fact[map[string]string]{
		name: "kernel_images",
		command: func(...string) string {
			// one process: dpkg-query prints the tagged lines, the parser keeps the installed ones
			return "dpkg-query -W -f='image ${Package} ${Version} ${db:Status-Abbrev}\\n' 'linux-image-*' 2>/dev/null\n"
		},
		parse: func(lines []probeLine, _ ...string) (map[string]string, error) {
			out := map[string]string{}
			for _, l := range lines {
				if l.tag != "image" || len(l.args) != 2 {
					continue
				}
				pkg, rest, _ := strings.Cut(l.args[0]+" "+l.args[1], " ")
				ver, status, _ := strings.Cut(rest, " ")
				// status (dpkg's db:Status-Abbrev): installed, or half-configured/triggers pending
				if status != "" && (len(status) < 2 || !strings.ContainsRune("iWt", rune(status[1]))) {
					continue
				}
				if debNameRe.MatchString(pkg) && debVersionRe.MatchString(ver) {
					out[pkg] = ver
				}
			}
			return out, nil
		},
	}
	// aptHoldsFact: the packages on hold (names dpkg would not allow are dropped).
	aptHoldsFact = fact[[]string]{
		name: "apt_holds",
		command: func(...string) string {
			// what apt-mark showhold lists (dpkg's hold selection), for the kernel's packages, in
			// one process; the parser keeps the held ones
			return "dpkg-query -W -f='hold ${Package} ${db:Status-Abbrev}\\n' 'linux-*' 2>/dev/null\n"
		},
		parse: func(lines []probeLine, _ ...string) ([]string, error) {
			var out []string
			for _, l := range lines {
				if l.tag != "hold" || len(l.args) < 1 {
					continue
				}
				// "hold PKG" (apt-mark) or "hold PKG STATUS" (dpkg-query; held when it starts with h)
				if len(l.args) == 2 && !strings.HasPrefix(l.args[1], "h") {
					continue
				}
				if debNameRe.MatchString(l.args[0]) {
					out = append(out, l.args[0])
				}
			}
			return out, nil
		},
	}
	// aptListsFact: whether apt has package lists (apt-get update ran once).
	aptListsFact = fact[bool]{
		name: "apt_lists",
		command: func(...string) string {
			return "set -- /var/lib/apt/lists/*_Packages*; if [ -e \"$1\" ]; then echo 'lists yes'; else echo 'lists no'; fi\n"
		},
		parse: func(lines []probeLine, _ ...string) (bool, error) {
			l := firstTagged(lines, "lists")
			return len(l.args) >= 1 && l.args[0] == "yes", nil
		},
	}
	// kernelResolveFact: args TARGET MODE... [held=METAPACKAGE] [packages]: the image package TARGET leads
	// to in each MODE (inst, cand, nopin; see kernelShellLib and kernel-walk.awk, which skips
	// the modes resolveTarget would not look at). Modes that lead to no image are absent.
	kernelResolveFact = fact[map[string]string]{
		name: "kernel_resolve",
		command: func(args ...string) string {
			var modes []string
			held, packages := "", ""
			for _, a := range args[1:] {
				if m, ok := strings.CutPrefix(a, "held="); ok {
					held = m
				} else if a == "packages" {
					packages = "1"
				} else {
					modes = append(modes, a)
				}
			}
			return kernelShellLib + fmt.Sprintf("sf_walk %s %s %s %s\n", provider.Quote(args[0]), provider.Quote(strings.Join(modes, ",")), provider.Quote(held), packages)
		},
		parse: func(lines []probeLine, _ ...string) (map[string]string, error) {
			out := map[string]string{}
			for _, l := range lines {
				if l.tag == "resolve" && len(l.args) == 2 && kernelImageRe.MatchString(l.args[1]) {
					out[l.args[0]] = l.args[1]
				}
			}
			return out, nil
		},
	}
)

// Probe reports the running kernel, installed images, holds, whether apt has lists, what the
// desired line or package resolves to (see kernelShellLib), the pin file and the GRUB state.
func (kernel) Probe(in Instance) string {
	var b strings.Builder
	b.WriteString(kernelRunningFact.command())
	b.WriteString(aptListsFact.command())
	t := ""
	if !in.Destroying() {
		t = decodeKernelSpec(in.Desired).target()
	}
	if kernelImageRe.MatchString(t) || debNameRe.MatchString(t) {
		// the walk's dpkg-query also answers kernelImagesFact and aptHoldsFact ("packages")
		args := []string{t, "inst", "cand", "nopin", "packages"}
		if s := decodeKernelSpec(in.Desired); s.hold && s.line != "" {
			args = append(args, "held="+kernelLines[s.line].meta)
		}
		b.WriteString(kernelResolveFact.command(args...))
	} else {
		b.WriteString(kernelImagesFact.command())
		b.WriteString(aptHoldsFact.command())
	}
	b.WriteString(fileFact.command("pin", kernelPinFile(in.Name)))
	b.WriteString(grubFact.command(in.Name))
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

func (kernel) Read(in Instance, out []byte) (cty.Value, error) {
	lines := parseProbe(out)
	var o kernelObserved
	o.readPackageFacts(lines)
	if o.running == "" {
		return cty.NilVal, fmt.Errorf("kernel probe: uname -r printed nothing (was the probe cut short?)")
	}
	if !unameReleaseRe.MatchString(o.running) {
		return cty.NilVal, fmt.Errorf("kernel probe: the running kernel %q is not a release uname -r prints (printable, no blanks, at most 64 bytes)", o.running)
	}
	if err := o.readGrubFacts(lines); err != nil {
		return cty.NilVal, err
	}
	var err error
	if o.pin, err = fileFromProbe(lines, "pin"); err != nil {
		return cty.NilVal, err
	}
	return o.value(), nil
}

// readPackageFacts fills the running kernel and the apt/dpkg fields of o from probe lines.
func (o *kernelObserved) readPackageFacts(lines []probeLine) {
	o.running, _ = kernelRunningFact.parse(lines)
	o.installed, _ = kernelImagesFact.parse(lines)
	o.holds, _ = aptHoldsFact.parse(lines)
	o.lists, _ = aptListsFact.parse(lines)
	o.resolved, _ = kernelResolveFact.parse(lines)
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
