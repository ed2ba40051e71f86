package resources

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/zclconf/go-cty/cty"
)

func venvBody(p string, pkgs ...string) cty.Value {
	return venvBodyWith(map[string]cty.Value{"path": cty.StringVal(p), "packages": strListVal(pkgs)})
}

func strListVal(l []string) cty.Value {
	if len(l) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	return stringListVal(l)
}

// venvBodyWith is a full body: attributes not given are null, as the decoder leaves them.
func venvBodyWith(set map[string]cty.Value) cty.Value {
	b := map[string]cty.Value{
		"path": cty.StringVal("/opt/sparkform/vllm"), "python": cty.NullVal(cty.String),
		"packages": cty.ListVal([]cty.Value{cty.StringVal("fastsafetensors==0.3.2")}), "find_links": cty.NullVal(cty.List(cty.String)),
		"index_url": cty.NullVal(cty.String), "verify": cty.NullVal(cty.List(cty.String)),
	}
	for k, v := range set {
		b[k] = v
	}
	return cty.ObjectVal(b)
}

func TestPythonVenvValidateRejectsHostileInput(t *testing.T) {
	s := cty.StringVal
	l := func(v ...string) cty.Value { return strListVal(v) }
	l1 := func(v string) cty.Value { return l(v) }
	checkValidationTable(t, func(set map[string]cty.Value) []AttrError { return pythonVenv{}.Validate(venvBodyWith(set)) }, []validationCase{
		{"pinned package passes", nil, ""},
		{"range, extras and wheelhouse pass", map[string]cty.Value{"packages": l("vllm[fastsafetensors]>=0.10,<1", "numpy ~= 1.26", "Foo_Bar.baz"), "find_links": l("/srv/wheels", "https://wheels.example/simple/"), "index_url": s("https://pypi.org/simple"), "verify": l("fastsafetensors", "vllm.model_executor"), "python": s("python3.12")}, ""},
		{"python as absolute path passes", map[string]cty.Value{"python": s("/usr/bin/python3")}, ""},
		{"option smuggled in a package", map[string]cty.Value{"packages": l("--index-url=http://evil/ fastsafetensors")}, "packages"},
		{"option alone", map[string]cty.Value{"packages": l("-e")}, "packages"},
		{"url requirement", map[string]cty.Value{"packages": l("fastsafetensors @ https://evil.example/f.whl")}, "packages"},
		{"marker", map[string]cty.Value{"packages": l("fastsafetensors==0.3.2; python_version>'3'")}, "packages"},
		{"two packages in one string", map[string]cty.Value{"packages": l("fastsafetensors numpy")}, "packages"},
		{"file path as package", map[string]cty.Value{"packages": l("/tmp/x.whl")}, "packages"},
		{"requirement file option", map[string]cty.Value{"packages": l("-r/etc/shadow")}, "packages"},
		{"same distribution twice", map[string]cty.Value{"packages": l("fastsafetensors==0.3.2", "FastSafeTensors==0.1.10")}, "packages"},
		{"null packages", map[string]cty.Value{"packages": cty.NullVal(cty.List(cty.String))}, "packages"},
		{"python as option", map[string]cty.Value{"python": s("-c")}, "python"},
		{"find_links relative", map[string]cty.Value{"find_links": l("wheels")}, "find_links"},
		{"find_links with quote", map[string]cty.Value{"find_links": l("/srv/w'heels")}, "find_links"},
		{"find_links file url", map[string]cty.Value{"find_links": l("file:///srv/wheels")}, "find_links"},
		{"index_url not http", map[string]cty.Value{"index_url": s("ftp://pypi.example/simple")}, "index_url"},
		{"index_url option", map[string]cty.Value{"index_url": s("--trusted-host=evil")}, "index_url"},
		{"verify code", map[string]cty.Value{"verify": l("os; os.system('reboot')")}, "verify"},
		{"verify dash", map[string]cty.Value{"verify": l("fast-safetensors")}, "verify"},
	}, managedPathCases("path"),
		shellPayloadCases("packages", "fastsafetensors==0.3.2", l1), shellPayloadCases("python", "python3", s),
		shellPayloadCases("find_links", "/srv/wheels", l1), shellPayloadCases("index_url", "https://pypi.org/simple", s),
		shellPayloadCases("verify", "fastsafetensors", l1))
}

func TestParsePkgSpecNormalizesNamesAndFindsExactPins(t *testing.T) {
	cases := []struct{ in, name, spec, exact string }{
		{"fastsafetensors==0.3.2", "fastsafetensors", "==0.3.2", "0.3.2"},
		{"Fast_Safe.Tensors == 0.3.2", "fast-safe-tensors", "==0.3.2", "0.3.2"},
		{"numpy>=1.26,<2", "numpy", ">=1.26,<2", ""},
		{"torch==2.*", "torch", "==2.*", ""},
		{"vllm[fastsafetensors]", "vllm", "", ""},
		{"pip", "pip", "", ""},
	}
	for _, c := range cases {
		p, ok := parsePkgSpec(c.in)
		if !ok || p.Name != c.name || p.Spec != c.spec || p.Exact != c.exact {
			t.Errorf("parsePkgSpec(%q) = %+v, %v; want name %q spec %q exact %q", c.in, p, ok, c.name, c.spec, c.exact)
		}
	}
}

func TestPythonVenvExportsPathAndInterpreter(t *testing.T) {
	ex := pythonVenv{}.Exports(venvBody("/opt/sparkform/vllm"))
	if ex["path"].AsString() != "/opt/sparkform/vllm" || ex["python"].AsString() != "/opt/sparkform/vllm/bin/python" {
		t.Fatalf("exports = %v", ex)
	}
}

// venvReportLine is what the venv's interpreter prints for the probe.
func venvReportLine(python string, dists, verify map[string]string) string {
	b, _ := json.Marshal(map[string]any{"python": python, "dists": dists, "verify": verify, "verify_errors": map[string]string{}})
	return base64.StdEncoding.EncodeToString(b)
}

func TestPythonVenvReadParsesProbeOutput(t *testing.T) {
	man := `{"managed_by":"sparkform","python":"python3","packages":["fastsafetensors==0.3.2"]}`
	out := strings.Join([]string{
		"kind link " + base64.StdEncoding.EncodeToString([]byte("vllm.sparkform-gens/2\n")),
		"gen 2", "gen 1", "gen junk", "gen 10", "gen -5", "gen +7", "gen 9223372036854775807",
		"base /usr/bin/python3",
		"basevenv",
		"venv " + venvReportLine("3.12.3", map[string]string{"FastSafeTensors": "0.3.2", "pip": "24.0"}, map[string]string{"fastsafetensors": "0.3.2"}),
		strings.TrimSuffix(fileOut("manifest", man), "\n"),
	}, "\n")
	in := Instance{Type: "python_venv", Name: "vllm", Desired: venvBody("/opt/sparkform/vllm", "fastsafetensors==0.3.2")}
	obs, err := pythonVenv{}.Read(in, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if got := obs.GetAttr("target").AsString(); got != "vllm.sparkform-gens/2" {
		t.Errorf("target = %q", got)
	}
	if got := stringList(obs.GetAttr("generations")); fmt.Sprint(got) != "[1 2 10]" {
		t.Errorf("generations = %v, want numeric order without junk, signs or numbers whose successor overflows", got)
	}
	if got := stringMap(obs.GetAttr("packages")); got["fastsafetensors"] != "0.3.2" || got["pip"] != "24.0" {
		t.Errorf("packages = %v (names must be normalized)", got)
	}
	if obs.GetAttr("python_version").AsString() != "3.12.3" || obs.GetAttr("base_venv").False() || obs.GetAttr("manifest").AsString() != man {
		t.Errorf("observed = %#v", obs)
	}
	d, err := pythonVenv{}.Diff(Instance{Type: in.Type, Name: in.Name, Desired: in.Desired, Prior: Prior{Attributes: in.Desired}}, obs)
	if err != nil || d.Action != NoOp {
		t.Fatalf("diff = %+v, %v; want no-op", d, err)
	}
}

func TestPythonVenvReadFlagsGarbageFromTheInterpreterAsBroken(t *testing.T) {
	in := Instance{Type: "python_venv", Name: "vllm", Desired: venvBody("/opt/sparkform/vllm", "fastsafetensors==0.3.2")}
	obs, err := pythonVenv{}.Read(in, []byte("kind link eA==\nvenv not-base64!\nnofile manifest\n"))
	if err != nil {
		t.Fatal(err)
	}
	if obs.GetAttr("broken").AsString() == "" {
		t.Fatal("a venv whose report cannot be read must be marked broken")
	}
	if _, err := (pythonVenv{}).Read(in, []byte("nofile manifest\n")); err == nil {
		t.Fatal("output without the path report must be an error")
	}
}

// venvObserved builds an observed value for Diff tests.
func venvObserved(kind string, pkgs map[string]string, manifestPkgs []string, mods ...func(map[string]cty.Value)) cty.Value {
	o := map[string]cty.Value{
		"kind": cty.StringVal(kind), "target": cty.StringVal(""), "generations": cty.ListValEmpty(cty.String),
		"python_version": cty.StringVal(""), "packages": stringMapVal(pkgs), "verify": cty.MapValEmpty(cty.String),
		"verify_errors": cty.MapValEmpty(cty.String), "broken": cty.StringVal(""), "manifest": cty.NullVal(cty.String),
		"base_python": cty.StringVal("/usr/bin/python3"), "base_venv": cty.True,
	}
	if kind == "link" {
		o["target"] = cty.StringVal("vllm.sparkform-gens/1")
		o["generations"] = stringListVal([]string{"1"})
		o["python_version"] = cty.StringVal("3.12.3")
		b, _ := json.Marshal(venvManifest{ManagedBy: "sparkform", Python: "python3", Packages: manifestPkgs})
		o["manifest"] = cty.StringVal(string(b))
	}
	for _, m := range mods {
		m(o)
	}
	return cty.ObjectVal(o)
}

func TestPythonVenvDiff(t *testing.T) {
	desired := venvBody("/opt/sparkform/vllm", "fastsafetensors==0.3.2", "numpy>=1.26")
	applied := venvAttributes(desired, map[string]string{"fastsafetensors": "0.3.2", "numpy": "1.26.4"}, "1")
	built := []string{"fastsafetensors==0.3.2", "numpy>=1.26"}
	cases := []struct {
		name    string
		prior   Prior
		obs     cty.Value
		desired cty.Value
		action  Action
		fields  []string // "path before->after"
		errHas  string
	}{
		{name: "missing venv is a create", obs: venvObserved("absent", nil, nil), desired: desired, action: Create,
			fields: []string{"path ->/opt/sparkform/vllm", `packages["fastsafetensors"] ->0.3.2`, `packages["numpy"] ->>=1.26`}},
		{name: "matching venv is a no-op", prior: Prior{Attributes: applied}, desired: desired, action: NoOp,
			obs: venvObserved("link", map[string]string{"fastsafetensors": "0.3.2", "numpy": "1.26.4"}, built)},
		{name: "matching venv without state is adopted", desired: desired, action: Update,
			obs: venvObserved("link", map[string]string{"fastsafetensors": "0.3.2", "numpy": "1.26.4"}, built)},
		{name: "new pin shows per package", prior: Prior{Attributes: applied}, action: Update,
			desired: venvBody("/opt/sparkform/vllm", "fastsafetensors==0.1.10", "numpy>=1.26"),
			obs:     venvObserved("link", map[string]string{"fastsafetensors": "0.3.2", "numpy": "1.26.4"}, built),
			fields:  []string{`packages["fastsafetensors"] 0.3.2->0.1.10`}},
		{name: "version changed by hand is drift", prior: Prior{Attributes: applied}, desired: desired, action: Update,
			obs:    venvObserved("link", map[string]string{"fastsafetensors": "0.1.10", "numpy": "1.26.4"}, built),
			fields: []string{`packages["fastsafetensors"] 0.1.10->0.3.2 drift`}},
		{name: "new range rebuilds", prior: Prior{Attributes: applied}, action: Update,
			desired: venvBody("/opt/sparkform/vllm", "fastsafetensors==0.3.2", "numpy>=2"),
			obs:     venvObserved("link", map[string]string{"fastsafetensors": "0.3.2", "numpy": "1.26.4"}, built),
			fields:  []string{`packages["numpy"] 1.26.4->>=2`}},
		{name: "dropped package is removed", prior: Prior{Attributes: applied}, action: Update,
			desired: venvBody("/opt/sparkform/vllm", "fastsafetensors==0.3.2"),
			obs:     venvObserved("link", map[string]string{"fastsafetensors": "0.3.2", "numpy": "1.26.4"}, built),
			fields:  []string{`packages["numpy"] 1.26.4->(null)`}},
		{name: "other interpreter rebuilds", prior: Prior{Attributes: applied}, action: Update,
			desired: venvBodyWith(map[string]cty.Value{"packages": stringListVal(built), "python": cty.StringVal("python3.12")}),
			obs:     venvObserved("link", map[string]string{"fastsafetensors": "0.3.2", "numpy": "1.26.4"}, built),
			fields:  []string{"python python3 (3.12.3)->python3.12"}},
		{name: "broken venv rebuilds", prior: Prior{Attributes: applied}, desired: desired, action: Update,
			obs: venvObserved("link", nil, built, func(o map[string]cty.Value) {
				o["broken"] = cty.StringVal("error while loading shared libraries")
				o["python_version"] = cty.StringVal("")
			}),
			fields: []string{"path /opt/sparkform/vllm (broken: error while loading shared libraries)->/opt/sparkform/vllm drift",
				`packages["fastsafetensors"] ->0.3.2`, `packages["numpy"] ->>=1.26`}},
		{name: "failing verify import rebuilds", prior: Prior{Attributes: applied}, action: Update,
			desired: venvBodyWith(map[string]cty.Value{"packages": stringListVal(built), "verify": stringListVal([]string{"fastsafetensors"})}),
			obs: venvObserved("link", map[string]string{"fastsafetensors": "0.3.2", "numpy": "1.26.4"}, built, func(o map[string]cty.Value) {
				o["verify_errors"] = stringMapVal(map[string]string{"fastsafetensors": "ImportError: libcudart.so"})
			}),
			fields: []string{`verify["fastsafetensors"] import fails: ImportError: libcudart.so->imports drift`}},
		{name: "a directory sparkform did not make is refused", desired: desired, obs: venvObserved("other", nil, nil), errHas: "not a venv sparkform manages"},
		{name: "no interpreter on the host", desired: desired, obs: venvObserved("absent", nil, nil, func(o map[string]cty.Value) { o["base_python"] = cty.StringVal("") }),
			errHas: "python3 not found on this host"},
		{name: "no venv module on the host", desired: desired, obs: venvObserved("absent", nil, nil, func(o map[string]cty.Value) { o["base_venv"] = cty.False }),
			errHas: "apt install python3-venv"},
		{name: "destroy of what sparkform built", prior: Prior{Attributes: applied}, desired: cty.NullVal(cty.DynamicPseudoType), action: Delete,
			obs: venvObserved("link", nil, built), fields: []string{"path /opt/sparkform/vllm->(null)", "generations /opt/sparkform/vllm.sparkform-gens (1)->(null)"}},
		{name: "destroy of nothing", desired: cty.NullVal(cty.DynamicPseudoType), obs: venvObserved("absent", nil, nil), action: NoOp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := pythonVenv{}.Diff(Instance{Type: "python_venv", Name: "vllm", Desired: c.desired, Prior: c.prior}, c.obs)
			checkDiff(t, d, err, c.errHas, c.action, "", c.fields)
		})
	}
}

func TestPythonVenvProbeRunsInLocalShell(t *testing.T) {
	dir := t.TempDir()
	// A path that does not exist yet: the probe must still exit 0 and report it absent.
	in := Instance{Type: "python_venv", Name: "x", Desired: venvBodyWith(map[string]cty.Value{"path": cty.StringVal(dir + "/venv"), "verify": stringListVal([]string{"json"})})}
	obs, err := pythonVenv{}.Read(in, providertest.MustRun(t, pythonVenv{}.Probe(in)))
	if err != nil {
		t.Fatal(err)
	}
	if obs.GetAttr("kind").AsString() != "absent" || !obs.GetAttr("manifest").IsNull() {
		t.Fatalf("observed = %#v", obs)
	}
	destroy := Instance{Type: "python_venv", Name: "x", Desired: cty.NullVal(cty.DynamicPseudoType), Prior: Prior{Attributes: in.Desired}}
	if _, err := (pythonVenv{}).Read(destroy, providertest.MustRun(t, pythonVenv{}.Probe(destroy))); err != nil {
		t.Fatal(err)
	}
}

func TestVenvInspectReportsVersionsAndImportErrors(t *testing.T) {
	out := providertest.MustRun(t, "python3 -I -c "+shQuoteTest(venvInspect)+" json sparkform_no_such_module 2>/dev/null || echo nopython")
	line := strings.TrimSpace(string(out))
	if line == "nopython" {
		t.Skip("no python3 here")
	}
	r, err := parseVenvReport(line)
	if err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	if _, ok := r.Verify["json"]; !ok || !strings.Contains(r.VerifyErrors["sparkform_no_such_module"], "ModuleNotFoundError") {
		t.Fatalf("report = %+v", r)
	}
}

func shQuoteTest(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

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
	blocks, notes, err := pythonVenv{}.Capture(opts, []byte(out))
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
		if errs := (pythonVenv{}).Validate(cty.ObjectVal(obj)); len(errs) > 0 {
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
			d, err := pythonVenv{}.Diff(Instance{Type: "python_venv", Name: "venv", Desired: c.desired}, c.obs)
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
	if _, err := (pythonVenv{}).Diff(Instance{Type: "python_venv", Name: "v", Desired: body(nil, "x==1")}, notVenv); err == nil || !strings.Contains(err.Error(), "not a venv sparkform manages") {
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

// The adoption step on a real plain venv: the directory becomes generation 0 behind a link,
// and its python still runs through the link; destroy puts it back.
func TestPythonVenvAdoptsPlainVenvLocally(t *testing.T) {
	needProgram(t, "python3")
	root := t.TempDir()
	p := filepath.Join(root, "venv")
	if out, err := exec.Command("python3", "-m", "venv", "--without-pip", p).CombinedOutput(); err != nil {
		t.Skipf("python3 -m venv: %v %s", err, out)
	}
	in := Instance{Type: "python_venv", Name: "venv", Desired: venvBodyWith(map[string]cty.Value{"path": cty.StringVal(p), "packages": strListVal(nil), "verify": strListVal([]string{"json"})})}
	obs, err := pythonVenv{}.Read(in, providertest.MustRun(t, pythonVenv{}.Probe(in)))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := (pythonVenv{}).Diff(in, obs); err != nil || d.Action != NoOp {
		t.Fatalf("a plain venv that has everything: %+v %v", d, err)
	}
	if err := (pythonVenv{}).adopt(context.Background(), providertest.NewLocal(t), in, func(string) {}); err != nil {
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
	if _, err := (pythonVenv{}).destroy(context.Background(), providertest.NewLocal(t), in); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
		t.Fatalf("destroy must put the adopted venv back at %s: %v", p, err)
	}
	if _, err := os.Stat(venvGensDir(p)); !os.IsNotExist(err) {
		t.Fatalf("generations dir left: %v", err)
	}
}
