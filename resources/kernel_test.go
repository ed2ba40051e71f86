package resources

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/zclconf/go-cty/cty"
)

// kernelBody builds a kernel block body; empty strings are unset attributes.
func kernelBody(line, pkg string, hold bool, timeout string) cty.Value {
	opt := func(s string) cty.Value {
		if s == "" {
			return cty.NullVal(cty.String)
		}
		return cty.StringVal(s)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"line": opt(line), "package": opt(pkg), "hold": cty.BoolVal(hold), "reboot_timeout": opt(timeout),
	})
}

func TestKernelValidateRejectsHostileAndAmbiguousInput(t *testing.T) {
	cases := []struct {
		name     string
		body     cty.Value
		wantAttr string // "" → valid
		wantMsg  string
	}{
		{"line 6.17 passes", kernelBody("6.17", "", true, "10m"), "", ""},
		{"line hwe passes", kernelBody("hwe", "", false, ""), "", ""},
		{"exact package passes", kernelBody("", "linux-image-6.17.0-1014-nvidia", false, "90s"), "", ""},
		{"64k package passes", kernelBody("", "linux-image-6.17.0-1029-nvidia-64k", false, ""), "", ""},
		{"neither line nor package", kernelBody("", "", false, ""), "line", "exactly one"},
		{"both line and package", kernelBody("6.17", "linux-image-6.17.0-1014-nvidia", false, ""), "package", "not both"},
		{"unknown line", kernelBody("7.0", "", false, ""), "line", "not a kernel line"},
		{"line with shell", kernelBody("6.17; reboot", "", false, ""), "line", "not a kernel line"},
		{"package with command substitution", kernelBody("", "linux-image-$(reboot)", false, ""), "package", "not a kernel image"},
		{"package with newline", kernelBody("", "linux-image-6.17.0-1014-nvidia\nlinux-image-7.0.0-1019-nvidia", false, ""), "package", "not a kernel image"},
		{"package with space and option", kernelBody("", "linux-image-6.17.0-1014-nvidia --allow-downgrades", false, ""), "package", "not a kernel image"},
		{"package that is a metapackage", kernelBody("", "linux-nvidia-6.17", false, ""), "package", "not a kernel image"},
		{"package with glob", kernelBody("", "linux-image-6.17.*", false, ""), "package", "not a kernel image"},
		{"package with uppercase", kernelBody("", "linux-image-6.17.0-1014-NVIDIA", false, ""), "package", "not a kernel image"},
		{"timeout not a duration", kernelBody("6.17", "", false, "ten minutes"), "reboot_timeout", "is not a duration"},
		{"timeout negative", kernelBody("6.17", "", false, "-5m"), "reboot_timeout", "out of range"},
		{"timeout zero", kernelBody("6.17", "", false, "0s"), "reboot_timeout", "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := kernel{}.Validate(c.body)
			if c.wantAttr == "" {
				if len(errs) != 0 {
					t.Fatalf("want no error, got %v", errs)
				}
				return
			}
			for _, e := range errs {
				if e.Attr == c.wantAttr && strings.Contains(e.Msg, c.wantMsg) {
					return
				}
			}
			t.Fatalf("want an error on %s containing %q, got %v", c.wantAttr, c.wantMsg, errs)
		})
	}
}

func TestKernelExportsReleaseOnlyWhenDerivableFromConfig(t *testing.T) {
	got := kernel{}.Exports(kernelBody("", "linux-image-6.17.0-1014-nvidia", false, ""))
	if v, ok := got["release"]; !ok || !v.IsKnown() || v.AsString() != "6.17.0-1014-nvidia" {
		t.Fatalf("package body: exports %v, want release = 6.17.0-1014-nvidia", got)
	}
	if got := (kernel{}).Exports(kernelBody("6.17", "", false, "")); len(got) != 0 {
		t.Fatalf("a line's release is only known on a host; exports %v, want none", got)
	}
	if got := (kernel{}).Exports(kernelBody("", "linux-image-$(x)", false, "")); len(got) != 0 {
		t.Fatalf("an invalid package exports nothing, got %v", got)
	}
}

const testUUID = "0b5a3c2e-8f43-4d0a-9b1e-2f6c1d7e9a10"

func TestGrubMenuEntriesFindsIDsOfUbuntuGrubCfgNotTitles(t *testing.T) {
	cfg := readTestdata(t, "kernel-grub.cfg")
	got := parseGrubMenu(string(cfg)).entries()
	sub := "gnulinux-advanced-" + testUUID
	want := map[string]string{
		// the $menuentry_id_option 'ID' form grub-mkconfig writes
		"6.17.0-1014-nvidia": sub + ">gnulinux-6.17.0-1014-nvidia-advanced-" + testUUID,
		// the --id 'ID' form
		"6.11.0-1016-nvidia": sub + ">gnulinux-6.11.0-1016-nvidia-advanced-" + testUUID,
		// --id=ID with a double-quoted title
		"6.14.0-1015-nvidia": sub + ">gnulinux-6.14.0-1015-nvidia-advanced-" + testUUID,
	}
	if len(got) != len(want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: entry %q, want %q", k, got[k], v)
		}
	}
	for _, v := range got {
		if strings.Contains(v, "recovery") || strings.Contains(v, "simple") || strings.Contains(v, "Ubuntu") {
			t.Errorf("entry %q must be the normal advanced entry, by id", v)
		}
	}
}

// testdata/kernel-grub-debian.cfg is what Debian 12's own grub-mkconfig (grub-common 2.06, its
// /etc/grub.d/10_linux) wrote in a lab host for the lab's five -nvidia kernels: Debian titles
// ("Debian GNU/Linux, with Linux KVER"), "single" recovery entries, no recordfail or vt_handoff,
// and the same ids as Ubuntu's. Both layouts must give the same entries and default kernels.
func TestGrubMenuOfDebianGrubMkconfigMatchesUbuntuIDs(t *testing.T) {
	cfg := readTestdata(t, "kernel-grub-debian.cfg")
	m := parseGrubMenu(string(cfg))
	got := m.entries()
	sub := "gnulinux-advanced-" + testUUID
	kernels := []string{"7.0.0-1019-nvidia", "6.17.0-1099-nvidia", "6.17.0-1014-nvidia", "6.14.0-1015-nvidia", "6.11.0-1016-nvidia"}
	if len(got) != len(kernels) {
		t.Fatalf("entries = %v, want one per kernel of %v", got, kernels)
	}
	for _, k := range kernels {
		if want := sub + ">gnulinux-" + k + "-advanced-" + testUUID; got[k] != want {
			t.Errorf("%s: entry %q, want %q", k, got[k], want)
		}
	}
	cases := []struct{ def, saved, want string }{
		{"saved", "0", "7.0.0-1019-nvidia"}, // entry 0 ('Debian GNU/Linux') boots the newest
		{"saved", "", "7.0.0-1019-nvidia"},
		{"saved", sub + ">gnulinux-6.14.0-1015-nvidia-advanced-" + testUUID, "6.14.0-1015-nvidia"},
		{"saved", "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.11.0-1016-nvidia", "6.11.0-1016-nvidia"},
		{"saved", "1>6", "6.14.0-1015-nvidia"}, // normal and recovery entry per kernel, newest first
		{"saved", "1>7", "6.14.0-1015-nvidia"}, // 6.14's recovery entry boots 6.14 too
		{"saved", "Advanced options for Ubuntu>Ubuntu, with Linux 6.11.0-1016-nvidia", "7.0.0-1019-nvidia"}, // Ubuntu's titles do not resolve here
		{"saved", "Debian GNU/Linux, with Linux 6.14.0-1015-nvidia", "7.0.0-1019-nvidia"},                   // a bare title of the submenu: entry 0
	}
	for _, c := range cases {
		if k := m.defaultKernel(c.def, map[string]string{"saved_entry": c.saved}); k != c.want {
			t.Errorf("GRUB_DEFAULT=%q saved_entry=%q: %q, want %q", c.def, c.saved, k, c.want)
		}
	}
}

// TestGrubMenuDefaultFollowsTitleCorrection: when saved_entry (or GRUB_DEFAULT) is a bare title of
// the submenu, grub-mkconfig warns and its 10_linux ends with title_correction_code, which makes
// GRUB boot that entry after all; the default kernel must follow it. The line is what the lab's
// Debian update-grub wrote after grub-set-default 'Debian GNU/Linux, with Linux 6.14.0-1015-nvidia'.
func TestGrubMenuDefaultFollowsTitleCorrection(t *testing.T) {
	cfg := readTestdata(t, "kernel-grub-debian.cfg")
	const title = "Debian GNU/Linux, with Linux 6.14.0-1015-nvidia"
	corrected := strings.Replace(string(cfg), "\n### END /etc/grub.d/10_linux ###",
		"if [ \"x$default\" = '"+title+"' ]; then default='Advanced options for Debian GNU/Linux>"+title+"'; fi;\n### END /etc/grub.d/10_linux ###", 1)
	if corrected == string(cfg) {
		t.Fatal("fixture has no end of 10_linux")
	}
	m := parseGrubMenu(corrected)
	for _, c := range []struct{ def, saved, want string }{
		{"saved", title, "6.14.0-1015-nvidia"},
		{title, "", "6.14.0-1015-nvidia"},
		{"saved", "Debian GNU/Linux, with Linux 6.11.0-1016-nvidia", "7.0.0-1019-nvidia"}, // no correction for it
	} {
		if k := m.defaultKernel(c.def, map[string]string{"saved_entry": c.saved}); k != c.want {
			t.Errorf("GRUB_DEFAULT=%q saved_entry=%q: %q, want %q", c.def, c.saved, k, c.want)
		}
	}
	// grub_quote's '\'' in a title
	q := parseGrubMenu("menuentry 'A' $menuentry_id_option 'a' {\n\tlinux /boot/vmlinuz-6.11.0-1016-nvidia\n}\n" +
		"submenu 'S' $menuentry_id_option 's' {\n\tmenuentry 'it'\\''s 6.17' $menuentry_id_option 'b' {\n\t\tlinux /boot/vmlinuz-6.17.0-1014-nvidia\n\t}\n}\n" +
		"if [ \"x$default\" = 'it'\\''s 6.17' ]; then default='S>it'\\''s 6.17'; fi;\n")
	if k := q.defaultKernel("saved", map[string]string{"saved_entry": "it's 6.17"}); k != "6.17.0-1014-nvidia" {
		t.Errorf("quoted title: %q", k)
	}
}

func TestGrubMenuEntriesTopLevelEntriesWithoutSubmenu(t *testing.T) {
	cfg := `menuentry 'Ubuntu, with Linux 6.11.0-1016-nvidia' --class ubuntu $menuentry_id_option 'gnulinux-6.11.0-1016-nvidia-advanced-U' {
	linux	/vmlinuz-6.11.0-1016-nvidia root=UUID=U ro
}
menuentry 'no id' {
	linux	/boot/vmlinuz-6.14.0-1015-nvidia root=UUID=U ro
}
`
	got := parseGrubMenu(cfg).entries()
	if got["6.11.0-1016-nvidia"] != "gnulinux-6.11.0-1016-nvidia-advanced-U" {
		t.Fatalf("top-level entry (GRUB_DISABLE_SUBMENU, separate /boot): got %v", got)
	}
	if _, ok := got["6.14.0-1015-nvidia"]; ok {
		t.Fatal("an entry without an id must not be used: sparkform selects entries by id only")
	}
}

func TestLastGrubDefaultLaterFilesWin(t *testing.T) {
	cases := map[string]string{
		"GRUB_DEFAULT=0\n":                                 "0",
		"GRUB_DEFAULT=0\nGRUB_DEFAULT=saved\n":             "saved",
		"GRUB_DEFAULT=\"saved\"\n":                         "saved",
		"  export GRUB_DEFAULT='1>2' # comment\n":          "1>2",
		"GRUB_DEFAULT=saved\n#GRUB_DEFAULT=0\n":            "saved",
		"":                                                 "",
		"GRUB_DEFAULT=saved\nGRUB_DEFAULT=\"Ubuntu\"\n":    "Ubuntu",
		"GRUB_DEFAULT=saved\n GRUB_DEFAULT=0 \n":           "0",
		"GRUB_DEFAULT=saved\nGRUB_DEFAULT_OTHER=0\n":       "saved",
		"GRUB_DEFAULT=saved\nXGRUB_DEFAULT=0\n":            "saved",
		"GRUB_DEFAULT=gnulinux-advanced-U>gnulinux-6.17\n": "gnulinux-advanced-U>gnulinux-6.17",
	}
	for in, want := range cases {
		if got := lastGrubDefault(in); got != want {
			t.Errorf("lastGrubDefault(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestKernelProbeRunsInLocalShell proves the probe is valid POSIX sh that never fails, whatever
// the machine has (apt or not, GRUB or not), and that Read understands what it prints.
func TestKernelProbeRunsInLocalShell(t *testing.T) {
	for _, body := range []cty.Value{kernelBody("6.17", "", true, ""), kernelBody("", "linux-image-6.17.0-1014-nvidia", false, "")} {
		in := Instance{Type: "kernel", Name: "probe_test", Desired: body}
		out := providertest.MustRun(t, "export LC_ALL=C\n(\n"+kernel{}.Probe(in)+"\n) </dev/null\n")
		obs, err := kernel{}.Read(in, out)
		if err != nil {
			t.Fatalf("read: %v\n%s", err, out)
		}
		o := decodeKernelObserved(obs)
		if o.running == "" {
			t.Fatal("running kernel not reported")
		}
		if !o.pin.IsNull() {
			t.Fatal("pin file of a never-applied block must be absent")
		}
		if _, err := (kernel{}).Diff(in, obs); err != nil {
			t.Fatalf("diff: %v", err)
		}
	}
	// The destroy probe too.
	in := Instance{Type: "kernel", Name: "probe_test", Desired: cty.NullVal(cty.DynamicPseudoType)}
	if _, err := (kernel{}).Read(in, providertest.MustRun(t, kernel{}.Probe(in))); err != nil {
		t.Fatal(err)
	}
}

// The probe's resolution walk, run by the local sh against a fake apt-cache and dpkg-query.
func TestKernelProbeResolvesMetapackageChainThroughFakeApt(t *testing.T) {
	dir := t.TempDir()
	aptCache := `#!/bin/sh
# fake apt-cache: show --no-all-versions PKG (options before "show" ignored)
for a; do pkg=$a; done
case "$pkg" in
linux-nvidia-6.17) printf 'Package: linux-nvidia-6.17\nVersion: 6.17.0-1014.14\nDepends: linux-headers-nvidia-6.17 (= 6.17.0-1014.14),\n linux-image-nvidia-6.17 (= 6.17.0-1014.14)\nDescription: x\n\nPackage: linux-nvidia-6.17\nDepends: linux-image-nvidia-6.17 (= 6.17.0-1008.8)\n' ;;
linux-image-nvidia-6.17) printf 'Package: linux-image-nvidia-6.17\nDepends: linux-firmware, linux-image-6.17.0-1014-nvidia | linux-image-unsigned-6.17.0-1014-nvidia, linux-modules-nvidia-580-open-6.17.0-1014-nvidia\n' ;;
linux-image-6.17.0-1014-nvidia) printf 'Package: linux-image-6.17.0-1014-nvidia\nVersion: 6.17.0-1014.14\n' ;;
esac
`
	writeProgram(t, dir+"/apt-cache", aptCache)
	writeProgram(t, dir+"/dpkg-query", "#!/bin/sh\nexit 1\n")
	script := "PATH=" + dir + ":$PATH\n" + kernelShellLib + "sf_report cand linux-nvidia-6.17\nsf_report inst linux-nvidia-6.17\nsf_report cand linux-nvidia-6.14\n"
	out := string(providertest.MustRun(t, script))
	for _, want := range []string{"resolve cand linux-image-6.17.0-1014-nvidia\n", "resolve inst -\n", "resolve cand -\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestKernelPinBlocksOtherLinesOnly(t *testing.T) {
	p := kernelSpec{line: "6.17", hold: true}.pinContent("kernel.nvidia")
	pkgLine := ""
	for _, l := range strings.Split(p, "\n") {
		if strings.HasPrefix(l, "Package:") {
			pkgLine = l
		}
	}
	for _, want := range []string{"linux-*nvidia-6.14", "linux-*nvidia-hwe-24.04", "linux-image-6.14.*-nvidia*"} {
		if !strings.Contains(pkgLine, want) {
			t.Errorf("6.17 pin lacks %s: %s", want, pkgLine)
		}
	}
	if strings.Contains(pkgLine, "6.17") {
		t.Errorf("6.17 pin blocks its own line: %s", pkgLine)
	}
	if !strings.Contains(p, "Pin-Priority: -1") || !strings.HasPrefix(p, "# Managed by sparkform (kernel.nvidia)") {
		t.Errorf("pin file:\n%s", p)
	}
	pk := kernelSpec{pkg: "linux-image-6.17.0-1099-nvidia", hold: true}.pinContent("kernel.x")
	for _, want := range []string{"linux-*nvidia-6.17 ", "linux-*nvidia-6.14", "linux-*nvidia-hwe-24.04", "linux-image-6.14.*"} {
		if !strings.Contains(pk, want) {
			t.Errorf("exact-package pin lacks %s:\n%s", want, pk)
		}
	}
	if strings.Contains(pk, "Package: ") && strings.Contains(strings.SplitN(pk, "Package: ", 2)[1], "linux-image-6.17.") {
		t.Errorf("exact-package pin blocks its own series:\n%s", pk)
	}
}

// kobs builds an observed value for Diff tests.
type kobs struct {
	running   string
	installed []string
	resolved  map[string]string
	holds     []string
	saved     string
	grubDef   string
	pin       *string
	lists     bool
}

func (k kobs) value() cty.Value {
	inst := map[string]string{}
	for _, p := range k.installed {
		inst[p] = "1"
	}
	entries := map[string]string{}
	for _, kv := range []string{"6.11.0-1016-nvidia", "6.14.0-1015-nvidia", "6.17.0-1014-nvidia"} {
		if _, ok := inst["linux-image-"+kv]; ok {
			entries[kv] = "gnulinux-advanced-U>gnulinux-" + kv + "-advanced-U"
		}
	}
	pin := cty.NullVal(cty.String)
	if k.pin != nil {
		pin = cty.StringVal(*k.pin)
	}
	if k.grubDef == "" {
		k.grubDef = "saved"
	}
	if k.resolved == nil {
		k.resolved = map[string]string{}
	}
	return kernelObserved{running: k.running, installed: inst, resolved: k.resolved, lists: k.lists, holds: k.holds,
		grubEnv: map[string]string{"saved_entry": k.saved}, grubDefault: k.grubDef, grubEntries: entries,
		pin: pin, dropIn: cty.NullVal(cty.String), grubCfgFound: true}.value()
}

func entryOf(kv string) string { return "gnulinux-advanced-U>gnulinux-" + kv + "-advanced-U" }

func TestKernelDiff(t *testing.T) {
	l617 := kernelBody("6.17", "", true, "")
	pin617 := kernelSpec{line: "6.17", hold: true}.pinContent("kernel.nvidia")
	res617 := map[string]string{"cand": "linux-image-6.17.0-1014-nvidia", "nopin": "linux-image-6.17.0-1014-nvidia", "inst": "linux-image-6.17.0-1014-nvidia"}
	held617 := []string{"linux-image-6.17.0-1014-nvidia", "linux-image-nvidia-6.17", "linux-nvidia-6.17"}
	applied617 := Prior{Attributes: l617, Original: kernelOriginal{held: held617, release: "6.17.0-1014-nvidia"}.value()}
	both := []string{"linux-image-6.11.0-1016-nvidia", "linux-image-6.17.0-1014-nvidia", "linux-image-nvidia-6.17"}
	// managed is the block applied to 6.17; converged the host it left, which later cases change.
	managed := Instance{Type: "kernel", Name: "nvidia", Desired: l617, Prior: applied617}
	converged := kobs{running: "6.17.0-1014-nvidia", installed: both, lists: true, saved: entryOf("6.17.0-1014-nvidia"), resolved: res617, holds: held617, pin: &pin617}
	but := func(change func(o *kobs)) kobs { o := converged; change(&o); return o }
	cases := []struct {
		name       string
		in         Instance
		obs        kobs
		wantAction Action
		wantReboot bool
		wantSum    string
		wantFields []string // path:before->after with ! for drift; prefix match on after
	}{
		{"upgrade from the stock kernel installs, holds, pins and reboots",
			Instance{Type: "kernel", Name: "nvidia", Desired: l617},
			kobs{running: "6.11.0-1016-nvidia", installed: []string{"linux-image-6.11.0-1016-nvidia"}, lists: true, saved: "0",
				resolved: map[string]string{"cand": "linux-image-6.17.0-1014-nvidia", "nopin": "linux-image-6.17.0-1014-nvidia"}},
			Create, true, "6.11.0-1016-nvidia → 6.17.0-1014-nvidia",
			[]string{"kernel:6.11.0-1016-nvidia->6.17.0-1014-nvidia", "install:->linux-nvidia-6.17, linux-image-6.17.0-1014-nvidia",
				"hold:->linux-image-6.17.0-1014-nvidia, linux-image-nvidia-6.17, linux-nvidia-6.17", "pin_file:->/etc/apt/preferences.d/sparkform-kernel-nvidia",
				"boot_default:0->the GRUB entry of 6.17.0-1014-nvidia (tried once"}},
		{"converged host plans nothing", managed, converged, NoOp, false, "", nil},
		{"downgrade to 6.14 is a change with reboot, previous kernel stays",
			Instance{Type: "kernel", Name: "nvidia", Desired: kernelBody("6.14", "", false, ""), Prior: applied617},
			but(func(o *kobs) { o.resolved = map[string]string{"nopin": "linux-image-6.14.0-1015-nvidia"} }),
			Update, true, "6.17.0-1014-nvidia → 6.14.0-1015-nvidia",
			[]string{"kernel:6.17.0-1014-nvidia->6.14.0-1015-nvidia", "install:->linux-nvidia-6.14, linux-image-6.14.0-1015-nvidia",
				"hold:linux-image-6.17.0-1014-nvidia, linux-image-nvidia-6.17, linux-nvidia-6.17->", "pin_file:/etc/apt/preferences.d/sparkform-kernel-nvidia->",
				"boot_default:the GRUB entry of 6.17.0-1014-nvidia->the GRUB entry of 6.14.0-1015-nvidia"}},
		{"host booted another kernel than the one applied is drift", managed,
			but(func(o *kobs) { o.running, o.saved = "6.11.0-1016-nvidia", entryOf("6.11.0-1016-nvidia") }),
			Update, true, "6.11.0-1016-nvidia → 6.17.0-1014-nvidia",
			[]string{"kernel:6.11.0-1016-nvidia->6.17.0-1014-nvidia!", "boot_default:the GRUB entry of 6.11.0-1016-nvidia->the GRUB entry of 6.17.0-1014-nvidia"}},
		{"released hold and edited pin are drift, no reboot", managed,
			but(func(o *kobs) { o.holds, o.pin = held617[1:], new(string) }),
			Update, false, "6.17.0-1014-nvidia (running, no reboot)",
			[]string{"hold:linux-image-nvidia-6.17, linux-nvidia-6.17->linux-image-6.17.0-1014-nvidia, linux-image-nvidia-6.17, linux-nvidia-6.17!",
				"pin_file:/etc/apt/preferences.d/sparkform-kernel-nvidia (empty)->/etc/apt/preferences.d/sparkform-kernel-nvidia!"}},
		{"removed block releases holds and pin, keeps kernels, no reboot",
			Instance{Type: "kernel", Name: "nvidia", Desired: cty.NullVal(cty.DynamicPseudoType), Prior: applied617},
			converged,
			Delete, false, "stop managing the kernel: 6.17.0-1014-nvidia stays installed and running, no kernel is removed, no reboot",
			[]string{"hold:linux-image-6.17.0-1014-nvidia, linux-image-nvidia-6.17, linux-nvidia-6.17->", "pin_file:/etc/apt/preferences.d/sparkform-kernel-nvidia->"}},
		{"holds that existed before sparkform are not released on destroy",
			Instance{Type: "kernel", Name: "nvidia", Desired: cty.NullVal(cty.DynamicPseudoType),
				Prior: Prior{Attributes: l617, Original: kernelOriginal{held: held617, holdsBefore: []string{"linux-nvidia-6.17"}, release: "6.17.0-1014-nvidia"}.value()}},
			kobs{running: "6.17.0-1014-nvidia", installed: both, holds: held617, pin: &pin617},
			Delete, false, "", []string{"hold:linux-image-6.17.0-1014-nvidia, linux-image-nvidia-6.17->", "pin_file:/etc/apt/preferences.d/sparkform-kernel-nvidia->"}},
		{"line unresolved on a host without apt lists is resolved at apply",
			Instance{Type: "kernel", Name: "nvidia", Desired: kernelBody("6.17", "", false, "")},
			kobs{running: "6.11.0-1016-nvidia", installed: []string{"linux-image-6.11.0-1016-nvidia"}, saved: "0", grubDef: "0"},
			Create, true, "6.11.0-1016-nvidia → linux-nvidia-6.17 (apt has no package lists yet: resolved at apply, after apt-get update)",
			[]string{"kernel:6.11.0-1016-nvidia->linux-nvidia-6.17 (resolved at apply)", "install:->linux-nvidia-6.17",
				"boot_default:0->the GRUB entry of linux-nvidia-6.17", "grub_default:0->saved (/etc/default/grub.d/99-sparkform-kernel-nvidia.cfg)"}},
		{"exact package already running but not the saved default sets the default without reboot",
			Instance{Type: "kernel", Name: "nvidia", Desired: kernelBody("", "linux-image-6.17.0-1014-nvidia", false, "")},
			kobs{running: "6.17.0-1014-nvidia", installed: both, saved: "0", lists: true},
			Create, false, "6.17.0-1014-nvidia (running, no reboot)",
			[]string{"boot_default:0->the GRUB entry of 6.17.0-1014-nvidia"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := kernel{}.Diff(c.in, c.obs.value())
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != c.wantAction || d.RequiresReboot != c.wantReboot {
				t.Fatalf("action %s reboot %v, want %s reboot %v (%+v)", d.Action, d.RequiresReboot, c.wantAction, c.wantReboot, d)
			}
			if c.wantSum != "" && d.Summary != c.wantSum {
				t.Errorf("summary %q, want %q", d.Summary, c.wantSum)
			}
			got := fieldChanges(d.Fields)
			if len(got) != len(c.wantFields) {
				t.Fatalf("fields:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.wantFields, "\n  "))
			}
			for i, w := range c.wantFields {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("field %d:\n  got  %s\n  want %s", i, got[i], w)
				}
			}
		})
	}
}

func TestKernelDiffRefusesLineBlockedByForeignPin(t *testing.T) {
	in := Instance{Type: "kernel", Name: "nvidia", Desired: kernelBody("hwe", "", false, "")}
	o := kobs{running: "6.17.0-1014-nvidia", installed: []string{"linux-image-6.17.0-1014-nvidia"}, lists: true,
		resolved: map[string]string{"nopin": "linux-image-7.0.0-1019-nvidia"}}
	if _, err := (kernel{}).Diff(in, o.value()); err == nil || !strings.Contains(err.Error(), "pin blocks") {
		t.Fatalf("a line another pin blocks must be refused at plan, got %v", err)
	}
}

func TestGrubMenuDefaultKernel(t *testing.T) {
	cases := []struct{ def, saved, want string }{
		{"saved", "gnulinux-advanced-U>gnulinux-6.11.0-1016-nvidia-advanced-U", "6.11.0-1016-nvidia"},
		{"saved", "Advanced options for Ubuntu>Ubuntu, with Linux 6.11.0-1016-nvidia", "6.11.0-1016-nvidia"},
		{"saved", "1>2", "6.11.0-1016-nvidia"},
		{"saved", "1>0", "6.17.0-1014-nvidia"},
		{"saved", "", "6.17.0-1014-nvidia"},  // no saved entry: entry 0, the newest
		{"saved", "0", "6.17.0-1014-nvidia"}, // entry 0
		{"saved", "gnulinux-gone", "6.17.0-1014-nvidia"},
		{"0", "1>2", "6.17.0-1014-nvidia"}, // GRUB_DEFAULT=0 ignores saved_entry
		{"", "", "6.17.0-1014-nvidia"},
		{"gnulinux-advanced-U>gnulinux-6.11.0-1016-nvidia-advanced-U", "", "6.11.0-1016-nvidia"},
		{"saved", "1", "6.17.0-1014-nvidia"}, // a submenu is not an entry: GRUB falls back to 0
	}
	for _, c := range cases {
		if got := parseGrubMenu(testGrubCfg).defaultKernel(c.def, map[string]string{"saved_entry": c.saved}); got != c.want {
			t.Errorf("GRUB_DEFAULT=%q saved_entry=%q: %q, want %q", c.def, c.saved, got, c.want)
		}
	}
}

func kernelCaptureOut(running string, images []string, holds []string, lineImages map[string]string, saved string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "running %s\n", running)
	for _, i := range images {
		fmt.Fprintf(&b, "image %s 1.0\n", i)
	}
	for _, h := range holds {
		fmt.Fprintf(&b, "hold %s\n", h)
	}
	for _, n := range kernelLineNames {
		r := lineImages[n]
		if r == "" {
			r = "-"
		}
		fmt.Fprintf(&b, "lineimage %s %s\n", n, r)
	}
	fmt.Fprintf(&b, "grubenv\ngrubenvl saved_entry=%s\n", saved)
	b.WriteString(fileOut("grubcfg", testGrubCfg))
	b.WriteString("grubdefl GRUB_DEFAULT=saved\n")
	b.WriteString("nofile dropin\nnofile pin\n")
	return b.String()
}

func TestKernelCapture(t *testing.T) {
	img617, img611 := "linux-image-6.17.0-1014-nvidia", "linux-image-6.11.0-1016-nvidia"
	cases := []struct {
		name, out   string
		want        string // attrs as k=v joined by space; "" no block
		comment     string
		noteContain string
	}{
		{"line from the installed metapackage", kernelCaptureOut("6.17.0-1014-nvidia", []string{img611, img617}, nil, map[string]string{"6.17": img617}, "1>0"),
			"line=6.17", "kernel line 6.17", ""},
		{"held image", kernelCaptureOut("6.17.0-1014-nvidia", []string{img611, img617}, []string{img617}, map[string]string{"6.17": img617}, "1>0"),
			"line=6.17 hold=true", "on hold", ""},
		{"no line leads to the running kernel: exact package", kernelCaptureOut("6.11.0-1016-nvidia", []string{img611, img617}, nil, map[string]string{"6.17": img617}, "1>2"),
			"package=" + img611, "exact package", ""},
		{"GRUB boots another kernel by default", kernelCaptureOut("6.11.0-1016-nvidia", []string{img611, img617}, nil, nil, "0"),
			"package=" + img611, "GRUB's default entry boots 6.17.0-1014-nvidia", ""},
		{"running kernel not a package", kernelCaptureOut("6.1.0-custom", []string{img611}, nil, nil, "0"), "", "", "not an installed package"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			blocks, notes, err := kernel{}.Capture(CaptureOptions{}, []byte(c.out))
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if len(blocks) != 0 || !strings.Contains(strings.Join(notes, "\n"), c.noteContain) {
					t.Fatalf("blocks %+v notes %v", blocks, notes)
				}
				return
			}
			if len(blocks) != 1 {
				t.Fatalf("blocks %+v notes %v", blocks, notes)
			}
			var got []string
			obj := map[string]cty.Value{"line": cty.NullVal(cty.String), "package": cty.NullVal(cty.String), "hold": cty.NullVal(cty.Bool), "reboot_timeout": cty.NullVal(cty.String)}
			for _, a := range blocks[0].Attrs {
				obj[a.Name] = a.Value
				if a.Value.Type() == cty.Bool {
					got = append(got, fmt.Sprintf("%s=%v", a.Name, a.Value.True()))
				} else {
					got = append(got, a.Name+"="+a.Value.AsString())
				}
			}
			if s := strings.Join(got, " "); s != c.want {
				t.Errorf("attrs %s, want %s", s, c.want)
			}
			if !strings.Contains(blocks[0].Comment, c.comment) {
				t.Errorf("comment %q lacks %q", blocks[0].Comment, c.comment)
			}
			if errs := (kernel{}).Validate(cty.ObjectVal(obj)); len(errs) > 0 {
				t.Errorf("does not validate: %v", errs)
			}
		})
	}
}

func TestKernelDiffHandTunedHostIsConverged(t *testing.T) {
	img := "linux-image-6.17.0-1014-nvidia"
	res := map[string]string{"cand": img, "nopin": img, "inst": img}
	inst := []string{"linux-image-6.11.0-1016-nvidia", img}
	in := Instance{Type: "kernel", Name: "nvidia", Desired: kernelBody("6.17", "", false, "")}
	cases := []struct {
		name   string
		boots  string // what GRUB boots by default
		saved  string
		holds  []string
		body   cty.Value
		action Action
	}{
		{"saved default by title resolves to the running kernel", "6.17.0-1014-nvidia", "Advanced options for Ubuntu>Ubuntu, with Linux 6.17.0-1014-nvidia", nil, in.Desired, NoOp},
		{"entry 0 is the newest, the running kernel", "6.17.0-1014-nvidia", "0", nil, in.Desired, NoOp},
		{"GRUB boots the old kernel: the default is set", "6.11.0-1016-nvidia", "1>2", nil, in.Desired, Create},
		{"hold asked, not held: create", "6.17.0-1014-nvidia", "0", nil, kernelBody("6.17", "", true, ""), Create},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := decodeKernelObserved(kobs{running: "6.17.0-1014-nvidia", installed: inst, lists: true, saved: c.saved, resolved: res, holds: c.holds}.value())
			o.grubBoots = c.boots
			d, err := kernel{}.Diff(Instance{Type: "kernel", Name: "nvidia", Desired: c.body}, o.value())
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != c.action || d.RequiresReboot {
				t.Fatalf("action %s reboot %v, want %s: %+v", d.Action, d.RequiresReboot, c.action, d)
			}
		})
	}
}

const testGrubCfg = `
function gfxmode {
	set gfxpayload="${1}"
}
menuentry 'Ubuntu' --class ubuntu $menuentry_id_option 'gnulinux-simple-U' {
	linux	/boot/vmlinuz-6.17.0-1014-nvidia root=UUID=U ro
}
submenu 'Advanced options for Ubuntu' $menuentry_id_option 'gnulinux-advanced-U' {
	menuentry 'Ubuntu, with Linux 6.17.0-1014-nvidia' --class ubuntu $menuentry_id_option 'gnulinux-6.17.0-1014-nvidia-advanced-U' {
		linux	/boot/vmlinuz-6.17.0-1014-nvidia root=UUID=U ro
	}
	menuentry 'Ubuntu, with Linux 6.17.0-1014-nvidia (recovery mode)' $menuentry_id_option 'gnulinux-6.17.0-1014-nvidia-recovery-U' {
		linux	/boot/vmlinuz-6.17.0-1014-nvidia root=UUID=U ro single
	}
	menuentry 'Ubuntu, with Linux 6.11.0-1016-nvidia' --class ubuntu $menuentry_id_option 'gnulinux-6.11.0-1016-nvidia-advanced-U' {
		linux	/boot/vmlinuz-6.11.0-1016-nvidia root=UUID=U ro
	}
}
`

func TestPinDifferenceSaysWhatDiffers(t *testing.T) {
	want := "Package: linux-image-nvidia-6.17\nPin: version 6.17*\nPin-Priority: 1001\n"
	for got, say := range map[string]string{
		"": "empty",
		"Package: linux-image-nvidia-6.17\nPin: version 6.14*\nPin-Priority: 1001\n": `has "Pin: version 6.14*" where sparkform writes "Pin: version 6.17*"`,
		"Package: linux-image-nvidia-6.17\nPin: version 6.17*\n":                     `lacks "Pin-Priority: 1001"`,
		want + "# edited\n": `also has "# edited"`,
	} {
		if d := pinDifference(got, want); d != say {
			t.Errorf("pinDifference(%q) = %s, want %s", got, d, say)
		}
	}
}

// GRUB reads a quoted string on into the next lines: a "linux" line inside a quoted echo is text,
// not the entry's kernel, and a quote left open to the end of the file is a syntax error GRUB
// reads nothing of (the fuzzer's `linux vmlinuz-0.0.0-0-"0` named a kernel no line boots).
func TestGrubMenuReadsQuotedStringsAcrossLinesAsGRUBDoes(t *testing.T) {
	m := parseGrubMenu("menuentry 'A' --id a {\n\tlinux /boot/vmlinuz-6.11.0-1016-nvidia\n\techo 'done\n\tlinux /boot/vmlinuz-6.17.0-1014-nvidia'\n}\n" +
		"menuentry 'B' --id b {\n\tlinux /boot/vmlinuz-6.14.0-1015-nv\\\nidia ro\n}\n")
	if got := m.entries(); got["6.11.0-1016-nvidia"] != "a" || got["6.17.0-1014-nvidia"] != "" || got["6.14.0-1015-nvidia"] != "b" {
		t.Errorf("entries %v: want 6.11 in a (the 6.17 line is inside a quoted echo) and 6.14 in b (backslash-newline continues a word)", got)
	}
	open := parseGrubMenu("menuentry 'C' --id c {\n\tlinux /boot/vmlinuz-6.17.0-1014-nvidia\"\n}\n")
	if got := open.entries(); len(got) != 0 {
		t.Errorf("a linux line whose quote never closes named kernels %v", got)
	}
	if k := open.defaultKernel("0", nil); k != "" {
		t.Errorf("default kernel %q from a linux line whose quote never closes", k)
	}
}

// The running kernel is host output reaching plans and state: a release uname -r could not
// print is refused, naming what was printed.
func TestKernelReadRefusesARunningKernelUnameCannotPrint(t *testing.T) {
	in := Instance{Type: "kernel", Name: "k", Desired: kernelBody("6.17", "", true, "")}
	for _, running := range []string{"6.17.0 \x1b]0;x\x07", strings.Repeat("6", 65)} {
		out := "running " + running + "\nlists yes\nnofile pin\nnogrubenv\nnofile grubcfg\nnofile dropin\n"
		if _, err := (kernel{}).Read(in, []byte(out)); err == nil || !strings.Contains(err.Error(), "running kernel") {
			t.Errorf("running %q: %v", running, err)
		}
	}
}
