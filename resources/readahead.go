package resources

import (
	"context"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// Readahead manages a block device's read-ahead: /sys/block/<device>/queue/read_ahead_kb live,
// persisted by a udev rule so it survives reboots and device re-adds. The live value is
// always set directly, because udevd may not run (containers, early boot, the lab).
type Readahead struct{}

func init() { Register(Readahead{}) }

// A plain kernel block device name: nvme0n1, sda, vdb, mmcblk0, dm-0. No slashes, no dots.
var blockDeviceRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// MaxReadaheadKB bounds kb to something a block queue accepts (1 GiB).
const MaxReadaheadKB = 1 << 20

// ReadaheadRule is the udev rule file of a block; 60- runs after the distribution's defaults.
func ReadaheadRule(name string) string {
	return "/etc/udev/rules.d/60-sparkform-readahead-" + name + ".rules"
}

func (Readahead) Type() string { return "readahead" }

func (Readahead) Spec() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"device": &hcldec.AttrSpec{Name: "device", Type: cty.String, Required: true},
		"kb":     &hcldec.AttrSpec{Name: "kb", Type: cty.Number, Required: true},
	}
}

func (Readahead) Validate(desired cty.Value) []AttrError {
	var errs []AttrError
	dev := desired.GetAttr("device")
	if dev.IsNull() || !blockDeviceRe.MatchString(dev.AsString()) {
		shown := "null"
		if !dev.IsNull() {
			shown = strconv.Quote(dev.AsString())
		}
		errs = append(errs, AttrError{Attr: "device", Msg: fmt.Sprintf("%s is not a block device name: give the name under /sys/block, e.g. \"nvme0n1\" (no /dev/, no slashes)", shown)})
	}
	kb := desired.GetAttr("kb")
	if kb.IsNull() {
		errs = append(errs, AttrError{Attr: "kb", Msg: "kb is null"})
	} else {
		bf := kb.AsBigFloat()
		if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(MaxReadaheadKB)) > 0 {
			errs = append(errs, AttrError{Attr: "kb", Msg: fmt.Sprintf("kb must be a whole number of KiB from 0 to %d, got %s", MaxReadaheadKB, bf.Text('f', -1))})
		}
	}
	return errs
}

func readaheadKB(v cty.Value) string {
	i, _ := v.GetAttr("kb").AsBigFloat().Int64()
	return strconv.FormatInt(i, 10)
}

// devices are every device the instance may read or touch: desired, last applied, and those
// whose original read-ahead state remembers.
func (Readahead) devices(in Instance) []string {
	all := map[string]string{}
	if !in.Destroying() {
		all[in.Desired.GetAttr("device").AsString()] = ""
	}
	if d := attr(in.Prior.Attributes, "device", cty.String); !d.IsNull() {
		all[d.AsString()] = ""
	}
	for d := range stringMap(in.Prior.Original) {
		all[d] = ""
	}
	return sortedKeys(all)
}

func (r Readahead) Probe(in Instance) string {
	var b strings.Builder
	for _, d := range r.devices(in) {
		p := provider.Quote("/sys/block/" + d + "/queue/read_ahead_kb")
		fmt.Fprintf(&b, "if [ -r %s ]; then printf 'ra %%s %%s\\n' %s \"$(cat %s)\"; else printf 'nodev %%s\\n' %s; fi\n", p, provider.Quote(d), p, provider.Quote(d))
	}
	b.WriteString(probeFile("rule", ReadaheadRule(in.Name)))
	return b.String()
}

func (r Readahead) Read(in Instance, out []byte) (cty.Value, error) {
	lines := parseProbe(out)
	live := map[string]string{}
	for _, l := range lines {
		if l.tag == "ra" && len(l.args) == 2 {
			live[l.args[0]] = strings.TrimSpace(l.args[1])
		}
	}
	file, err := fileFromProbe(lines, "rule")
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{"live": stringMapVal(live), "file": file}), nil
}

func readaheadRuleContent(addr, device, kb string) string {
	return managedHeader(addr) +
		fmt.Sprintf("ACTION==\"add|change\", SUBSYSTEM==\"block\", KERNEL==\"%s\", ATTR{queue/read_ahead_kb}=\"%s\"\n", device, kb)
}

func (r Readahead) Diff(in Instance, observed cty.Value) (Diff, error) {
	live := stringMap(observed.GetAttr("live"))
	file := observed.GetAttr("file")
	original := stringMap(in.Prior.Original)
	prevDev := attr(in.Prior.Attributes, "device", cty.String)
	var d Diff
	restore := func(dev string) {
		orig, ok := original[dev]
		if cur, exists := live[dev]; ok && exists && cur != orig {
			d.Fields = append(d.Fields, FieldChange{Path: fmt.Sprintf("read_ahead_kb[%q]", dev), Before: cur, After: orig})
		}
	}

	if in.Destroying() {
		if !in.Prior.Exists() && file.IsNull() {
			return Diff{Action: NoOp}, nil
		}
		for _, dev := range sortedKeys(original) {
			restore(dev)
		}
		if !file.IsNull() {
			d.Fields = append(d.Fields, FieldChange{Path: "file", Before: ReadaheadRule(in.Name), AfterNull: true})
		}
		d.Action = Delete
		return d, nil
	}

	dev := in.Desired.GetAttr("device").AsString()
	want := readaheadKB(in.Desired)
	cur, ok := live[dev]
	if !ok {
		return Diff{}, fmt.Errorf("%s: the host has no block device %s (no /sys/block/%s); list devices with lsblk -d", in.Addr(), dev, dev)
	}
	if cur != want {
		fc := FieldChange{Path: fmt.Sprintf("read_ahead_kb[%q]", dev), Before: cur, After: want}
		if in.Prior.Exists() && !prevDev.IsNull() && prevDev.AsString() == dev && readaheadKB(in.Prior.Attributes) != cur {
			fc.Drift = true
		}
		d.Fields = append(d.Fields, fc)
	}
	// A device dropped from the block gets its original read-ahead back.
	if !prevDev.IsNull() && prevDev.AsString() != dev {
		restore(prevDev.AsString())
	}
	content := readaheadRuleContent(in.Addr(), dev, want)
	if file.IsNull() || file.AsString() != content {
		fc := FieldChange{Path: "file", After: ReadaheadRule(in.Name), BeforeNull: file.IsNull()}
		if !file.IsNull() {
			fc.Before = ReadaheadRule(in.Name) + " (differs)"
			fc.Drift = in.Prior.Exists() && !prevDev.IsNull() && prevDev.AsString() == dev && readaheadKB(in.Prior.Attributes) == want
		}
		d.Fields = append(d.Fields, fc)
	}
	switch {
	case !in.Prior.Exists():
		d.Action = Create
	case len(d.Fields) > 0:
		d.Action = Update
	default:
		d.Action = NoOp
	}
	return d, nil
}

func (r Readahead) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	live := stringMap(observed.GetAttr("live"))
	original := stringMap(in.Prior.Original)
	prevDev := attr(in.Prior.Attributes, "device", cty.String)
	set := map[string]string{}

	if in.Destroying() {
		for dev, kb := range original {
			if _, ok := live[dev]; ok {
				set[dev] = kb
			}
		}
		if err := h.Remove(ctx, ReadaheadRule(in.Name)); err != nil {
			return in.Prior, fmt.Errorf("%s: removing %s: %w", in.Addr(), ReadaheadRule(in.Name), err)
		}
		if err := readaheadWrite(ctx, h, set); err != nil {
			return in.Prior, fmt.Errorf("%s: restoring original read-ahead: %w", in.Addr(), err)
		}
		return Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
	}

	dev := in.Desired.GetAttr("device").AsString()
	want := readaheadKB(in.Desired)
	if _, known := original[dev]; !known {
		if cur, ok := live[dev]; ok {
			original[dev] = cur
		}
	}
	set[dev] = want
	if !prevDev.IsNull() && prevDev.AsString() != dev {
		if orig, ok := original[prevDev.AsString()]; ok {
			if _, exists := live[prevDev.AsString()]; exists {
				set[prevDev.AsString()] = orig
			}
		}
		delete(original, prevDev.AsString())
	}
	partial := Prior{Attributes: in.Prior.Attributes, Original: stringMapVal(original)}
	if partial.Attributes == cty.NilVal {
		partial.Attributes = cty.NullVal(in.Desired.Type())
	}
	if err := h.WriteFile(ctx, ReadaheadRule(in.Name), []byte(readaheadRuleContent(in.Addr(), dev, want)), 0o644, "root"); err != nil {
		return partial, fmt.Errorf("%s: writing %s: %w", in.Addr(), ReadaheadRule(in.Name), err)
	}
	if err := readaheadWrite(ctx, h, set); err != nil {
		return partial, fmt.Errorf("%s: %w", in.Addr(), err)
	}
	return Prior{Attributes: in.Desired, Original: stringMapVal(original)}, nil
}

// readaheadWrite sets the live values directly, then asks a running udevd to reload its rules
// so the persisted rule is the one in force; without udevd the rule still applies at next boot.
func readaheadWrite(ctx context.Context, h provider.Host, kbByDevice map[string]string) error {
	var b strings.Builder
	b.WriteString("rc=0\n")
	for _, dev := range sortedKeys(kbByDevice) {
		fmt.Fprintf(&b, "printf '%%s\\n' %s > %s || rc=1\n", provider.Quote(kbByDevice[dev]), provider.Quote("/sys/block/"+dev+"/queue/read_ahead_kb"))
	}
	b.WriteString("if [ -S /run/udev/control ] && command -v udevadm >/dev/null 2>&1; then udevadm control --reload-rules || rc=1; fi\n")
	b.WriteString("exit $rc\n")
	res, err := h.Run(ctx, b.String())
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("setting read_ahead_kb failed (exit %d): %s", res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}
