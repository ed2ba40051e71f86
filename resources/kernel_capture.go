package resources

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// grubItem is one menuentry or submenu of a grub.cfg, in menu order.
type grubItem struct {
	title, id, kernel string
	submenu           bool
	children          []*grubItem
}

// parseGrubMenu reads the menu tree of a grub.cfg (what parseGrubEntries flattens).
func parseGrubMenu(cfg string) []*grubItem {
	root := &grubItem{submenu: true}
	stack := []*grubItem{root} // nil for blocks that are not menu entries
	parent := func() *grubItem {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i] != nil && stack[i].submenu {
				return stack[i]
			}
		}
		return root
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
			it := &grubItem{id: grubEntryID(toks[1 : len(toks)-1]), submenu: toks[0] == "submenu"}
			if len(toks) > 2 {
				it.title = toks[1]
			}
			p := parent()
			p.children = append(p.children, it)
			stack = append(stack, it)
		case toks[len(toks)-1] == "{":
			stack = append(stack, nil)
		case toks[0] == "}":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case toks[0] == "linux" || toks[0] == "linuxefi":
			if top := stack[len(stack)-1]; top != nil && !top.submenu && len(toks) > 1 {
				img := toks[1]
				if i := strings.LastIndex(img, "/vmlinuz-"); i >= 0 {
					top.kernel = img[i+len("/vmlinuz-"):]
				} else if strings.HasPrefix(img, "vmlinuz-") {
					top.kernel = strings.TrimPrefix(img, "vmlinuz-")
				}
			}
		}
	}
	return root.children
}

// resolveGrubEntry follows an entry as GRUB does for `default`: ">"-separated steps, each a
// number (position in that menu), an id or a title. nil when it leads nowhere.
func resolveGrubEntry(items []*grubItem, entry string) *grubItem {
	steps := strings.Split(entry, ">")
	for i, step := range steps {
		var found *grubItem
		if n, err := strconv.Atoi(step); err == nil {
			if n >= 0 && n < len(items) {
				found = items[n]
			}
		} else {
			for _, it := range items {
				if it.id == step || it.title == step {
					found = it
					break
				}
			}
		}
		if found == nil {
			return nil
		}
		if i == len(steps)-1 {
			if found.submenu {
				return nil
			}
			return found
		}
		if !found.submenu {
			return nil
		}
		items = found.children
	}
	return nil
}

// grubDefaultKernel is the kernel release GRUB boots when nothing asks for another entry once:
// GRUB_DEFAULT (from /etc/default/grub[.d]) names the entry, "saved" meaning the environment
// block's saved_entry; an empty or unresolvable entry means entry 0 (as GRUB falls back), which
// on Ubuntu boots the newest kernel. "" when grub.cfg does not say.
func grubDefaultKernel(cfg, grubDefault string, env map[string]string) string {
	items := parseGrubMenu(cfg)
	entry := grubDefault
	if entry == "saved" {
		entry = env["saved_entry"]
	}
	if entry == "" {
		entry = "0"
	}
	it := resolveGrubEntry(items, entry)
	if it == nil {
		it = resolveGrubEntry(items, "0")
	}
	if it == nil || !kernelRelRe.MatchString(it.kernel) {
		return ""
	}
	return it.kernel
}

// CaptureProbe reads the running kernel, installed images, holds, which image each NVIDIA
// line's installed metapackage leads to, and the GRUB state. Only reads (dpkg-query, apt-mark
// showhold, grub-editenv list).
func (Kernel) CaptureProbe(CaptureOptions) string {
	var b strings.Builder
	b.WriteString("printf 'running %s\\n' \"$(uname -r)\"\n")
	b.WriteString(kernelImagesProbe)
	b.WriteString("apt-mark showhold 2>/dev/null | while read -r p; do printf 'hold %s\\n' \"$p\"; done\n")
	b.WriteString(kernelShellLib)
	for _, n := range kernelLineNames {
		fmt.Fprintf(&b, "r=$(sf_resolve inst %s); printf 'lineimage %%s %%s\\n' %s \"${r:--}\"\n", provider.Quote(kernelLines[n].meta), provider.Quote(n))
	}
	b.WriteString(kernelGrubProbe("capture"))
	b.WriteString("printf 'nofile pin\\n'\n") // sparkform's pin file belongs to a block, not to the host's setting
	return b.String()
}

// Capture: the line the running kernel belongs to (an installed line metapackage leading to
// its image), else the exact image package; hold = true when the image is on hold.
func (Kernel) Capture(_ CaptureOptions, out []byte) ([]CapturedBlock, []string, error) {
	o, err := Kernel{}.Read(Instance{Type: "kernel", Name: "capture", Desired: cty.NullVal(cty.DynamicPseudoType)}, out)
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
