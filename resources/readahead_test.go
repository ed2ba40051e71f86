package resources

import (
	"strings"
	"testing"

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
			errs := Readahead{}.Validate(c.body)
			if c.wantAttr == "" {
				if len(errs) > 0 {
					t.Fatalf("want no error, got %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Attr != c.wantAttr {
				t.Fatalf("want one error on %s, got %v", c.wantAttr, errs)
			}
		})
	}
}

func TestReadaheadProbeReportsMissingDevice(t *testing.T) {
	in := Instance{Type: "readahead", Name: "x", Desired: readaheadBody("sparkformnodev0", 8192)}
	obs, err := Readahead{}.Read(in, runProbe(t, Readahead{}.Probe(in)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Readahead{}).Diff(in, obs); err == nil || !strings.Contains(err.Error(), "no block device sparkformnodev0") {
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
			d, err := Readahead{}.Diff(c.in, c.obs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range d.Fields {
				s := f.Path + ":" + f.Before + "->" + f.After
				if f.Drift {
					s += "!"
				}
				got = append(got, s)
			}
			if d.Action != c.action || strings.Join(got, " ") != c.fields {
				t.Fatalf("got %s %s\nwant %s %s", d.Action, strings.Join(got, " "), c.action, c.fields)
			}
		})
	}
}
