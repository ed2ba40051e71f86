package resources

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/zclconf/go-cty/cty"
)

func readaheadBody(dev string, kb int64) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal(dev), "kb": cty.NumberIntVal(kb)})
}

func TestReadaheadValidate(t *testing.T) {
	cases := []struct {
		name     string
		body     cty.Value
		wantAttr string
	}{
		{"nvme device passes", readaheadBody("nvme0n1", 8192), ""},
		{"device mapper name passes", readaheadBody("dm-0", 4096), ""},
		{"path traversal in device", readaheadBody("../sda", 8192), "device"},
		{"dev path instead of name", readaheadBody("/dev/nvme0n1", 8192), "device"},
		{"shell in device", readaheadBody("sda;reboot", 8192), "device"},
		{"leading dash", readaheadBody("-rf", 8192), "device"},
		{"negative kb", readaheadBody("sda", -1), "kb"},
		{"fractional kb", cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("sda"), "kb": cty.NumberFloatVal(1.5)}), "kb"},
		{"absurd kb", readaheadBody("sda", 1<<30), "kb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkOneAttrError(t, readahead{}.Validate(c.body), c.wantAttr)
		})
	}
}

func TestReadaheadProbeReportsMissingDevice(t *testing.T) {
	in := Instance{Type: "readahead", Name: "x", Desired: readaheadBody("sparkformnodev0", 8192)}
	obs, err := readahead{}.Read(in, providertest.MustRun(t, readahead{}.Probe(in)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (readahead{}).Diff(in, obs); err == nil || !strings.Contains(err.Error(), "no block device sparkformnodev0") {
		t.Fatalf("want an error naming the missing device, got %v", err)
	}
}

func TestReadaheadDiff(t *testing.T) {
	rule := readaheadRuleContent("readahead.nvme", "nvme0n1", "8192")
	obs := func(live map[string]string, file *string) cty.Value {
		f := cty.NullVal(cty.String)
		if file != nil {
			f = cty.StringVal(*file)
		}
		return cty.ObjectVal(map[string]cty.Value{"live": stringMapVal(live), "file": f})
	}
	applied := Prior{Attributes: readaheadBody("nvme0n1", 8192), Original: stringMapVal(map[string]string{"nvme0n1": "128"})}
	cases := []struct {
		name   string
		in     Instance
		obs    cty.Value
		action Action
		fields string
	}{
		{"fresh host", Instance{Type: "readahead", Name: "nvme", Desired: readaheadBody("nvme0n1", 8192)},
			obs(map[string]string{"nvme0n1": "128"}, nil), Create,
			`read_ahead_kb["nvme0n1"]:128->8192 file:->/etc/udev/rules.d/60-sparkform-readahead-nvme.rules`},
		{"converged", Instance{Type: "readahead", Name: "nvme", Desired: readaheadBody("nvme0n1", 8192), Prior: applied},
			obs(map[string]string{"nvme0n1": "8192"}, &rule), NoOp, ``},
		{"changed by hand is drift", Instance{Type: "readahead", Name: "nvme", Desired: readaheadBody("nvme0n1", 8192), Prior: applied},
			obs(map[string]string{"nvme0n1": "256"}, &rule), Update, `read_ahead_kb["nvme0n1"]:256->8192!`},
		{"destroy restores original", Instance{Type: "readahead", Name: "nvme", Desired: cty.NullVal(cty.DynamicPseudoType), Prior: applied},
			obs(map[string]string{"nvme0n1": "8192"}, &rule), Delete,
			`read_ahead_kb["nvme0n1"]:8192->128 file:/etc/udev/rules.d/60-sparkform-readahead-nvme.rules->`},
		{"device switch restores the old device", Instance{Type: "readahead", Name: "nvme", Desired: readaheadBody("nvme1n1", 8192), Prior: applied},
			obs(map[string]string{"nvme0n1": "8192", "nvme1n1": "128"}, &rule), Update,
			`read_ahead_kb["nvme1n1"]:128->8192 read_ahead_kb["nvme0n1"]:8192->128 file:/etc/udev/rules.d/60-sparkform-readahead-nvme.rules (differs)->/etc/udev/rules.d/60-sparkform-readahead-nvme.rules`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := readahead{}.Diff(c.in, c.obs)
			if err != nil {
				t.Fatal(err)
			}
			got := fieldChanges(d.Fields)
			if d.Action != c.action || strings.Join(got, " ") != c.fields {
				t.Fatalf("got %s %s\nwant %s %s", d.Action, strings.Join(got, " "), c.action, c.fields)
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
		files []udevRuleFile
		skip  string
		want  map[string]string
	}{
		{"exact device", []udevRuleFile{{"/etc/udev/rules.d/99-ra.rules", rule("nvme0n1", "8192")}}, "", map[string]string{"nvme0n1": "8192"}},
		{"glob with class and star", []udevRuleFile{{"/etc/udev/rules.d/99-ra.rules", rule("nvme[0-9]*n[0-9]*", "4096")}}, "", map[string]string{"nvme0n1": "4096", "nvme1n1": "4096"}},
		{"alternatives", []udevRuleFile{{"/etc/udev/rules.d/99-ra.rules", rule("sda|nvme1n1", "1024")}}, "", map[string]string{"nvme1n1": "1024"}},
		{"KERNEL!= excludes", []udevRuleFile{{"/etc/udev/rules.d/99-ra.rules", `KERNEL!="nvme0n1", ATTR{queue/read_ahead_kb}="64"`}}, "", map[string]string{"nvme1n1": "64"}},
		{"other subsystem does not apply", []udevRuleFile{{"/etc/udev/rules.d/99-ra.rules", `SUBSYSTEM=="net", KERNEL=="nvme0n1", ATTR{queue/read_ahead_kb}="64"`}}, "", map[string]string{}},
		{"remove action does not apply", []udevRuleFile{{"/etc/udev/rules.d/99-ra.rules", `ACTION=="remove", KERNEL=="nvme0n1", ATTR{queue/read_ahead_kb}="64"`}}, "", map[string]string{}},
		{"later file by name wins", []udevRuleFile{{"/etc/udev/rules.d/99-b.rules", rule("nvme0n1", "2048")}, {"/lib/udev/rules.d/60-a.rules", rule("nvme0n1", "512")}}, "", map[string]string{"nvme0n1": "2048"}},
		{"same name in /etc shadows /lib", []udevRuleFile{{"/lib/udev/rules.d/60-a.rules", rule("nvme0n1", "512")}, {"/etc/udev/rules.d/60-a.rules", rule("nvme1n1", "256")}}, "", map[string]string{"nvme1n1": "256"}},
		{":= is final", []udevRuleFile{{"/etc/udev/rules.d/10-a.rules", `KERNEL=="nvme0n1", ATTR{queue/read_ahead_kb}:="128"`}, {"/etc/udev/rules.d/99-b.rules", rule("nvme0n1", "8192")}}, "", map[string]string{"nvme0n1": "128"}},
		{"skipped file and comments", []udevRuleFile{{"/etc/udev/rules.d/60-sparkform-readahead-x.rules", rule("nvme0n1", "8192")}, {"/etc/udev/rules.d/70-c.rules", "# " + rule("nvme0n1", "1")}}, "/etc/udev/rules.d/60-sparkform-readahead-x.rules", map[string]string{}},
		{"the value read as the kernel does: '+' and leading zeros", []udevRuleFile{{"/etc/udev/rules.d/99-ra.rules", rule("nvme0n1", "+08192")}}, "", map[string]string{"nvme0n1": "8192"}},
		{"a negative or non-numeric value sets nothing", []udevRuleFile{{"/etc/udev/rules.d/99-ra.rules", rule("nvme0n1", "-1") + "\n" + rule("nvme1n1", "0x10")}}, "", map[string]string{}},
		{"unknown conditions are taken as true", []udevRuleFile{{"/etc/udev/rules.d/70-c.rules", `KERNEL=="nvme0n1", ATTR{queue/rotational}=="0", ATTR{queue/read_ahead_kb}="4096"`}}, "", map[string]string{"nvme0n1": "4096"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := udevReadahead(c.files, []string{"nvme0n1", "nvme1n1"}, c.skip)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
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
		dropInsOut("udev", "read_ahead_kb", "/etc/udev/rules.d/99-ra.rules", `ACTION=="add|change", KERNEL=="nvme0n1|nvme3n1", ATTR{queue/read_ahead_kb}="8192"`)
	blocks, notes, err := readahead{}.Capture(CaptureOptions{}, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range blocks {
		kb, _ := capturedAttr(b, "kb").AsBigFloat().Int64()
		got = append(got, fmt.Sprintf("%s:%s=%d", b.Name, capturedAttr(b, "device").AsString(), kb))
		if errs := (readahead{}).Validate(cty.ObjectVal(map[string]cty.Value{"device": capturedAttr(b, "device"), "kb": capturedAttr(b, "kb")})); len(errs) > 0 {
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

func TestReadaheadDiffJudgesPersistenceByEffect(t *testing.T) {
	body := cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("nvme0n1"), "kb": cty.NumberIntVal(8192)})
	content := readaheadRuleContent("readahead.nvme0n1", "nvme0n1", "8192")
	applied := Prior{Attributes: body, Original: stringMapVal(map[string]string{"nvme0n1": "128"})}
	cases := []struct {
		name   string
		prior  Prior
		obs    cty.Value
		action Action
		fields string
	}{
		{"hand-written udev rule and live value: no change", Prior{}, persistedObs(map[string]string{"nvme0n1": "8192"}, map[string]string{"nvme0n1": "8192"}, nil), NoOp, ""},
		{"live only: sparkform's rule", Prior{}, persistedObs(map[string]string{"nvme0n1": "8192"}, nil, nil), Create, "file"},
		{"rule for another value", Prior{}, persistedObs(map[string]string{"nvme0n1": "8192"}, map[string]string{"nvme0n1": "4096"}, nil), Create, "file"},
		{"rule right, live not", Prior{}, persistedObs(map[string]string{"nvme0n1": "128"}, map[string]string{"nvme0n1": "8192"}, nil), Create, `read_ahead_kb["nvme0n1"]`},
		{"applied: converged", applied, persistedObs(map[string]string{"nvme0n1": "8192"}, nil, &content), NoOp, ""},
		{"applied, changed by hand: drift", applied, persistedObs(map[string]string{"nvme0n1": "512"}, nil, &content), Update, `read_ahead_kb["nvme0n1"]!`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := readahead{}.Diff(Instance{Type: "readahead", Name: "nvme0n1", Desired: body, Prior: c.prior}, c.obs)
			if err != nil {
				t.Fatal(err)
			}
			got := fieldPaths(d.Fields)
			if d.Action != c.action || strings.Join(got, " ") != c.fields {
				t.Fatalf("action %s fields %v, want %s %q", d.Action, got, c.action, c.fields)
			}
		})
	}
}

func TestSetupDescribersRecordReadAheadSysctlAndBuildSkippingMalformedState(t *testing.T) {
	var s TestSetup
	readahead{}.DescribeSetup("readahead.nvme", readaheadBody("nvme0n1", 8192), &s)
	readahead{}.DescribeSetup("readahead.bad", cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("../x"), "kb": cty.NumberIntVal(1)}), &s)
	readahead{}.DescribeSetup("readahead.frac", cty.ObjectVal(map[string]cty.Value{"device": cty.StringVal("sda"), "kb": cty.NumberFloatVal(1.5)}), &s)
	sysctl{}.DescribeSetup("sysctl.a", sysctlBody(map[string]string{"vm.swappiness": "10"}), &s)
	sysctl{}.DescribeSetup("sysctl.bad", cty.ObjectVal(map[string]cty.Value{"values": cty.StringVal("x")}), &s)
	llamaCpp{}.DescribeSetup("llama_cpp.main", cty.ObjectVal(map[string]cty.Value{"build": cty.StringVal("b1")}), &s)
	llamaCpp{}.DescribeSetup("llama_cpp.none", cty.ObjectVal(map[string]cty.Value{"ref": cty.StringVal("v1")}), &s)
	if len(s.ReadAheadKB) != 1 || s.ReadAheadKB["nvme0n1"] != 8192 {
		t.Errorf("read-ahead %v", s.ReadAheadKB)
	}
	if len(s.Sysctl) != 1 || s.Sysctl["vm.swappiness"] != "10" {
		t.Errorf("sysctl %v", s.Sysctl)
	}
	if len(s.Builds) != 1 || s.Builds["llama_cpp.main"] != "b1" {
		t.Errorf("builds %v", s.Builds)
	}
}

// read_ahead_kb from the host is untrusted: a value that is not a whole number of KiB is refused
// with the device named, never planned over, stored as the original and written back on destroy.
func TestReadaheadRefusesALiveValueThatIsNotAWholeNumber(t *testing.T) {
	in := Instance{Type: "readahead", Name: "x", Desired: readaheadBody("nvme0n1", 8192)}
	for _, v := range []string{"-5", "8192 \x1b[2J", "0x10", "+5", "99999999999999999999"} {
		out := "ra nvme0n1 " + v + "\nnofile rule\n" + dropInsOut("udev", "read_ahead_kb")
		if obs, err := (readahead{}).Read(in, []byte(out)); err == nil || !strings.Contains(err.Error(), "nvme0n1") {
			t.Errorf("read_ahead_kb %q: observed %#v, err %v; want an error naming nvme0n1", v, obs, err)
		}
	}
	if _, err := (readahead{}).Read(in, []byte("ra nvme0n1 128\nnofile rule\n")); err != nil {
		t.Fatal(err)
	}
}
