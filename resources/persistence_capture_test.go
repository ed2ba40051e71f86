package resources

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// Convergence judged by effect: hosts set up by hand (what `sparkform capture` reads) plan no
// change when they already have what a block asks, and keep it across reboots.

func sysctlObs(live, boot map[string]string, file *string) cty.Value {
	f := cty.NullVal(cty.String)
	if file != nil {
		f = cty.StringVal(*file)
	}
	return cty.ObjectVal(map[string]cty.Value{"live": stringMapVal(live), "file": f, "boot": stringMapVal(boot)})
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
		{"hand-tuned and persisted by the host's own sysctl.d file: no change, no state needed", Prior{}, sysctlObs(tuned, tuned, nil), NoOp, nil},
		{"live right but not persisted: sparkform's file is created", Prior{}, sysctlObs(tuned, nil, nil), Create, []string{"file"}},
		{"one key not persisted: the file (with every key) is created", Prior{}, sysctlObs(tuned, map[string]string{"vm.swappiness": "10"}, nil), Create, []string{"file"}},
		{"persisted to another value at boot: the file is created", Prior{}, sysctlObs(tuned, map[string]string{"vm.swappiness": "10", "vm.dirty_ratio": "20"}, nil), Create, []string{"file"}},
		{"persisted but changed live: only the live value", Prior{}, sysctlObs(map[string]string{"vm.swappiness": "33", "vm.dirty_ratio": "10"}, tuned, nil), Create, []string{`values["vm.swappiness"]`}},
		{"applied with sparkform's file: converged", applied, sysctlObs(tuned, nil, &content), NoOp, nil},
		{"applied, file edited on the host: drift", applied, sysctlObs(tuned, nil, new(string)), Update, []string{"file!"}},
		{"applied, live changed by hand: drift", applied, sysctlObs(map[string]string{"vm.swappiness": "33", "vm.dirty_ratio": "10"}, nil, &content), Update, []string{`values["vm.swappiness"]!`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Sysctl{}.Diff(Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(want), Prior: c.prior}, c.obs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range d.Fields {
				s := f.Path
				if f.Drift {
					s += "!"
				}
				got = append(got, s)
			}
			if d.Action != c.action || strings.Join(got, " ") != strings.Join(c.fields, " ") {
				t.Fatalf("action %s fields %v, want %s %v", d.Action, got, c.action, c.fields)
			}
		})
	}
	// Destroy without state or file does nothing; with state it restores the originals.
	destroy := Instance{Type: "sysctl", Name: "loading", Desired: cty.NullVal(cty.DynamicPseudoType)}
	if d, _ := (Sysctl{}).Diff(destroy, sysctlObs(tuned, tuned, nil)); d.Action != NoOp {
		t.Errorf("destroy of a never-applied block: %+v", d)
	}
	destroy.Prior = applied
	if d, _ := (Sysctl{}).Diff(destroy, sysctlObs(tuned, tuned, nil)); d.Action != Delete || len(d.Fields) != 2 {
		t.Errorf("destroy must restore both originals: %+v", d)
	}
}

func TestSysctlReadComputesBootValuesWithoutItsOwnFile(t *testing.T) {
	in := Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(map[string]string{"vm.swappiness": "10"})}
	out := "key vm.swappiness " + b64("10") + "\nnofile conf\n" +
		"sysctld " + b64(SysctlFile("loading")) + " " + b64("vm.swappiness = 10\n") + "\n" +
		"sysctld " + b64("/usr/lib/sysctl.d/50-x.conf") + " " + b64("vm.swappiness = 60\nkernel.x = 1\n") + "\n"
	obs, err := Sysctl{}.Read(in, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if b := stringMap(obs.GetAttr("boot")); len(b) != 1 || b["vm.swappiness"] != "60" {
		t.Fatalf("boot values %v: sparkform's own file must not count, other keys not kept", b)
	}
}

func readaheadObs(live, boot map[string]string, file *string) cty.Value {
	f := cty.NullVal(cty.String)
	if file != nil {
		f = cty.StringVal(*file)
	}
	return cty.ObjectVal(map[string]cty.Value{"live": stringMapVal(live), "file": f, "boot": stringMapVal(boot)})
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
		{"hand-written udev rule and live value: no change", Prior{}, readaheadObs(map[string]string{"nvme0n1": "8192"}, map[string]string{"nvme0n1": "8192"}, nil), NoOp, ""},
		{"live only: sparkform's rule", Prior{}, readaheadObs(map[string]string{"nvme0n1": "8192"}, nil, nil), Create, "file"},
		{"rule for another value", Prior{}, readaheadObs(map[string]string{"nvme0n1": "8192"}, map[string]string{"nvme0n1": "4096"}, nil), Create, "file"},
		{"rule right, live not", Prior{}, readaheadObs(map[string]string{"nvme0n1": "128"}, map[string]string{"nvme0n1": "8192"}, nil), Create, `read_ahead_kb["nvme0n1"]`},
		{"applied: converged", applied, readaheadObs(map[string]string{"nvme0n1": "8192"}, nil, &content), NoOp, ""},
		{"applied, changed by hand: drift", applied, readaheadObs(map[string]string{"nvme0n1": "512"}, nil, &content), Update, `read_ahead_kb["nvme0n1"]!`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Readahead{}.Diff(Instance{Type: "readahead", Name: "nvme0n1", Desired: body, Prior: c.prior}, c.obs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range d.Fields {
				s := f.Path
				if f.Drift {
					s += "!"
				}
				got = append(got, s)
			}
			if d.Action != c.action || strings.Join(got, " ") != c.fields {
				t.Fatalf("action %s fields %v, want %s %q", d.Action, got, c.action, c.fields)
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
			d, err := Kernel{}.Diff(Instance{Type: "kernel", Name: "nvidia", Desired: c.body}, o.value())
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != c.action || d.RequiresReboot {
				t.Fatalf("action %s reboot %v, want %s: %+v", d.Action, d.RequiresReboot, c.action, d)
			}
		})
	}
}

func plainVenvObs(pkgs map[string]string, mods ...func(map[string]cty.Value)) cty.Value {
	return venvObserved("other", pkgs, nil, append([]func(map[string]cty.Value){func(o map[string]cty.Value) {
		o["plain_venv"] = cty.True
		o["python_version"] = cty.StringVal("3.11.2")
	}}, mods...)...)
}

func TestPythonVenvPlainVenvNoOpOrAdopt(t *testing.T) {
	body := func(verify []string, pkgs ...string) cty.Value {
		return venvBodyWith(map[string]cty.Value{"path": cty.StringVal("/opt/venv"), "packages": strListVal(pkgs), "verify": strListVal(verify)})
	}
	cases := []struct {
		name    string
		desired cty.Value
		obs     cty.Value
		action  Action
		fields  string
	}{
		{"satisfies exact pins: no-op without state", body(nil, "fastsafetensors==0.1.10"), plainVenvObs(map[string]string{"fastsafetensors": "0.1.10", "numpy": "2.0"}), NoOp, ""},
		{"satisfies a range", body(nil, "numpy>=1.26,<3", "fastsafetensors~=0.1.0"), plainVenvObs(map[string]string{"fastsafetensors": "0.1.10", "numpy": "2.0.1"}), NoOp, ""},
		{"other version: adopt and rebuild", body(nil, "fastsafetensors==0.3.2"), plainVenvObs(map[string]string{"fastsafetensors": "0.1.10"}), Update, `path packages["fastsafetensors"]`},
		{"missing package: adopt", body(nil, "numpy"), plainVenvObs(nil), Update, `path packages["numpy"]`},
		{"verify import fails: adopt", body([]string{"fastsafetensors"}, "fastsafetensors==0.1.10"), plainVenvObs(map[string]string{"fastsafetensors": "0.1.10"}, func(o map[string]cty.Value) {
			o["verify_errors"] = stringMapVal(map[string]string{"fastsafetensors": "ImportError: x"})
		}), Update, `path verify["fastsafetensors"]`},
		{"broken plain venv: adopt", body(nil, "x==1"), plainVenvObs(nil, func(o map[string]cty.Value) { o["broken"] = cty.StringVal("boom") }), Update, "path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := PythonVenv{}.Diff(Instance{Type: "python_venv", Name: "venv", Desired: c.desired}, c.obs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range d.Fields {
				got = append(got, f.Path)
			}
			if d.Action != c.action || strings.Join(got, " ") != c.fields {
				t.Fatalf("action %s fields %v, want %s %q (%+v)", d.Action, got, c.action, c.fields, d)
			}
			if c.action == Update && !strings.Contains(d.Summary, "adopt the plain venv") {
				t.Errorf("summary %q", d.Summary)
			}
		})
	}
	// A directory that is not a venv is still refused.
	notVenv := venvObserved("other", nil, nil)
	if _, err := (PythonVenv{}).Diff(Instance{Type: "python_venv", Name: "v", Desired: body(nil, "x==1")}, notVenv); err == nil || !strings.Contains(err.Error(), "not a venv sparkform manages") {
		t.Fatalf("a plain directory must be refused, got %v", err)
	}
}

func TestVersionSatisfies(t *testing.T) {
	cases := []struct {
		v, spec string
		want    bool
	}{
		{"0.1.10", "", true}, {"0.1.10", "==0.1.10", true}, {"0.1.10", "==0.1.1", false}, {"1.0", "==1.0.0", true},
		{"2.0.1", ">=1.26,<3", true}, {"3.0", ">=1.26,<3", false}, {"1.4.5", "~=1.4.2", true}, {"1.5", "~=1.4.2", false},
		{"0.3.2", "==0.3.*", true}, {"0.4", "==0.3.*", false}, {"0.4", "!=0.3.*", true}, {"1.0rc1", ">=0.1", false},
		{"1.0rc1", "===1.0rc1", true}, {"2.0", "!=2.0", false}, {"2.0", ">2.0", false}, {"2.0", "<=2.0", true},
	}
	for _, c := range cases {
		if got := versionSatisfies(c.v, c.spec); got != c.want {
			t.Errorf("versionSatisfies(%q, %q) = %v, want %v", c.v, c.spec, got, c.want)
		}
	}
}

// shHost runs scripts with the local sh (as root in CI); only Run is used by the venv's apply.
type shHost struct{ provider.Host }

func (shHost) Run(ctx context.Context, script string) (provider.Result, error) {
	cmd := exec.CommandContext(ctx, "sh", "-s")
	cmd.Stdin = strings.NewReader(script)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code, err = ee.ExitCode(), nil
	}
	return provider.Result{Stdout: []byte(out.String()), Stderr: []byte(errb.String()), ExitCode: code}, err
}
func (h shHost) RunStream(ctx context.Context, script string, _ func(string, string)) (provider.Result, error) {
	return h.Run(ctx, script)
}
func (shHost) WriteFile(context.Context, string, []byte, fs.FileMode, string) error { return nil }

// The adoption step on a real plain venv: the directory becomes generation 0 behind a link,
// and its python still runs through the link; destroy puts it back.
func TestPythonVenvAdoptsPlainVenvLocally(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	root := t.TempDir()
	p := filepath.Join(root, "venv")
	if out, err := exec.Command("python3", "-m", "venv", "--without-pip", p).CombinedOutput(); err != nil {
		t.Skipf("python3 -m venv: %v %s", err, out)
	}
	in := Instance{Type: "python_venv", Name: "venv", Desired: venvBodyWith(map[string]cty.Value{"path": cty.StringVal(p), "packages": strListVal(nil), "verify": strListVal([]string{"json"})})}
	obs, err := PythonVenv{}.Read(in, runProbe(t, PythonVenv{}.Probe(in)))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := (PythonVenv{}).Diff(in, obs); err != nil || d.Action != NoOp {
		t.Fatalf("a plain venv that has everything: %+v %v", d, err)
	}
	if err := (PythonVenv{}).adopt(context.Background(), shHost{}, in, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is not a link after adoption: %v", p, err)
	}
	if target, _ := os.Readlink(p); target != "venv.sparkform-gens/0" {
		t.Fatalf("link target %q", target)
	}
	if out, err := exec.Command(p+"/bin/python", "-c", "import sys; print(sys.prefix)").CombinedOutput(); err != nil {
		t.Fatalf("the adopted venv's python does not run through the link: %v %s", err, out)
	}
	in.Prior = Prior{Attributes: venvAttributes(in.Desired, nil, "0")}
	in.Desired = cty.NullVal(cty.DynamicPseudoType)
	if _, err := (PythonVenv{}).destroy(context.Background(), shHost{}, in); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
		t.Fatalf("destroy must put the adopted venv back at %s: %v", p, err)
	}
	if _, err := os.Stat(VenvGensDir(p)); !os.IsNotExist(err) {
		t.Fatalf("generations dir left: %v", err)
	}
}
