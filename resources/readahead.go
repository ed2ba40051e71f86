package resources

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// readahead manages a block device's read-ahead: /sys/block/<device>/queue/read_ahead_kb live,
// persisted by a udev rule so it survives reboots and device re-adds. The live value is
// always set directly, because udevd may not run (containers, early boot, the lab).
type readahead struct{}

func init() { Register(readahead{}) }

// A plain kernel block device name: nvme0n1, sda, vdb, mmcblk0, dm-0. No slashes, no dots.
var blockDeviceRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// maxReadaheadKB bounds kb to something a block queue accepts (1 GiB).
const maxReadaheadKB = 1 << 20

// readaheadRule is the udev rule file of a block; 60- runs after the distribution's defaults.
func readaheadRule(name string) string {
	return "/etc/udev/rules.d/60-sparkform-readahead-" + name + ".rules"
}

func (readahead) Type() string { return "readahead" }

func (readahead) Spec() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"device": &hcldec.AttrSpec{Name: "device", Type: cty.String, Required: true},
		"kb":     &hcldec.AttrSpec{Name: "kb", Type: cty.Number, Required: true},
	}
}

func (readahead) Validate(desired cty.Value) []AttrError {
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
		if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(maxReadaheadKB)) > 0 {
			errs = append(errs, AttrError{Attr: "kb", Msg: fmt.Sprintf("kb must be a whole number of KiB from 0 to %d, got %s", maxReadaheadKB, bf.Text('f', -1))})
		}
	}
	return errs
}

func readaheadKB(v cty.Value) string {
	i, _ := v.GetAttr("kb").AsBigFloat().Int64()
	return strconv.FormatInt(i, 10)
}

// DescribeSetup records the device's read-ahead.
func (readahead) DescribeSetup(_ string, applied cty.Value, s *TestSetup) {
	dev := attr(applied, "device", cty.String)
	kb := attr(applied, "kb", cty.Number)
	if dev.IsNull() || !dev.IsKnown() || kb.IsNull() || !kb.IsKnown() {
		return
	}
	n, acc := kb.AsBigFloat().Int64()
	if acc != big.Exact || !blockDeviceRe.MatchString(dev.AsString()) {
		return
	}
	if s.ReadAheadKB == nil {
		s.ReadAheadKB = map[string]int64{}
	}
	s.ReadAheadKB[dev.AsString()] = n
}

// devices are every device the instance may read or touch: desired, last applied, and those
// whose original read-ahead state remembers.
func (readahead) devices(in Instance) []string {
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
	return slices.Sorted(maps.Keys(all))
}

// readaheadLiveFact (args: devices; none: every NVMe namespace) prints "ra DEV KB" for each
// device with a block queue ("nodev DEV" for a named one without), reading
// /sys/block/DEV/queue/read_ahead_kb with builtins, and parses to the live value per device.
// A device name that is not one (from a tampered state) never becomes a path.
var readaheadLiveFact = fact[map[string]string]{
	name: "readahead_live",
	command: func(devices ...string) string {
		if len(devices) == 0 {
			return `for d in /sys/block/nvme*n*; do v=; [ -f "$d/queue/read_ahead_kb" ] && { IFS= read -r v < "$d/queue/read_ahead_kb"; } 2>/dev/null && printf 'ra %s %s\n' "${d##*/}" "$v"; done
true
`
		}
		var b strings.Builder
		for _, d := range devices {
			if !blockDeviceRe.MatchString(d) {
				continue
			}
			p := provider.Quote("/sys/block/" + d + "/queue/read_ahead_kb")
			fmt.Fprintf(&b, "v=; if [ -f %[1]s ] && { IFS= read -r v < %[1]s; } 2>/dev/null; then printf 'ra %%s %%s\\n' %[2]s \"$v\"; else printf 'nodev %%s\\n' %[2]s; fi\n", p, provider.Quote(d))
		}
		return b.String()
	},
	// A value that is not a whole number of KiB (sysfs prints one) is an error naming the device;
	// the map still holds it (capture notes it and goes on).
	parse: func(lines []probeLine, _ ...string) (map[string]string, error) {
		live := map[string]string{}
		var err error
		for _, l := range lines {
			if l.tag == "ra" && len(l.args) == 2 && blockDeviceRe.MatchString(l.args[0]) {
				v := strings.TrimSpace(l.args[1])
				live[l.args[0]] = v
				if !wholeNumberRe.MatchString(v) && err == nil {
					err = fmt.Errorf("readahead probe: the host reports read_ahead_kb %q for %s, not a whole number of KiB", v, l.args[0])
				}
			}
		}
		return live, err
	},
}

func (r readahead) Probe(in Instance) string {
	return readaheadLiveFact.command(r.devices(in)...) + fileFact.command("rule", readaheadRule(in.Name)) + udevRulesFact.command()
}

// udevRuleDirs are the directories udevd reads rules from, in priority order: a file name in an
// earlier directory hides the same name in later ones.
var udevRuleDirs = []string{"/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d", "/lib/udev/rules.d", "/usr/lib/udev/rules.d"}

// udevRulesFact lists every rules file ("dfile udev PATH": a file's name shadows the same name
// in later directories even when it sets nothing) and prints their read_ahead_kb lines in one
// grep. Only reads.
var udevRulesFact = fact[[]udevRuleFile]{
	name: "udev_rules",
	command: func(...string) string {
		return "set --\n" + dropInProbe("udev", udevRuleDirs, ".rules") + grepDropIns("read_ahead_kb")
	},
	parse: func(lines []probeLine, _ ...string) ([]udevRuleFile, error) {
		files, err := dropInsFromProbe(lines, "udev")
		if err != nil {
			return nil, fmt.Errorf("readahead probe: %v", err)
		}
		return files, nil
	},
}

// udevRuleFile is one rules file (or the lines of it that matter).
type udevRuleFile = confFile

// udevReadahead computes the read_ahead_kb the udev rules give each device when it is added:
// files sorted by name across udevRuleDirs (an earlier directory's file shadows the same name
// in later ones), rules in order, a later assignment winning unless an earlier one used ":=".
// A rule applies to a device when its KERNEL=="glob|glob" (or KERNEL!=) matches the device,
// SUBSYSTEM (if given) matches "block" and ACTION (if given) matches "add"; other conditions
// (ATTR{queue/rotational}=="0", ENV{...}) are taken as true, since a rule setting read-ahead
// is written for the disks it names. Files at skip are left out.
func udevReadahead(files []udevRuleFile, devices []string, skip string) map[string]string {
	ordered := effectiveDropIns(files, udevRuleDirs, ".rules", skip)
	out := map[string]string{}
	final := map[string]bool{}
	for _, f := range ordered {
		for _, line := range strings.Split(f.Content, "\n") {
			rule, ok := parseUdevRule(line)
			if !ok || rule.kb == "" {
				continue
			}
			for _, dev := range devices {
				if final[dev] || !rule.matches(dev) {
					continue
				}
				out[dev] = rule.kb
				final[dev] = rule.final
			}
		}
	}
	return out
}

// udevRule is what matters of one rule line for read-ahead.
type udevRule struct {
	conds []udevCond
	kb    string // the ATTR{queue/read_ahead_kb} assigned; "" none
	final bool   // assigned with :=
}

type udevCond struct {
	key, value string
	negate     bool
}

var udevPairRe = regexp.MustCompile(`^([A-Za-z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"$`)

func parseUdevRule(line string) (udevRule, bool) {
	var r udevRule
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return r, false
	}
	for _, part := range splitUdevPairs(line) {
		m := udevPairRe.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			return r, false
		}
		key, op, val := m[1], m[2], m[3]
		switch op {
		case "==", "!=":
			r.conds = append(r.conds, udevCond{key: key, value: val, negate: op == "!="})
		case "=", ":=":
			// The kernel reads the value as kstrtoul(val, 10) does: a '+' and leading zeros
			// allowed, a sign or anything else refused (the write fails, nothing is set).
			if key == "ATTR{queue/read_ahead_kb}" {
				if n, err := strconv.ParseUint(strings.TrimPrefix(val, "+"), 10, 64); err == nil {
					r.kb, r.final = strconv.FormatUint(n, 10), op == ":="
				}
			}
		}
	}
	return r, true
}

// splitUdevPairs splits a rule line at the commas outside quotes.
func splitUdevPairs(line string) []string {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && quoted && i+1 < len(line):
			cur.WriteByte(c)
			i++
			cur.WriteByte(line[i])
			continue
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if strings.TrimSpace(cur.String()) != "" {
		parts = append(parts, cur.String())
	}
	return parts
}

// udevGlob reports whether s matches a udev pattern: shell globs joined by '|'.
func udevGlob(pattern, s string) bool {
	for _, alt := range strings.Split(pattern, "|") {
		if ok, _ := path.Match(alt, s); ok {
			return true
		}
	}
	return false
}

func (r udevRule) matches(dev string) bool {
	for _, c := range r.conds {
		var ok bool
		switch c.key {
		case "KERNEL":
			ok = udevGlob(c.value, dev)
		case "SUBSYSTEM":
			ok = udevGlob(c.value, "block")
		case "ACTION":
			ok = udevGlob(c.value, "add")
		default:
			continue
		}
		if ok == c.negate {
			return false
		}
	}
	return true
}

func (r readahead) Read(in Instance, out []byte) (cty.Value, error) {
	lines := parseProbe(out)
	live, err := readaheadLiveFact.parse(lines)
	if err != nil {
		return cty.NilVal, err
	}
	return readPersisted(lines, live, "rule", func() (map[string]string, error) {
		rules, err := udevRulesFact.parse(lines)
		// What the udev rules give the devices, without this block's own rule.
		return udevReadahead(rules, r.devices(in), readaheadRule(in.Name)), err
	})
}

func readaheadRuleContent(addr, device, kb string) string {
	return managedHeader(addr) +
		fmt.Sprintf("ACTION==\"add|change\", SUBSYSTEM==\"block\", KERNEL==\"%s\", ATTR{queue/read_ahead_kb}=\"%s\"\n", device, kb)
}

func (r readahead) Diff(in Instance, observed cty.Value) (Diff, error) {
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
		for _, dev := range slices.Sorted(maps.Keys(original)) {
			restore(dev)
		}
		if !file.IsNull() {
			d.Fields = append(d.Fields, FieldChange{Path: "file", Before: readaheadRule(in.Name), AfterNull: true})
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
	// Persistence judged by effect: sparkform's rule is needed only when the host's own udev
	// rules do not already give the device the desired read-ahead; once it exists it is kept in
	// line with the block.
	content := readaheadRuleContent(in.Addr(), dev, want)
	boot := stringMap(attr(observed, "boot", cty.Map(cty.String)))
	switch {
	case file.IsNull() && boot[dev] != want:
		d.Fields = append(d.Fields, FieldChange{Path: "file", After: readaheadRule(in.Name), BeforeNull: true})
	case !file.IsNull() && file.AsString() != content:
		d.Fields = append(d.Fields, FieldChange{Path: "file", After: readaheadRule(in.Name), Before: readaheadRule(in.Name) + " (differs)",
			Drift: in.Prior.Exists() && !prevDev.IsNull() && prevDev.AsString() == dev && readaheadKB(in.Prior.Attributes) == want})
	}
	d.Action = changeAction(in, d.Fields)
	return d, nil
}

func (r readahead) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	sa, err := r.ApplyScript(in, observed, d)
	if err != nil {
		return in.Prior, err
	}
	return runScriptApply(ctx, h, in, sa)
}

func readaheadPath(dev string) string { return "/sys/block/" + dev + "/queue/read_ahead_kb" }

// ApplyScript writes the udev rule (when the plan asks for it, or to keep it in line once it
// exists) and the live read-ahead of the device, putting back the original of a device the block
// no longer names; a destroy removes the rule and restores the originals. A running udevd reloads
// its rules.
func (r readahead) ApplyScript(in Instance, observed cty.Value, d Diff) (ScriptApply, error) {
	live := stringMap(observed.GetAttr("live"))
	original := stringMap(in.Prior.Original)
	prevDev := attr(in.Prior.Attributes, "device", cty.String)
	set := map[string]string{}
	var b strings.Builder
	const reload = "if [ -S /run/udev/control ] && command -v udevadm >/dev/null 2>&1; then udevadm control --reload-rules || exit 1; fi\n"

	if in.Destroying() {
		for dev, kb := range original {
			if _, ok := live[dev]; ok && blockDeviceRe.MatchString(dev) {
				set[dev] = kb
			}
		}
		b.WriteString(removeFileScript(readaheadRule(in.Name), true))
		b.WriteString(writeValuesScript("read_ahead_kb of", set, readaheadPath, false))
		b.WriteString(reload)
		return ScriptApply{Script: b.String(), Failed: in.Prior,
			Done: Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}}, nil
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
			if _, exists := live[prevDev.AsString()]; exists && blockDeviceRe.MatchString(prevDev.AsString()) {
				set[prevDev.AsString()] = orig
			}
		}
		delete(original, prevDev.AsString())
	}
	partial := Prior{Attributes: in.Prior.Attributes, Original: stringMapVal(original)}
	if partial.Attributes == cty.NilVal {
		partial.Attributes = cty.NullVal(in.Desired.Type())
	}
	writesFile := !observed.GetAttr("file").IsNull() || diffHasField(d, "file")
	if writesFile {
		b.WriteString(writeFileScript(readaheadRule(in.Name), readaheadRuleContent(in.Addr(), dev, want), true))
	}
	b.WriteString(writeValuesScript("read_ahead_kb of", set, readaheadPath, !writesFile))
	b.WriteString(reload)
	return ScriptApply{Script: b.String(), Failed: partial, Done: Prior{Attributes: in.Desired, Original: stringMapVal(original)}}, nil
}
