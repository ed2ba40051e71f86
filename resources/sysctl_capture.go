package resources

import (
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// defaultSysctlCaptureKeys are the keys that matter for loading models, captured when the host has them.
var defaultSysctlCaptureKeys = []string{
	"vm.swappiness", "vm.dirty_ratio", "vm.dirty_background_ratio", "vm.dirty_bytes", "vm.dirty_background_bytes",
	"vm.dirty_expire_centisecs", "vm.dirty_writeback_centisecs", "vm.min_free_kbytes", "vm.max_map_count",
	"vm.overcommit_memory", "vm.overcommit_ratio", "vm.zone_reclaim_mode", "kernel.numa_balancing",
}

// kernelDefaults are the Linux defaults of the captured keys whose default does not depend on
// the machine (vm.min_free_kbytes and kernel.numa_balancing do). A key no boot file sets whose
// live value differs from its default was set live only, and is captured as such.
var kernelDefaults = map[string]string{
	"vm.swappiness": "60", "vm.dirty_ratio": "20", "vm.dirty_background_ratio": "10", "vm.dirty_bytes": "0",
	"vm.dirty_background_bytes": "0", "vm.dirty_expire_centisecs": "3000", "vm.dirty_writeback_centisecs": "500",
	"vm.max_map_count": "65530", "vm.overcommit_memory": "0", "vm.overcommit_ratio": "50", "vm.zone_reclaim_mode": "0",
}

// dirtyBytesOf pairs each dirty ratio with the bytes setting that replaces it when not 0.
var dirtyBytesOf = map[string]string{"vm.dirty_ratio": "vm.dirty_bytes", "vm.dirty_background_ratio": "vm.dirty_background_bytes"}

// sysctlCaptureKeys are the default keys plus the valid -sysctl keys, without duplicates.
func sysctlCaptureKeys(opts CaptureOptions) (keys []string, bad []string) {
	seen := map[string]bool{}
	for _, k := range append(append([]string{}, defaultSysctlCaptureKeys...), opts.SysctlKeys...) {
		switch {
		case seen[k]:
		case !sysctlKeyRe.MatchString(k):
			bad = append(bad, k)
		default:
			keys = append(keys, k)
		}
		seen[k] = true
	}
	return keys, bad
}

func (sysctl) CaptureProbe(opts CaptureOptions) string {
	keys, _ := sysctlCaptureKeys(opts)
	return sysctlLiveFact.command(keys...) + sysctlBootFact.command()
}

// Capture writes one block with the keys whose value the host keeps across reboots (the boot
// configuration sets the live value), keys set live to something else than the boot
// configuration says, keys set live only (no boot file, a value other than the kernel's
// default; as read-ahead set live only is captured), and every -sysctl key. A key at the
// kernel's default, or whose default depends on the machine, is listed in the comment, not
// captured, so a host at the kernel default is not told to write it.
func (sysctl) Capture(opts CaptureOptions, out []byte) ([]CapturedBlock, []string, error) {
	keys, bad := sysctlCaptureKeys(opts)
	var notes []string
	for _, k := range bad {
		notes = append(notes, fmt.Sprintf("sysctl: %q is not a sysctl key (lowercase words joined by dots): not captured", k))
	}
	lines := parseProbe(out)
	live, _ := sysctlLiveFact.parse(lines)
	conf, err := sysctlBootFact.parse(lines)
	if err != nil {
		return nil, nil, err
	}
	boot := sysctlBootValues(conf.Files, conf.EtcConf, keys, "")
	explicit := map[string]bool{}
	for _, k := range opts.SysctlKeys {
		explicit[k] = true
	}
	values := map[string]cty.Value{}
	var comment, atDefault, unknown []string
	for _, k := range keys {
		v, ok := live[k]
		if !ok {
			if explicit[k] {
				notes = append(notes, fmt.Sprintf("sysctl: the host has no key %s (sysctl -n fails): not captured", k))
			}
			continue
		}
		// vm.dirty_bytes and vm.dirty_ratio are two ways to set one limit: the kernel uses the
		// one that is not 0 (same for the background pair); only that one is captured.
		if (k == "vm.dirty_bytes" || k == "vm.dirty_background_bytes") && v == "0" && !explicit[k] {
			continue
		}
		if bytesKey, isRatio := dirtyBytesOf[k]; isRatio && live[bytesKey] != "" && live[bytesKey] != "0" && !explicit[k] {
			comment = append(comment, fmt.Sprintf("%s is not captured: %s = %s replaces it.", k, bytesKey, live[bytesKey]))
			continue
		}
		if !sysctlValueRe.MatchString(v) {
			notes = append(notes, fmt.Sprintf("sysctl: %s = %q has characters sparkform does not write: not captured", k, v))
			continue
		}
		b, persisted := boot[k]
		def, knownDefault := kernelDefaults[k]
		switch {
		case persisted && b == v:
		case persisted:
			comment = append(comment, fmt.Sprintf("%s: captured the live value %s; the boot configuration sets %s.", k, v, b))
		case knownDefault && v != def:
			comment = append(comment, fmt.Sprintf("%s = %s: set live only (no boot configuration file keeps it; the kernel's default is %s).", k, v, def))
		case explicit[k] && knownDefault:
			comment = append(comment, fmt.Sprintf("%s = %s: the kernel's default; no boot configuration file sets it.", k, v))
		case explicit[k]:
			comment = append(comment, fmt.Sprintf("%s = %s: no boot configuration file sets it (the machine's default, or set live only).", k, v))
		case knownDefault:
			atDefault = append(atDefault, k+" = "+v)
			continue
		default:
			unknown = append(unknown, k+" = "+v)
			continue
		}
		values[k] = numberOrString(v)
	}
	if len(atDefault) > 0 {
		comment = append(comment, "Not captured, at the kernel's default and set by no boot configuration file: "+strings.Join(atDefault, ", ")+".")
	}
	if len(unknown) > 0 {
		comment = append(comment, "Not captured, set by no boot configuration file, at a default the kernel computes for the",
			"machine (or set live only): "+strings.Join(unknown, ", ")+". Add one with `-sysctl KEY` if the other hosts need it.")
	}
	if len(values) == 0 {
		if rest := append(atDefault, unknown...); len(rest) > 0 {
			notes = append(notes, "sysctl: no key that matters for model loading is set at boot or live away from its default ("+strings.Join(rest, ", ")+")")
		}
		return nil, notes, nil
	}
	head := "Kernel parameters for model loading, as the host sets them at boot (sysctl.d) and live."
	return []CapturedBlock{{Type: "sysctl", Name: "loading", Comment: strings.Join(append([]string{head}, comment...), "\n"),
		Attrs: []CapturedAttr{{Name: "values", Value: cty.ObjectVal(values)}}}}, notes, nil
}
