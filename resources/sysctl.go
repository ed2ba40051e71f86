package resources

import (
	"context"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// sysctl manages kernel parameters: the live value (what `sysctl -n` reads) and their
// persistence in one file per block under /etc/sysctl.d, applied again at every boot.
type sysctl struct{}

func init() { Register(sysctl{}) }

var (
	sysctlKeyRe = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_-]+)+$`)
	// Values are numbers or short words, sometimes several separated by blanks
	// ("4096 87380 6291456"); nothing a shell or the sysctl.d parser could misread.
	sysctlValueRe = regexp.MustCompile(`^[A-Za-z0-9_.:,/+@-]+( [A-Za-z0-9_.:,/+@-]+)*$`)
)

// sysctlDir is where persistence files go; sysctl --system reads it first.
const sysctlDir = "/etc/sysctl.d"

func (sysctl) Type() string { return "sysctl" }

func (sysctl) Spec() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"values": &hcldec.AttrSpec{Name: "values", Type: cty.Map(cty.String), Required: true},
	}
}

// DescribeSetup records the block's values.
func (sysctl) DescribeSetup(_ string, applied cty.Value, s *TestSetup) {
	v := attr(applied, "values", cty.Map(cty.String))
	if !v.IsKnown() || !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return
	}
	for k, val := range stringMap(v) {
		if s.Sysctl == nil {
			s.Sysctl = map[string]string{}
		}
		s.Sysctl[k] = val
	}
}

func (sysctl) Validate(desired cty.Value) []AttrError {
	var errs []AttrError
	vals := desired.GetAttr("values")
	if vals.IsNull() || vals.LengthInt() == 0 {
		return []AttrError{{Attr: "values", Msg: "at least one key is required"}}
	}
	for it := vals.ElementIterator(); it.Next(); {
		k, v := it.Element()
		key := k.AsString()
		if !sysctlKeyRe.MatchString(key) {
			errs = append(errs, AttrError{Attr: "values", Msg: fmt.Sprintf("%q is not a sysctl key: keys look like vm.swappiness (lowercase words joined by dots)", key)})
			continue
		}
		if v.IsNull() {
			errs = append(errs, AttrError{Attr: "values", Msg: fmt.Sprintf("%s: value is null", key)})
			continue
		}
		if !sysctlValueRe.MatchString(v.AsString()) {
			errs = append(errs, AttrError{Attr: "values", Msg: fmt.Sprintf("%s: value %q has characters a sysctl value never needs (allowed: letters, digits, _.:,/+@- and single spaces)", key, v.AsString())})
		}
	}
	return errs
}

// sysctlFile is the persistence file of a block; the 90- prefix orders it after distribution
// files and before the 99- files people write by hand, which therefore still win.
func sysctlFile(name string) string { return sysctlDir + "/90-sparkform-" + name + ".conf" }

// keysOfInterest are every key the instance may read or touch: desired, last applied, and
// the ones whose originals state remembers.
func (sysctl) keysOfInterest(in Instance) []string {
	all := map[string]string{}
	if !in.Destroying() {
		for k := range stringMap(in.Desired.GetAttr("values")) {
			all[k] = ""
		}
	}
	for k := range stringMap(attr(in.Prior.Attributes, "values", cty.Map(cty.String))) {
		all[k] = ""
	}
	for k := range stringMap(in.Prior.Original) {
		all[k] = ""
	}
	return slices.Sorted(maps.Keys(all))
}

func (s sysctl) Probe(in Instance) string {
	return sysctlLiveFact.command(s.keysOfInterest(in)...) + fileFact.command("conf", sysctlFile(in.Name)) + sysctlBootFact.command()
}

// sysctlLiveFact (args: keys) reads every key's /proc/sys file in one grep (printed as
// "PATH:LINE" after "haskey KEY"; "nokey KEY" for a key the kernel lacks or does not let root
// read) and parses to
// the live value of every key that exists: what `sysctl -n` prints, its lines joined by blanks.
// Not the shell's read builtin: dash reads a byte at a time, and the kernel's integer sysctls
// answer a read at a nonzero offset with end-of-file, so `read` sees "6" for a swappiness of 60.
// Keys that are not sysctl keys (from a tampered state) are left out: they never become a path.
// A key asked for (parse's args) with neither line is an error: the output was cut short, and
// reading it as "no such key" would change the plan.
var sysctlLiveFact = fact[map[string]string]{
	name: "sysctl_live",
	command: func(keys ...string) string {
		var b strings.Builder
		b.WriteString("set --\n")
		for _, k := range keys {
			if sysctlKeyRe.MatchString(k) {
				fmt.Fprintf(&b, "if [ -r %[1]s ]; then printf 'haskey %%s\\n' %[2]s; set -- \"$@\" %[1]s; else printf 'nokey %%s\\n' %[2]s; fi\n", provider.Quote(sysctlPath(k)), provider.Quote(k))
			}
		}
		b.WriteString("if [ $# -gt 0 ]; then grep -a -H '' -- \"$@\" 2>/dev/null; fi\ntrue\n")
		return b.String()
	},
	parse: func(lines []probeLine, keys ...string) (map[string]string, error) {
		byPath := map[string]string{}
		reported := map[string]bool{}
		for _, l := range lines {
			if (l.tag == "haskey" || l.tag == "nokey") && len(l.args) == 1 {
				reported[l.args[0]] = true
			}
			if l.tag == "haskey" && len(l.args) == 1 && sysctlKeyRe.MatchString(l.args[0]) {
				byPath[sysctlPath(l.args[0])] = l.args[0]
			}
		}
		for _, k := range keys {
			if sysctlKeyRe.MatchString(k) && !reported[k] {
				return nil, fmt.Errorf("sysctl probe: no report for %s (was the probe's output cut short?)", k)
			}
		}
		values := map[string][]string{}
		for _, l := range lines {
			raw := strings.Join(append([]string{l.tag}, l.args...), " ")
			p, v, ok := strings.Cut(raw, ":") // /proc/sys paths hold no ':'
			if k, known := byPath[p]; ok && known {
				values[k] = append(values[k], v)
			}
		}
		live := map[string]string{}
		for _, k := range byPath {
			live[k] = normalizeSysctl(strings.Join(values[k], " "))
		}
		return live, nil
	},
}

// sysctlBootDirs are the directories systemd-sysctl (and sysctl --system) read at boot, in
// priority order: a file name in an earlier directory hides the same name in later ones.
var sysctlBootDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// sysctlBoot is the boot configuration of sysctl: the sysctl.d drop-ins and /etc/sysctl.conf.
type sysctlBoot struct {
	Files   []sysctlConfFile
	EtcConf *string // nil when absent
}

// sysctlBootFact lists every boot configuration file (sysctl.d drop-ins as "dfile sysctld
// PATH", /etc/sysctl.conf as "dfile sysctlconf /etc/sysctl.conf") and prints all their lines
// in one grep. Only reads.
var sysctlBootFact = fact[sysctlBoot]{
	name: "sysctl_boot",
	command: func(...string) string {
		return "set --\n" + dropInProbe("sysctld", sysctlBootDirs, ".conf") +
			dropInProbe("sysctlconf", []string{"/etc/sysctl.conf"}, "") +
			grepDropIns("")
	},
	parse: func(lines []probeLine, _ ...string) (sysctlBoot, error) {
		files, err := dropInsFromProbe(lines, "sysctld")
		if err != nil {
			return sysctlBoot{}, fmt.Errorf("sysctl probe: %v", err)
		}
		etc, err := dropInsFromProbe(lines, "sysctlconf")
		if err != nil || len(etc) == 0 {
			return sysctlBoot{Files: files}, err
		}
		return sysctlBoot{Files: files, EtcConf: &etc[0].Content}, nil
	},
}

// sysctlConfFile is one boot configuration file and its content.
type sysctlConfFile = confFile

// sysctlBootValues computes the values the boot configuration sets, as systemd-sysctl applies
// it: the *.conf files of sysctlBootDirs sorted by file name (a name in an earlier directory
// shadows the same name in later ones), each read top to bottom, the last assignment of a key
// winning; then /etc/sysctl.conf (etcConf; nil when absent), last. Keys written with '/' as the
// separator are normalized to dots; a '-' prefix (ignore errors) is dropped; glob keys
// (net.ipv4.conf.*.rp_filter) apply to the keys of interest they match. Files at skip are left out.
func sysctlBootValues(files []sysctlConfFile, etcConf *string, keys []string, skip string) map[string]string {
	ordered := effectiveDropIns(files, sysctlBootDirs, ".conf", skip)
	var contents []string
	for _, f := range ordered {
		contents = append(contents, f.Content)
	}
	if etcConf != nil {
		contents = append(contents, *etcConf)
	}
	out := map[string]string{}
	for _, c := range contents {
		for _, line := range strings.Split(c, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k = normalizeSysctlKey(strings.TrimPrefix(strings.TrimSpace(k), "-"))
			v = normalizeSysctl(v)
			if !strings.ContainsAny(k, "*?[") {
				out[k] = v
				continue
			}
			for _, want := range keys {
				if ok, _ := path.Match(strings.ReplaceAll(k, ".", "/"), strings.ReplaceAll(want, ".", "/")); ok {
					out[want] = v
				}
			}
		}
	}
	return out
}

// normalizeSysctlKey writes a key with dots: "vm/swappiness" → "vm.swappiness" (when the first
// separator is '/', '/' and '.' swap, as sysctl.d(5) says).
func normalizeSysctlKey(k string) string {
	i := strings.IndexAny(k, "./")
	if i < 0 || k[i] == '.' {
		return k
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '/':
			return '.'
		case '.':
			return '/'
		}
		return r
	}, k)
}

// Observed shape: live values of the keys that exist, and the persistence file (null: absent).
func (s sysctl) Read(in Instance, out []byte) (cty.Value, error) {
	lines := parseProbe(out)
	keys := s.keysOfInterest(in)
	live, err := sysctlLiveFact.parse(lines, keys...)
	if err != nil {
		return cty.NilVal, err
	}
	return readPersisted(lines, live, "conf", func() (map[string]string, error) {
		conf, err := sysctlBootFact.parse(lines)
		if err != nil {
			return nil, err
		}
		// What the boot configuration sets without this block's own file.
		boot := sysctlBootValues(conf.Files, conf.EtcConf, keys, sysctlFile(in.Name))
		for k := range boot {
			if !slices.Contains(keys, k) {
				delete(boot, k)
			}
		}
		return boot, nil
	})
}

// normalizeSysctl collapses blanks as the kernel and sysctl.d do, so "4096\t87380" equals "4096 87380".
func normalizeSysctl(v string) string { return strings.Join(strings.Fields(v), " ") }

// sysctlFileContent is the persistence file for the desired values, keys sorted.
func sysctlFileContent(addr string, values map[string]string) string {
	var b strings.Builder
	b.WriteString(managedHeader(addr))
	for _, k := range slices.Sorted(maps.Keys(values)) {
		fmt.Fprintf(&b, "%s = %s\n", k, normalizeSysctl(values[k]))
	}
	return b.String()
}

func (s sysctl) Diff(in Instance, observed cty.Value) (Diff, error) {
	live := stringMap(observed.GetAttr("live"))
	file := observed.GetAttr("file")
	applied := stringMap(attr(in.Prior.Attributes, "values", cty.Map(cty.String)))
	original := stringMap(in.Prior.Original)
	var d Diff

	field := func(key, after string) {
		before, ok := live[key]
		if ok && before == after {
			return
		}
		fc := FieldChange{Path: fmt.Sprintf("values[%q]", key), Before: before, BeforeNull: !ok, After: after}
		if prev, was := applied[key]; was && normalizeSysctl(prev) != before {
			fc.Drift = true
		}
		d.Fields = append(d.Fields, fc)
	}

	if in.Destroying() {
		if !in.Prior.Exists() && file.IsNull() {
			return Diff{Action: NoOp}, nil
		}
		for _, k := range slices.Sorted(maps.Keys(original)) {
			if _, ok := live[k]; ok {
				field(k, normalizeSysctl(original[k]))
			}
		}
		if !file.IsNull() {
			d.Fields = append(d.Fields, FieldChange{Path: "file", Before: sysctlFile(in.Name), AfterNull: true})
		}
		d.Action = Delete
		return d, nil
	}

	want := stringMap(in.Desired.GetAttr("values"))
	var missing []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := live[k]; !ok {
			missing = append(missing, k)
			continue
		}
		field(k, normalizeSysctl(want[k]))
	}
	if len(missing) > 0 {
		return Diff{}, fmt.Errorf("%s: the host has no sysctl key %s (sysctl -n fails); check the spelling or the kernel", in.Addr(), strings.Join(missing, ", "))
	}
	// Keys dropped from the block go back to the value they had before sparkform.
	for _, k := range slices.Sorted(maps.Keys(applied)) {
		if _, still := want[k]; still {
			continue
		}
		if orig, ok := original[k]; ok {
			if _, exists := live[k]; exists {
				field(k, normalizeSysctl(orig))
			}
		}
	}
	// Persistence judged by effect: sparkform's file is needed only for keys the host's own boot
	// configuration (sysctl.d files, sysctl.conf) does not already set to the desired value.
	// Once sparkform's file exists it is kept in line with the block.
	content := sysctlFileContent(in.Addr(), want)
	unpersisted := sysctlUnpersisted(want, stringMap(attr(observed, "boot", cty.Map(cty.String))))
	switch {
	case file.IsNull() && len(unpersisted) > 0:
		d.Fields = append(d.Fields, FieldChange{Path: "file", After: sysctlFile(in.Name), BeforeNull: true})
		if len(unpersisted) < len(want) {
			d.Summary = "the boot configuration does not set " + strings.Join(unpersisted, ", ") + " to the desired value"
		}
	case !file.IsNull() && file.AsString() != content:
		// The file is drift only when it is not what the last apply wrote: a block whose values
		// changed rewrites it without calling the host edited.
		edited := in.Prior.Exists() && file.AsString() != sysctlFileContent(in.Addr(), applied)
		before := sysctlFile(in.Name) + " (the previous values)"
		if edited || !in.Prior.Exists() {
			before = sysctlFile(in.Name) + " (edited on the host)"
		}
		d.Fields = append(d.Fields, FieldChange{Path: "file", After: sysctlFile(in.Name), Before: before, Drift: edited})
	}
	d.Action = changeAction(in, d.Fields)
	return d, nil
}

// sysctlUnpersisted lists the desired keys the boot configuration does not set to their value.
func sysctlUnpersisted(want, boot map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if b, ok := boot[k]; !ok || b != normalizeSysctl(want[k]) {
			out = append(out, k)
		}
	}
	return out
}

func (s sysctl) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	sa, err := s.ApplyScript(in, observed, d)
	if err != nil {
		return in.Prior, err
	}
	return runScriptApply(ctx, h, in, sa)
}

// sysctlPath is the /proc/sys file of a key (keys are checked by sysctlKeyRe: no '/').
func sysctlPath(key string) string { return "/proc/sys/" + strings.ReplaceAll(key, ".", "/") }

// ApplyScript writes the persistence file (when the plan asks for it, or to keep it in line once
// it exists) and the live values that differ, with builtins (a key already right may be
// read-only); a destroy removes the file and puts the original values back.
func (s sysctl) ApplyScript(in Instance, observed cty.Value, d Diff) (ScriptApply, error) {
	live := stringMap(observed.GetAttr("live"))
	original := stringMap(in.Prior.Original)
	applied := stringMap(attr(in.Prior.Attributes, "values", cty.Map(cty.String)))
	var b strings.Builder

	if in.Destroying() {
		set := map[string]string{}
		for k, v := range original {
			if _, ok := live[k]; ok && sysctlKeyRe.MatchString(k) {
				set[k] = v
			}
		}
		b.WriteString(removeFileScript(sysctlFile(in.Name), true))
		b.WriteString(writeValuesScript("sysctl", onlyChanged(set, live), sysctlPath, false))
		return ScriptApply{Script: b.String(), Failed: in.Prior,
			Done: Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}}, nil
	}

	want := stringMap(in.Desired.GetAttr("values"))
	// Remember what each key was before sparkform first touched it; keep the first record.
	for k := range want {
		if _, known := original[k]; !known {
			if v, ok := live[k]; ok {
				original[k] = v
			}
		}
	}
	set := map[string]string{}
	for k, v := range want {
		set[k] = normalizeSysctl(v)
	}
	for k := range applied {
		if _, still := want[k]; !still {
			if orig, ok := original[k]; ok && sysctlKeyRe.MatchString(k) {
				set[k] = orig
			}
			delete(original, k)
		}
	}
	// Whatever happens once the fragment runs, the originals are kept.
	partial := Prior{Attributes: in.Prior.Attributes, Original: stringMapVal(original)}
	if in.Prior.Attributes == cty.NilVal {
		partial.Attributes = cty.NullVal(in.Desired.Type())
	}
	writesFile := !observed.GetAttr("file").IsNull() || diffHasField(d, "file")
	if writesFile {
		b.WriteString(writeFileScript(sysctlFile(in.Name), sysctlFileContent(in.Addr(), want), true))
	}
	b.WriteString(writeValuesScript("sysctl", onlyChanged(set, live), sysctlPath, !writesFile))
	return ScriptApply{Script: b.String(), Failed: partial, Done: Prior{Attributes: in.Desired, Original: stringMapVal(original)}}, nil
}

// onlyChanged keeps the entries of set whose live value differs.
func onlyChanged(set, live map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range set {
		if cur, ok := live[k]; !ok || cur != normalizeSysctl(v) {
			out[k] = v
		}
	}
	return out
}

// diffHasField reports whether a diff lists a change of the attribute at p.
func diffHasField(d Diff, p string) bool {
	for _, f := range d.Fields {
		if f.Path == p {
			return true
		}
	}
	return false
}
