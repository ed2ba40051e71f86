package resources

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// CaptureProbe reads the running kernel, installed images, holds, which image each NVIDIA
// line's installed metapackage leads to, and the GRUB state, from the facts Probe reads too. Only
// reads (dpkg-query for images and holds, builtins for grubenv and grub.cfg).
func (kernel) CaptureProbe(CaptureOptions) string {
	var b strings.Builder
	b.WriteString(kernelRunningFact.command())
	b.WriteString(kernelImagesFact.command())
	b.WriteString(aptHoldsFact.command())
	b.WriteString(kernelShellLib)
	var lines []string
	for _, n := range kernelLineNames {
		lines = append(lines, n, kernelLines[n].meta)
	}
	b.WriteString(shellArgs(lines...) + kernelCaptureLinesSh)
	b.WriteString(grubFact.command("capture"))
	b.WriteString("printf 'nofile pin\\n'\n") // sparkform's pin file belongs to a block, not to the host's setting
	return b.String()
}

//go:embed scripts/kernel-capture-lines.sh
var kernelCaptureLinesSh string

// Capture: the line the running kernel belongs to (an installed line metapackage leading to
// its image), else the exact image package; hold = true when the image is on hold.
func (kernel) Capture(_ CaptureOptions, out []byte) ([]CapturedBlock, []string, error) {
	o, err := kernel{}.Read(Instance{Type: "kernel", Name: "capture", Desired: cty.NullVal(cty.DynamicPseudoType)}, out)
	if err != nil {
		return nil, nil, err
	}
	ko := decodeKernelObserved(o)
	lineImage := map[string]string{}
	for _, l := range parseProbe(out) {
		if l.tag == "lineimage" && len(l.args) == 2 && kernelImageRe.MatchString(l.args[1]) {
			lineImage[l.args[0]] = l.args[1]
		}
	}
	image := "linux-image-" + ko.running
	if _, ok := ko.installed[image]; !ok || !kernelImageRe.MatchString(image) {
		return nil, []string{fmt.Sprintf("kernel: not captured: the running kernel %s is not an installed package linux-image-%s", ko.running, ko.running)}, nil
	}
	b := CapturedBlock{Type: "kernel", Name: "nvidia"}
	var comment []string
	line := ""
	for _, n := range kernelLineNames {
		if lineImage[n] == image {
			line = n
			break
		}
	}
	if line != "" {
		b.Attrs = append(b.Attrs, CapturedAttr{Name: "line", Value: cty.StringVal(line)})
		comment = append(comment, fmt.Sprintf("The host runs %s, from the kernel line %s (%s installed).", ko.running, line, kernelLines[line].meta))
	} else {
		b.Attrs = append(b.Attrs, CapturedAttr{Name: "package", Value: cty.StringVal(image)})
		comment = append(comment, fmt.Sprintf("The host runs %s; no installed NVIDIA line metapackage (linux-nvidia-6.14, -6.17, -hwe-24.04) leads to it, so the exact package is named.", ko.running))
	}
	if slices.Contains(ko.holds, image) {
		b.Attrs = append(b.Attrs, CapturedAttr{Name: "hold", Value: cty.True})
		comment = append(comment, image+" is on hold: hold = true (sparkform also holds the line's metapackages and pins the other lines).")
	}
	if ko.grubBoots != "" && ko.grubBoots != ko.running {
		comment = append(comment, fmt.Sprintf("Note: GRUB's default entry boots %s, not the running kernel: the host runs it only until its next reboot.", ko.grubBoots))
	}
	comment = append(comment, "reboot_timeout is not captured (the default 10m applies).")
	b.Comment = strings.Join(comment, "\n")
	return []CapturedBlock{b}, nil, nil
}
