package resources

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// capturedAttr finds an attribute of a captured block.
func capturedAttr(b CapturedBlock, name string) cty.Value {
	for _, a := range b.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return cty.NilVal
}

func TestSysctlBootValuesOrderingAndShadowing(t *testing.T) {
	etc := "vm.swappiness = 1\n"
	cases := []struct {
		name  string
		files []SysctlConfFile
		etc   *string
		keys  []string
		skip  string
		want  map[string]string
	}{
		{"last assignment in a file wins", []SysctlConfFile{{"/etc/sysctl.d/99-t.conf", "vm.swappiness=5\n# vm.swappiness=7\nvm.swappiness = 10\n"}}, nil, nil, "",
			map[string]string{"vm.swappiness": "10"}},
		{"files sorted by name across directories", []SysctlConfFile{
			{"/usr/lib/sysctl.d/99-z.conf", "vm.swappiness=30"}, {"/etc/sysctl.d/10-a.conf", "vm.swappiness=20"}}, nil, nil, "",
			map[string]string{"vm.swappiness": "30"}},
		{"a name in /etc shadows the same name in /usr/lib", []SysctlConfFile{
			{"/usr/lib/sysctl.d/50-x.conf", "vm.swappiness=30\nvm.dirty_ratio=5"}, {"/etc/sysctl.d/50-x.conf", "vm.swappiness=20"}}, nil, nil, "",
			map[string]string{"vm.swappiness": "20"}},
		{"/run shadows /lib", []SysctlConfFile{{"/lib/sysctl.d/50-x.conf", "vm.swappiness=30"}, {"/run/sysctl.d/50-x.conf", "vm.swappiness=40"}}, nil, nil, "",
			map[string]string{"vm.swappiness": "40"}},
		{"/etc/sysctl.conf comes last", []SysctlConfFile{{"/etc/sysctl.d/99-t.conf", "vm.swappiness=10"}}, &etc, nil, "",
			map[string]string{"vm.swappiness": "1"}},
		{"slashes, dash prefix, blanks and comments", []SysctlConfFile{{"/etc/sysctl.d/1.conf", "; c\n-vm/dirty_ratio =  10 \nnet.ipv4.tcp_rmem = 4096\t87380  6291456\n"}}, nil, nil, "",
			map[string]string{"vm.dirty_ratio": "10", "net.ipv4.tcp_rmem": "4096 87380 6291456"}},
		{"globs apply to the keys of interest", []SysctlConfFile{{"/etc/sysctl.d/1.conf", "net.ipv4.conf.*.rp_filter = 2\n"}}, nil, []string{"net.ipv4.conf.eth0.rp_filter", "vm.swappiness"}, "",
			map[string]string{"net.ipv4.conf.eth0.rp_filter": "2"}},
		{"the skipped file does not count", []SysctlConfFile{{"/etc/sysctl.d/90-sparkform-x.conf", "vm.swappiness=10"}, {"/etc/sysctl.d/10-a.conf", "vm.swappiness=60"}}, nil, nil, "/etc/sysctl.d/90-sparkform-x.conf",
			map[string]string{"vm.swappiness": "60"}},
		{"non-.conf files are not read", []SysctlConfFile{{"/etc/sysctl.d/README", "vm.swappiness=10"}}, nil, nil, "", map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SysctlBootValues(c.files, c.etc, c.keys, c.skip)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestUdevReadaheadGlobsAndOrder(t *testing.T) {
	rule := func(kernel, kb string) string {
		return fmt.Sprintf(`ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="%s", ATTR{queue/read_ahead_kb}="%s"`, kernel, kb)
	}
	cases := []struct {
		name  string
		files []UdevRuleFile
		skip  string
		want  map[string]string
	}{
		{"exact device", []UdevRuleFile{{"/etc/udev/rules.d/99-ra.rules", rule("nvme0n1", "8192")}}, "", map[string]string{"nvme0n1": "8192"}},
		{"glob with class and star", []UdevRuleFile{{"/etc/udev/rules.d/99-ra.rules", rule("nvme[0-9]*n[0-9]*", "4096")}}, "", map[string]string{"nvme0n1": "4096", "nvme1n1": "4096"}},
		{"alternatives", []UdevRuleFile{{"/etc/udev/rules.d/99-ra.rules", rule("sda|nvme1n1", "1024")}}, "", map[string]string{"nvme1n1": "1024"}},
		{"KERNEL!= excludes", []UdevRuleFile{{"/etc/udev/rules.d/99-ra.rules", `KERNEL!="nvme0n1", ATTR{queue/read_ahead_kb}="64"`}}, "", map[string]string{"nvme1n1": "64"}},
		{"other subsystem does not apply", []UdevRuleFile{{"/etc/udev/rules.d/99-ra.rules", `SUBSYSTEM=="net", KERNEL=="nvme0n1", ATTR{queue/read_ahead_kb}="64"`}}, "", map[string]string{}},
		{"remove action does not apply", []UdevRuleFile{{"/etc/udev/rules.d/99-ra.rules", `ACTION=="remove", KERNEL=="nvme0n1", ATTR{queue/read_ahead_kb}="64"`}}, "", map[string]string{}},
		{"later file by name wins", []UdevRuleFile{{"/etc/udev/rules.d/99-b.rules", rule("nvme0n1", "2048")}, {"/lib/udev/rules.d/60-a.rules", rule("nvme0n1", "512")}}, "", map[string]string{"nvme0n1": "2048"}},
		{"same name in /etc shadows /lib", []UdevRuleFile{{"/lib/udev/rules.d/60-a.rules", rule("nvme0n1", "512")}, {"/etc/udev/rules.d/60-a.rules", rule("nvme1n1", "256")}}, "", map[string]string{"nvme1n1": "256"}},
		{":= is final", []UdevRuleFile{{"/etc/udev/rules.d/10-a.rules", `KERNEL=="nvme0n1", ATTR{queue/read_ahead_kb}:="128"`}, {"/etc/udev/rules.d/99-b.rules", rule("nvme0n1", "8192")}}, "", map[string]string{"nvme0n1": "128"}},
		{"skipped file and comments", []UdevRuleFile{{"/etc/udev/rules.d/60-sparkform-readahead-x.rules", rule("nvme0n1", "8192")}, {"/etc/udev/rules.d/70-c.rules", "# " + rule("nvme0n1", "1")}}, "/etc/udev/rules.d/60-sparkform-readahead-x.rules", map[string]string{}},
		{"unknown conditions are taken as true", []UdevRuleFile{{"/etc/udev/rules.d/70-c.rules", `KERNEL=="nvme0n1", ATTR{queue/rotational}=="0", ATTR{queue/read_ahead_kb}="4096"`}}, "", map[string]string{"nvme0n1": "4096"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := UdevReadahead(c.files, []string{"nvme0n1", "nvme1n1"}, c.skip)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestSysctlCapture(t *testing.T) {
	key := func(k, v string) string { return fmt.Sprintf("key %s %s\n", k, b64(v)) }
	out := key("vm.swappiness", "10") + key("vm.dirty_ratio", "10") + key("vm.dirty_bytes", "0") + key("vm.dirty_background_ratio", "5") +
		key("vm.dirty_background_bytes", "1048576") + key("vm.max_map_count", "65530") + key("vm.min_free_kbytes", "99") +
		key("kernel.ostype", "Linux") + "nokey kernel.numa_balancing\nnokey vm.gone\n" +
		"sysctld " + b64("/etc/sysctl.d/99-tuned.conf") + " " + b64("vm.swappiness = 10\nvm.dirty_ratio=10\nvm.min_free_kbytes = 50\n") + "\n"
	blocks, notes, err := Sysctl{}.Capture(CaptureOptions{SysctlKeys: []string{"kernel.ostype", "vm.gone"}}, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 1 {
		t.Fatalf("blocks %+v", blocks)
	}
	vals := capturedAttr(blocks[0], "values")
	got := map[string]string{}
	for k, v := range vals.AsValueMap() {
		got[k] = v.GoString()
	}
	want := map[string]string{
		"vm.swappiness":             "cty.NumberIntVal(10)", // persisted
		"vm.dirty_ratio":            "cty.NumberIntVal(10)",
		"vm.dirty_background_bytes": "cty.NumberIntVal(1048576)", // set live, not persisted: not captured? see below
		"vm.min_free_kbytes":        "cty.NumberIntVal(99)",      // live differs from boot: live captured
		"kernel.ostype":             `cty.StringVal("Linux")`,    // explicit
	}
	delete(want, "vm.dirty_background_bytes") // no boot file sets it: at the kernel's default (or live only)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values %v\nwant   %v", got, want)
	}
	c := blocks[0].Comment
	for _, w := range []string{"vm.min_free_kbytes: captured the live value 99; the boot configuration sets 50", "vm.dirty_background_ratio is not captured: vm.dirty_background_bytes = 1048576 replaces it",
		"vm.max_map_count = 65530", "kernel.ostype: no boot configuration file sets it"} {
		if !strings.Contains(c, w) {
			t.Errorf("comment lacks %q:\n%s", w, c)
		}
	}
	if n := strings.Join(notes, "\n"); !strings.Contains(n, "no key vm.gone") || strings.Contains(n, "numa_balancing") {
		t.Errorf("notes: %s", n)
	}
	if errs := (Sysctl{}).Validate(cty.ObjectVal(map[string]cty.Value{"values": mustMapString(vals)})); len(errs) > 0 {
		t.Errorf("captured values do not validate: %v", errs)
	}
}

func mustMapString(v cty.Value) cty.Value {
	m := map[string]string{}
	for k, e := range v.AsValueMap() {
		if e.Type() == cty.Number {
			m[k] = e.AsBigFloat().Text('f', -1)
		} else {
			m[k] = e.AsString()
		}
	}
	return stringMapVal(m)
}

func TestReadaheadCapture(t *testing.T) {
	out := "ra nvme0n1 8192\nra nvme1n1 128\nra nvme2n1 4096\nra nvme3n1 256\n" +
		"udevrule " + b64("/etc/udev/rules.d/99-ra.rules") + " " + b64(`ACTION=="add|change", KERNEL=="nvme0n1|nvme3n1", ATTR{queue/read_ahead_kb}="8192"`) + "\n"
	blocks, notes, err := Readahead{}.Capture(CaptureOptions{}, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range blocks {
		kb, _ := capturedAttr(b, "kb").AsBigFloat().Int64()
		got = append(got, fmt.Sprintf("%s:%s=%d", b.Name, capturedAttr(b, "device").AsString(), kb))
		if errs := (Readahead{}).Validate(cty.ObjectVal(map[string]cty.Value{"device": capturedAttr(b, "device"), "kb": capturedAttr(b, "kb")})); len(errs) > 0 {
			t.Errorf("%s does not validate: %v", b.Name, errs)
		}
	}
	if s := strings.Join(got, " "); s != "nvme0n1:nvme0n1=8192 nvme2n1:nvme2n1=4096 nvme3n1:nvme3n1=256" {
		t.Errorf("blocks %s", s)
	}
	if !strings.Contains(blocks[1].Comment, "set live only") || !strings.Contains(blocks[2].Comment, "the udev rules set 8192") {
		t.Errorf("comments: %q / %q", blocks[1].Comment, blocks[2].Comment)
	}
	if n := strings.Join(notes, "\n"); !strings.Contains(n, "nvme1n1: not captured: at the kernel's default 128") {
		t.Errorf("notes: %s", n)
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

func TestGrubDefaultKernel(t *testing.T) {
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
		if got := GrubDefaultKernel(testGrubCfg, c.def, map[string]string{"saved_entry": c.saved}); got != c.want {
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
	fmt.Fprintf(&b, "grubenv %s\n", b64("saved_entry="+saved+"\n"))
	fmt.Fprintf(&b, "file grubcfg %s\n", b64(testGrubCfg))
	fmt.Fprintf(&b, "grubdefault %s\n", b64("GRUB_DEFAULT=saved\n"))
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
			blocks, notes, err := Kernel{}.Capture(CaptureOptions{}, []byte(c.out))
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
			if errs := (Kernel{}).Validate(cty.ObjectVal(obj)); len(errs) > 0 {
				t.Errorf("does not validate: %v", errs)
			}
		})
	}
}

func TestPythonVenvCapture(t *testing.T) {
	report := func(dists map[string]string) string {
		var parts []string
		for n, v := range dists {
			parts = append(parts, fmt.Sprintf("%q: %q", n, v))
		}
		return b64(fmt.Sprintf(`{"python": "3.11.2", "dists": {%s}, "base": "/usr/bin/python3.11"}`, strings.Join(parts, ", ")))
	}
	cfg := "home = /usr/bin\nexecutable = /usr/bin/python3.11\ncommand = /usr/bin/python3 -m venv /opt/venv\n"
	man := `{"managed_by": "sparkform", "python": "python3", "packages": ["x==1"], "find_links": ["/srv/wheels"], "verify": ["x"]}`
	out := "venvcap 0 " + report(map[string]string{"fastsafetensors": "0.1.10", "pip": "23.0.1", "setuptools": "66", "Typing_Extensions": "4.1"}) + "\n" +
		"venvcfg 0 " + b64(cfg) + "\n" +
		"novenv 1\n" +
		"venvcap 2 " + report(map[string]string{"x": "1"}) + "\nvenvman 2 " + b64(man) + "\n" +
		"venvfail 3 " + b64("Traceback\nImportError: no") + "\n" +
		"venvcap 4 " + report(map[string]string{"numpy": "2.0"}) + "\nvenvcfg 4 " + b64("home = /opt/py/bin\n") + "\n"
	opts := CaptureOptions{Venvs: []string{"/opt/venv", "/opt/none", "/opt/sparkform/vllm", "/opt/broken", "/srv/other/venv", "relative/path"}}
	blocks, notes, err := PythonVenv{}.Capture(opts, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range blocks {
		var parts []string
		for _, a := range b.Attrs {
			if a.Value.Type().IsListType() {
				var l []string
				for _, e := range a.Value.AsValueSlice() {
					l = append(l, e.AsString())
				}
				parts = append(parts, a.Name+"=["+strings.Join(l, ",")+"]")
			} else {
				parts = append(parts, a.Name+"="+a.Value.AsString())
			}
		}
		got[b.Name] = strings.Join(parts, " ")
		obj := map[string]cty.Value{"path": cty.NullVal(cty.String), "python": cty.NullVal(cty.String), "packages": cty.NullVal(cty.List(cty.String)),
			"find_links": cty.NullVal(cty.List(cty.String)), "index_url": cty.NullVal(cty.String), "verify": cty.NullVal(cty.List(cty.String))}
		for _, a := range b.Attrs {
			obj[a.Name] = a.Value
		}
		if errs := (PythonVenv{}).Validate(cty.ObjectVal(obj)); len(errs) > 0 {
			t.Errorf("%s does not validate: %v", b.Name, errs)
		}
	}
	want := map[string]string{
		"venv":   "path=/opt/venv python=/usr/bin/python3 packages=[fastsafetensors==0.1.10,Typing_Extensions==4.1]",
		"vllm":   "path=/opt/sparkform/vllm python=python3 packages=[x==1] find_links=[/srv/wheels] verify=[x]",
		"venv_2": "path=/srv/other/venv python=/opt/py/bin/python3 packages=[numpy==2.0]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("blocks\n%v\nwant\n%v", got, want)
	}
	n := strings.Join(notes, "\n")
	for _, w := range []string{"/opt/none: not captured: no /opt/none/bin/python", "/opt/broken: not captured: its python fails: ImportError: no", "relative/path: not captured"} {
		if !strings.Contains(n, w) {
			t.Errorf("notes lack %q:\n%s", w, n)
		}
	}
}

func TestParseCMakeCacheAndLlamaCapture(t *testing.T) {
	cache := "# /root/llama.cpp/build/CMakeCache.txt\nGGML_CUDA:BOOL=ON\nGGML_CUDA-ADVANCED:INTERNAL=1\nGGML_NATIVE:BOOL=OFF\nCMAKE_CUDA_ARCHITECTURES:STRING=120a-real;121a-real\nGGML_EMPTY:STRING=\nGGML_BAD:STRING=a$(b)\nGGML_VERSION:INTERNAL=1\n"
	flags, bad := ParseCMakeCache(cache)
	if fmt.Sprint(flags) != "map[CMAKE_CUDA_ARCHITECTURES:120a-real;121a-real GGML_CUDA:ON GGML_NATIVE:OFF]" || fmt.Sprint(bad) != "[GGML_BAD=a$(b)]" {
		t.Fatalf("flags %v bad %v", flags, bad)
	}
	man := `{"managed_by": "sparkform", "source": "/srv/git/llama.cpp.git", "ref": "b6800", "commit": "0123456789abcdef0123", "cmake_flags": {"GGML_CUDA": "ON"}, "targets": ["llama-server"]}`
	out := "llcur 0 " + b64("builds/abcdef012345") + "\nllman 0 " + b64(man) + "\n" +
		"llsrc 1 " + b64("/root/llama.cpp") + "\nllcommit 1 " + b64("89abcdef0123456789abcdef0123456789abcdef") + "\nllorigin 1 " + b64("https://github.com/ggml-org/llama.cpp.git") + "\nllcache 1 " + b64(cache) + "\n" +
		"llsrc 2 " + b64("/root/l2") + "\nlltag 2 " + b64("b10900") + "\n" +
		"llnodir 3\n" +
		"llsrc 4 " + b64("/root/l4") + "\nlltag 4 " + b64("b6800") + "\nllorigin 4 " + b64("/srv/git/llama.cpp.git") + "\n"
	opts := CaptureOptions{LlamaDirs: []string{"/opt/sparkform/llama.cpp", "/root/llama.cpp", "/root/l2", "/root/gone", "/root/l4"}}
	blocks, notes, err := LlamaCpp{}.Capture(opts, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 {
		t.Fatalf("blocks %+v\nnotes %v", blocks, notes)
	}
	for _, b := range blocks {
		obj := map[string]cty.Value{}
		for n, at := range map[string]cty.Type{"source": cty.String, "ref": cty.String, "dir": cty.String, "cmake_flags": cty.Map(cty.String), "targets": cty.List(cty.String),
			"jobs": cty.Number, "keep": cty.Number, "build_timeout": cty.String} {
			obj[n] = cty.NullVal(at)
		}
		for _, a := range b.Attrs {
			obj[a.Name] = a.Value
		}
		if errs := (LlamaCpp{}).Validate(cty.ObjectVal(obj)); len(errs) > 0 {
			t.Errorf("%s does not validate: %v", b.Name, errs)
		}
	}
	if r := capturedAttr(blocks[0], "ref").AsString(); r != "b6800" || capturedAttr(blocks[0], "dir").AsString() != "/opt/sparkform/llama.cpp" {
		t.Errorf("managed build: %+v", blocks[0])
	}
	if r := capturedAttr(blocks[1], "ref").AsString(); r != "89abcdef0123456789abcdef0123456789abcdef" || !strings.Contains(blocks[1].Comment, "no tag points at HEAD") ||
		capturedAttr(blocks[1], "dir").AsString() != LlamaCaptureDir || capturedAttr(blocks[1], "cmake_flags").LengthInt() != 3 || !strings.Contains(blocks[1].Comment, "GGML_BAD") {
		t.Errorf("plain checkout: %+v", blocks[1])
	}
	if !strings.Contains(blocks[2].Comment, "cmake_flags: not captured") || capturedAttr(blocks[2], "ref").AsString() != "b6800" {
		t.Errorf("checkout without cache: %+v", blocks[2])
	}
	n := strings.Join(notes, "\n")
	for _, w := range []string{"/root/l2: not captured: the checkout /root/l2 has no remote origin", "/root/gone: not captured: no such directory"} {
		if !strings.Contains(n, w) {
			t.Errorf("notes lack %q:\n%s", w, n)
		}
	}
}

func TestCaptureName(t *testing.T) {
	for in, want := range map[string]string{"/opt/venv": "venv", "/opt/llama.cpp": "llama_cpp", "nvme0n1": "nvme0n1", "/opt/2venv/": "venv_2venv", "/": "venv"} {
		if got := CaptureName(in, "venv"); got != want {
			t.Errorf("CaptureName(%q) = %q, want %q", in, got, want)
		}
	}
}
