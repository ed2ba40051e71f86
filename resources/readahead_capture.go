package resources

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// kernelDefaultReadaheadKB is Linux's read-ahead for a block queue nothing configured (VM_READAHEAD_PAGES).
const kernelDefaultReadaheadKB = "128"

// CaptureProbe reads read_ahead_kb of every NVMe namespace in /sys/block and the udev rules
// setting read-ahead. Only reads.
func (readahead) CaptureProbe(CaptureOptions) string {
	return readaheadLiveFact.command() + udevRulesFact.command()
}

// Capture writes one block per NVMe disk (named after it) whose read-ahead a udev rule sets, or
// whose live value is not the kernel's default. A disk at the default with no rule is noted, not
// captured.
func (readahead) Capture(_ CaptureOptions, out []byte) ([]CapturedBlock, []string, error) {
	lines := parseProbe(out)
	live, _ := readaheadLiveFact.parse(lines)
	rules, err := udevRulesFact.parse(lines)
	if err != nil {
		return nil, nil, err
	}
	devs := slices.Sorted(maps.Keys(live))
	boot := udevReadahead(rules, devs, "")
	var blocks []CapturedBlock
	var notes, atDefault []string
	for _, dev := range devs {
		v := live[dev]
		if !wholeNumberRe.MatchString(v) {
			notes = append(notes, fmt.Sprintf("readahead: %s: read_ahead_kb %q is not a number: not captured", dev, v))
			continue
		}
		b, ruled := boot[dev]
		var comment string
		switch {
		case ruled && b == v:
			comment = fmt.Sprintf("Read-ahead of %s: %s KiB, live and by udev rule.", dev, v)
		case ruled:
			comment = fmt.Sprintf("Read-ahead of %s: captured the live %s KiB; the udev rules set %s.", dev, v, b)
		case v == kernelDefaultReadaheadKB:
			atDefault = append(atDefault, dev)
			continue
		default:
			comment = fmt.Sprintf("Read-ahead of %s: %s KiB, set live only (no udev rule keeps it at boot).", dev, v)
		}
		blocks = append(blocks, CapturedBlock{Type: "readahead", Name: captureName(dev, "disk"), Comment: comment,
			Attrs: []CapturedAttr{{Name: "device", Value: cty.StringVal(dev)}, {Name: "kb", Value: numberOrString(v)}}})
	}
	if len(atDefault) > 0 {
		sort.Strings(atDefault)
		notes = append(notes, fmt.Sprintf("readahead: %s: not captured: at the kernel's default %s KiB and no udev rule sets it", strings.Join(atDefault, ", "), kernelDefaultReadaheadKB))
	}
	if len(live) == 0 {
		notes = append(notes, "readahead: the host has no NVMe disk (/sys/block/nvme*n*): nothing captured")
	}
	return blocks, notes, nil
}
