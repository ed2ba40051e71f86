package resources

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/zclconf/go-cty/cty"
)

func sysctlBody(kv map[string]string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"values": stringMapVal(kv)})
}

func TestSysctlValidateRejectsHostileKeysAndValues(t *testing.T) {
	cases := []struct {
		name    string
		values  map[string]string
		wantErr string
	}{
		{"plain values pass", map[string]string{"vm.swappiness": "10", "net.ipv4.tcp_rmem": "4096 87380 6291456"}, ""},
		{"shell command in value", map[string]string{"vm.swappiness": "10; touch /tmp/pwned"}, "characters"},
		{"command substitution in value", map[string]string{"vm.swappiness": "$(reboot)"}, "characters"},
		{"newline in value", map[string]string{"vm.swappiness": "10\nvm.dirty_ratio=1"}, "characters"},
		{"newline in key", map[string]string{"vm.swappiness\nkernel.x": "10"}, "not a sysctl key"},
		{"key without dot", map[string]string{"swappiness": "10"}, "not a sysctl key"},
		{"path traversal key", map[string]string{"../../etc/passwd": "1"}, "not a sysctl key"},
		{"uppercase key", map[string]string{"VM.swappiness": "1"}, "not a sysctl key"},
		{"empty value", map[string]string{"vm.swappiness": ""}, "characters"},
		{"empty map", map[string]string{}, "at least one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := sysctl{}.Validate(sysctlBody(c.values))
			if c.wantErr == "" {
				if len(errs) != 0 {
					t.Fatalf("want no error, got %v", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs[0].Msg, c.wantErr) || errs[0].Attr != "values" {
				t.Fatalf("want error on values containing %q, got %v", c.wantErr, errs)
			}
		})
	}
}

func TestSysctlProbeReadsLiveValuesAndMissingFile(t *testing.T) {
	in := Instance{Type: "sysctl", Name: "probe-test", Desired: sysctlBody(map[string]string{"kernel.ostype": "Linux", "vm.nonexistent_key": "1"})}
	obs, err := sysctl{}.Read(in, providertest.MustRun(t, sysctl{}.Probe(in)))
	if err != nil {
		t.Fatal(err)
	}
	live := stringMap(obs.GetAttr("live"))
	if live["kernel.ostype"] != "Linux" {
		t.Fatalf("kernel.ostype live = %q, want Linux", live["kernel.ostype"])
	}
	if _, ok := live["vm.nonexistent_key"]; ok {
		t.Fatal("a key the kernel lacks must be absent from live values")
	}
	if !obs.GetAttr("file").IsNull() {
		t.Fatal("persistence file of a never-applied block must be reported absent")
	}
	if _, err := (sysctl{}).Diff(in, obs); err == nil || !strings.Contains(err.Error(), "vm.nonexistent_key") {
		t.Fatalf("diff must fail naming the missing key, got %v", err)
	}
}

func observedSysctl(live map[string]string, file *string) cty.Value {
	f := cty.NullVal(cty.String)
	if file != nil {
		f = cty.StringVal(*file)
	}
	return cty.ObjectVal(map[string]cty.Value{"live": stringMapVal(live), "file": f})
}

func TestSysctlDiff(t *testing.T) {
	want := map[string]string{"vm.swappiness": "10"}
	content := sysctlFileContent("sysctl.loading", want)
	applied := Prior{Attributes: sysctlBody(want), Original: stringMapVal(map[string]string{"vm.swappiness": "60"})}
	cases := []struct {
		name       string
		in         Instance
		observed   cty.Value
		wantAction Action
		wantFields []string // path:before->after, with ! for drift
	}{
		{"fresh host plans a create with live value and file",
			Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(want)},
			observedSysctl(map[string]string{"vm.swappiness": "60"}, nil),
			Create, []string{`values["vm.swappiness"]:60->10`, `file:->/etc/sysctl.d/90-sparkform-loading.conf`}},
		{"converged host plans nothing",
			Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(want), Prior: applied},
			observedSysctl(map[string]string{"vm.swappiness": "10"}, &content),
			NoOp, nil},
		{"value changed by hand is drift",
			Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(want), Prior: applied},
			observedSysctl(map[string]string{"vm.swappiness": "33"}, &content),
			Update, []string{`values["vm.swappiness"]:33->10!`}},
		{"value changed in the configuration rewrites the file and is not drift",
			Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(map[string]string{"vm.swappiness": "5"}), Prior: applied},
			observedSysctl(map[string]string{"vm.swappiness": "10"}, &content),
			Update, []string{`values["vm.swappiness"]:10->5`, `file:/etc/sysctl.d/90-sparkform-loading.conf (the previous values)->/etc/sysctl.d/90-sparkform-loading.conf`}},
		{"removed block restores the original and removes the file",
			Instance{Type: "sysctl", Name: "loading", Desired: cty.NullVal(cty.DynamicPseudoType), Prior: applied},
			observedSysctl(map[string]string{"vm.swappiness": "10"}, &content),
			Delete, []string{`values["vm.swappiness"]:10->60`, `file:/etc/sysctl.d/90-sparkform-loading.conf->`}},
		{"key dropped from the block goes back to its original",
			Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(map[string]string{"vm.dirty_ratio": "10"}),
				Prior: Prior{Attributes: sysctlBody(map[string]string{"vm.swappiness": "10", "vm.dirty_ratio": "10"}),
					Original: stringMapVal(map[string]string{"vm.swappiness": "60", "vm.dirty_ratio": "20"})}},
			observedSysctl(map[string]string{"vm.swappiness": "10", "vm.dirty_ratio": "10"}, &content),
			Update, []string{`values["vm.swappiness"]:10->60`, `file:/etc/sysctl.d/90-sparkform-loading.conf (edited on the host)->/etc/sysctl.d/90-sparkform-loading.conf!`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := sysctl{}.Diff(c.in, c.observed)
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != c.wantAction {
				t.Errorf("action = %s, want %s", d.Action, c.wantAction)
			}
			got := fieldChanges(d.Fields)
			if strings.Join(got, "\n") != strings.Join(c.wantFields, "\n") {
				t.Errorf("fields:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.wantFields, "\n"))
			}
		})
	}
}

func TestSysctlFileContentIsSortedAndMarkedManaged(t *testing.T) {
	got := sysctlFileContent("sysctl.x", map[string]string{"vm.swappiness": "10", "vm.dirty_ratio": "5"})
	if !strings.HasPrefix(got, "# Managed by sparkform (sysctl.x)") {
		t.Fatalf("missing managed header:\n%s", got)
	}
	if !strings.HasSuffix(got, "vm.dirty_ratio = 5\nvm.swappiness = 10\n") {
		t.Fatalf("keys not sorted:\n%s", got)
	}
}

func TestSysctlBootValuesOrderingAndShadowing(t *testing.T) {
	etc := "vm.swappiness = 1\n"
	cases := []struct {
		name  string
		files []sysctlConfFile
		etc   *string
		keys  []string
		skip  string
		want  map[string]string
	}{
		{"last assignment in a file wins", []sysctlConfFile{{"/etc/sysctl.d/99-t.conf", "vm.swappiness=5\n# vm.swappiness=7\nvm.swappiness = 10\n"}}, nil, nil, "",
			map[string]string{"vm.swappiness": "10"}},
		{"files sorted by name across directories", []sysctlConfFile{
			{"/usr/lib/sysctl.d/99-z.conf", "vm.swappiness=30"}, {"/etc/sysctl.d/10-a.conf", "vm.swappiness=20"}}, nil, nil, "",
			map[string]string{"vm.swappiness": "30"}},
		{"a name in /etc shadows the same name in /usr/lib", []sysctlConfFile{
			{"/usr/lib/sysctl.d/50-x.conf", "vm.swappiness=30\nvm.dirty_ratio=5"}, {"/etc/sysctl.d/50-x.conf", "vm.swappiness=20"}}, nil, nil, "",
			map[string]string{"vm.swappiness": "20"}},
		{"/run shadows /lib", []sysctlConfFile{{"/lib/sysctl.d/50-x.conf", "vm.swappiness=30"}, {"/run/sysctl.d/50-x.conf", "vm.swappiness=40"}}, nil, nil, "",
			map[string]string{"vm.swappiness": "40"}},
		{"/etc/sysctl.conf comes last", []sysctlConfFile{{"/etc/sysctl.d/99-t.conf", "vm.swappiness=10"}}, &etc, nil, "",
			map[string]string{"vm.swappiness": "1"}},
		{"slashes, dash prefix, blanks and comments", []sysctlConfFile{{"/etc/sysctl.d/1.conf", "; c\n-vm/dirty_ratio =  10 \nnet.ipv4.tcp_rmem = 4096\t87380  6291456\n"}}, nil, nil, "",
			map[string]string{"vm.dirty_ratio": "10", "net.ipv4.tcp_rmem": "4096 87380 6291456"}},
		{"globs apply to the keys of interest", []sysctlConfFile{{"/etc/sysctl.d/1.conf", "net.ipv4.conf.*.rp_filter = 2\n"}}, nil, []string{"net.ipv4.conf.eth0.rp_filter", "vm.swappiness"}, "",
			map[string]string{"net.ipv4.conf.eth0.rp_filter": "2"}},
		{"the skipped file does not count", []sysctlConfFile{{"/etc/sysctl.d/90-sparkform-x.conf", "vm.swappiness=10"}, {"/etc/sysctl.d/10-a.conf", "vm.swappiness=60"}}, nil, nil, "/etc/sysctl.d/90-sparkform-x.conf",
			map[string]string{"vm.swappiness": "60"}},
		{"non-.conf files are not read", []sysctlConfFile{{"/etc/sysctl.d/README", "vm.swappiness=10"}}, nil, nil, "", map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sysctlBootValues(c.files, c.etc, c.keys, c.skip)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// sysctlKeyOut is the capture probe's output for a key the host has, set to v.
func sysctlKeyOut(k, v string) string { return fmt.Sprintf("haskey %s\n%s:%s\n", k, sysctlPath(k), v) }

func TestSysctlCapture(t *testing.T) {
	out := sysctlKeyOut("vm.swappiness", "10") + sysctlKeyOut("vm.dirty_ratio", "10") + sysctlKeyOut("vm.dirty_bytes", "0") + sysctlKeyOut("vm.dirty_background_ratio", "5") +
		sysctlKeyOut("vm.dirty_background_bytes", "1048576") + sysctlKeyOut("vm.max_map_count", "65530") + sysctlKeyOut("vm.min_free_kbytes", "99") +
		sysctlKeyOut("kernel.ostype", "Linux") + "nokey kernel.numa_balancing\nnokey vm.gone\n" +
		dropInsOut("sysctld", "", "/etc/sysctl.d/99-tuned.conf", "vm.swappiness = 10\nvm.dirty_ratio=10\nvm.min_free_kbytes = 50\n")
	blocks, notes, err := sysctl{}.Capture(CaptureOptions{SysctlKeys: []string{"kernel.ostype", "vm.gone"}}, []byte(out))
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
		"vm.dirty_background_bytes": "cty.NumberIntVal(1.048576e+06)", // set live only (the default is 0): captured, said so
		"vm.min_free_kbytes":        "cty.NumberIntVal(99)",           // live differs from boot: live captured
		"kernel.ostype":             `cty.StringVal("Linux")`,         // explicit
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values %v\nwant   %v", got, want)
	}
	c := blocks[0].Comment
	for _, w := range []string{"vm.min_free_kbytes: captured the live value 99; the boot configuration sets 50", "vm.dirty_background_ratio is not captured: vm.dirty_background_bytes = 1048576 replaces it",
		"vm.max_map_count = 65530", "kernel.ostype = Linux: no boot configuration file sets it",
		"vm.dirty_background_bytes = 1048576: set live only (no boot configuration file keeps it; the kernel's default is 0)"} {
		if !strings.Contains(c, w) {
			t.Errorf("comment lacks %q:\n%s", w, c)
		}
	}
	if n := strings.Join(notes, "\n"); !strings.Contains(n, "no key vm.gone") || strings.Contains(n, "numa_balancing") {
		t.Errorf("notes: %s", n)
	}
	if errs := (sysctl{}).Validate(cty.ObjectVal(map[string]cty.Value{"values": mustMapString(vals)})); len(errs) > 0 {
		t.Errorf("captured values do not validate: %v", errs)
	}
}

func TestSysctlDiffJudgesPersistenceByEffect(t *testing.T) {
	want := map[string]string{"vm.swappiness": "10", "vm.dirty_ratio": "10"}
	content := sysctlFileContent("sysctl.loading", want)
	applied := Prior{Attributes: sysctlBody(want), Original: stringMapVal(map[string]string{"vm.swappiness": "60", "vm.dirty_ratio": "20"})}
	tuned := map[string]string{"vm.swappiness": "10", "vm.dirty_ratio": "10"}
	cases := []struct {
		name   string
		prior  Prior
		obs    cty.Value
		action Action
		fields []string
	}{
		{"hand-tuned and persisted by the host's own sysctl.d file: no change, no state needed", Prior{}, persistedObs(tuned, tuned, nil), NoOp, nil},
		{"live right but not persisted: sparkform's file is created", Prior{}, persistedObs(tuned, nil, nil), Create, []string{"file"}},
		{"one key not persisted: the file (with every key) is created", Prior{}, persistedObs(tuned, map[string]string{"vm.swappiness": "10"}, nil), Create, []string{"file"}},
		{"persisted to another value at boot: the file is created", Prior{}, persistedObs(tuned, map[string]string{"vm.swappiness": "10", "vm.dirty_ratio": "20"}, nil), Create, []string{"file"}},
		{"persisted but changed live: only the live value", Prior{}, persistedObs(map[string]string{"vm.swappiness": "33", "vm.dirty_ratio": "10"}, tuned, nil), Create, []string{`values["vm.swappiness"]`}},
		{"applied with sparkform's file: converged", applied, persistedObs(tuned, nil, &content), NoOp, nil},
		{"applied, file edited on the host: drift", applied, persistedObs(tuned, nil, new(string)), Update, []string{"file!"}},
		{"applied, live changed by hand: drift", applied, persistedObs(map[string]string{"vm.swappiness": "33", "vm.dirty_ratio": "10"}, nil, &content), Update, []string{`values["vm.swappiness"]!`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := sysctl{}.Diff(Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(want), Prior: c.prior}, c.obs)
			if err != nil {
				t.Fatal(err)
			}
			got := fieldPaths(d.Fields)
			if d.Action != c.action || strings.Join(got, " ") != strings.Join(c.fields, " ") {
				t.Fatalf("action %s fields %v, want %s %v", d.Action, got, c.action, c.fields)
			}
		})
	}
	// Destroy without state or file does nothing; with state it restores the originals.
	destroy := Instance{Type: "sysctl", Name: "loading", Desired: cty.NullVal(cty.DynamicPseudoType)}
	if d, _ := (sysctl{}).Diff(destroy, persistedObs(tuned, tuned, nil)); d.Action != NoOp {
		t.Errorf("destroy of a never-applied block: %+v", d)
	}
	destroy.Prior = applied
	if d, _ := (sysctl{}).Diff(destroy, persistedObs(tuned, tuned, nil)); d.Action != Delete || len(d.Fields) != 2 {
		t.Errorf("destroy must restore both originals: %+v", d)
	}
}

func TestSysctlReadComputesBootValuesWithoutItsOwnFile(t *testing.T) {
	in := Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(map[string]string{"vm.swappiness": "10"})}
	out := "haskey vm.swappiness\n/proc/sys/vm/swappiness:10\nnofile conf\n" +
		dropInsOut("sysctld", "", sysctlFile("loading"), "vm.swappiness = 10\n", "/usr/lib/sysctl.d/50-x.conf", "vm.swappiness = 60\nkernel.x = 1\n")
	obs, err := sysctl{}.Read(in, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if b := stringMap(obs.GetAttr("boot")); len(b) != 1 || b["vm.swappiness"] != "60" {
		t.Fatalf("boot values %v: sparkform's own file must not count, other keys not kept", b)
	}
}

// Integer sysctls answer a read at a nonzero offset with end-of-file, so a reader that takes a
// byte at a time (dash's read builtin) would see "6" for 60: the fact must read whole files.
// The lab keeps /proc/sys/vm in ordinary files and cannot show this; the controller's kernel can.
func TestSysctlLiveFactReadsWholeValuesFromTheRealProcSys(t *testing.T) {
	keys := []string{"vm.swappiness", "kernel.printk", "fs.file-max", "kernel.ostype", "vm.no_such_key"}
	got, err := sysctlLiveFact.parse(parseProbe(providertest.MustRun(t, sysctlLiveFact.command(keys...))))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[:4] {
		b, err := os.ReadFile(sysctlPath(k))
		if err != nil {
			t.Skipf("no %s here: %v", sysctlPath(k), err)
		}
		if want := normalizeSysctl(string(b)); got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if _, ok := got["vm.no_such_key"]; ok || len(got) != 4 {
		t.Errorf("live %v: want exactly the 4 keys that exist", got)
	}
}

// vm.swappiness = 17 set with sysctl -w and in no file is not "the kernel's default": it is
// captured, and the comment says it is set live only.
func TestSysctlCaptureSaysSetLiveOnlyAndNeverCallsItTheDefault(t *testing.T) {
	out := sysctlKeyOut("vm.swappiness", "17") + sysctlKeyOut("vm.dirty_ratio", "20") + dropInsOut("sysctld", "", "", "")
	blocks, _, err := sysctl{}.Capture(CaptureOptions{}, []byte(out))
	if err != nil || len(blocks) != 1 {
		t.Fatalf("%v %+v", err, blocks)
	}
	if v := capturedAttr(blocks[0], "values").AsValueMap(); len(v) != 1 || v["vm.swappiness"].GoString() != "cty.NumberIntVal(17)" {
		t.Errorf("values: %v", v)
	}
	c := blocks[0].Comment
	if !strings.Contains(c, "vm.swappiness = 17: set live only") || strings.Contains(c, "17 is the kernel's default") ||
		!strings.Contains(c, "at the kernel's default and set by no boot configuration file: vm.dirty_ratio = 20") {
		t.Errorf("comment:\n%s", c)
	}
}
