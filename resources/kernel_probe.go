package resources

import (
	"fmt"
	"strings"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// What the kernel resource reads from a host: the probe and its parsed form.

// Probe reports the running kernel, installed images, holds, whether apt has lists, what the
// desired line or package resolves to (see kernelShellLib), the pin file and the GRUB state.
func (Kernel) Probe(in Instance) string {
	var b strings.Builder
	b.WriteString(kernelRunningProbe)
	b.WriteString(kernelImagesProbe)
	b.WriteString(aptHoldsProbe)
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
	var o kernelObserved
	o.readPackageFacts(lines)
	if o.running == "" {
		return cty.NilVal, fmt.Errorf("kernel probe: uname -r printed nothing (was the probe cut short?)")
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

// readPackageFacts fills the running kernel and the apt/dpkg fields of o from probe lines:
// anything not shaped like a package name, version or image is ignored.
func (o *kernelObserved) readPackageFacts(lines []probeLine) {
	o.installed, o.resolved = map[string]string{}, map[string]string{}
	for _, l := range lines {
		switch l.tag {
		case "running":
			o.running = strings.TrimSpace(strings.Join(l.args, " "))
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
		}
	}
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
