package resources

import (
	"os/exec"
	"strings"
	"testing"

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
			errs := Sysctl{}.Validate(sysctlBody(c.values))
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

// runProbe executes a probe with the local sh, as the engine does remotely; it proves the
// fragment is valid shell and that Read understands what it prints.
func runProbe(t *testing.T, script string) []byte {
	t.Helper()
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("probe failed: %v\n%s", err, script)
	}
	return out
}

func TestSysctlProbeReadsLiveValuesAndMissingFile(t *testing.T) {
	in := Instance{Type: "sysctl", Name: "probe-test", Desired: sysctlBody(map[string]string{"kernel.ostype": "Linux", "vm.nonexistent_key": "1"})}
	obs, err := Sysctl{}.Read(in, runProbe(t, Sysctl{}.Probe(in)))
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
	if _, err := (Sysctl{}).Diff(in, obs); err == nil || !strings.Contains(err.Error(), "vm.nonexistent_key") {
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
			d, err := Sysctl{}.Diff(c.in, c.observed)
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != c.wantAction {
				t.Errorf("action = %s, want %s", d.Action, c.wantAction)
			}
			var got []string
			for _, f := range d.Fields {
				s := f.Path + ":" + f.Before + "->" + f.After
				if f.Drift {
					s += "!"
				}
				got = append(got, s)
			}
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
