package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// writeDir creates a configuration directory holding files (name → content).
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, files map[string]string, vars Vars) *Config {
	t.Helper()
	cfg, diags := Load(writeDir(t, files), vars)
	if diags.HasErrors() {
		var buf bytes.Buffer
		WriteDiagnostics(&buf, diags, cfg.Files, false)
		t.Fatalf("Load failed:\n%s", buf.String())
	}
	return cfg
}

// lineCol is the 1-based position of the first occurrence of needle in src.
func lineCol(t *testing.T, src, needle string) (int, int) {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 {
		t.Fatalf("%q not in source", needle)
	}
	line := strings.Count(src[:i], "\n") + 1
	return line, i - strings.LastIndex(src[:i], "\n")
}

// wantDiag asserts that diags holds an error whose summary or detail contains want, placed in
// file at the position of the first occurrence of at in src.
func wantDiag(t *testing.T, diags hcl.Diagnostics, want, file, src, at string) *hcl.Diagnostic {
	t.Helper()
	line, col := lineCol(t, src, at)
	for _, d := range diags {
		if d.Severity != hcl.DiagError || !strings.Contains(d.Summary+" "+d.Detail, want) {
			continue
		}
		if d.Subject == nil {
			t.Fatalf("diagnostic %q has no subject", d.Summary)
		}
		if filepath.Base(d.Subject.Filename) != file || d.Subject.Start.Line != line || d.Subject.Start.Column != col {
			t.Fatalf("diagnostic %q at %s:%d:%d, want %s:%d:%d", d.Summary, d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, file, line, col)
		}
		return d
	}
	t.Fatalf("no error containing %q in:\n%s", want, diagList(diags))
	return nil
}

func diagList(diags hcl.Diagnostics) string {
	var sb strings.Builder
	for _, d := range diags {
		sb.WriteString(d.Error() + "\n")
	}
	return sb.String()
}

const exampleHCL = `
variable "swappiness" {
  type        = number
  default     = 10
  description = "vm.swappiness"
}

locals { ra = 8192 }

host "spark-01" {
  address         = "127.0.0.101"
  port            = 2222
  user            = "root"
  identity_file   = "keys/id_ed25519"
  known_hosts     = "/etc/ssh/known"
  host_key_policy = "accept-new"
  sudo            = true
  labels          = { rack = "a" }
  connect_timeout = "10s"
}

host "spark-02" {
  address = "spark-02.lan"
  labels  = { rack = "b" }
}

testres "loading" {
  value = "swappiness=${var.swappiness}"
  tags  = { host = host.spark-01.address }
  hosts = ["spark-01"]
}

testother "nvme" {
  n          = local.ra
  depends_on = [testres.loading]
}
`

func TestLoadDecodesHostsResourcesAndDefaults(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": exampleHCL}, Vars{})
	if len(cfg.Hosts) != 2 || cfg.Hosts[0].Name != "spark-01" || cfg.Hosts[1].Name != "spark-02" {
		t.Fatalf("hosts = %+v", cfg.Hosts)
	}
	h := cfg.Hosts[0]
	want := Host{
		Name: "spark-01", Address: "127.0.0.101", Port: 2222, User: "root",
		IdentityFile: filepath.Join(absDir(t, cfg.Dir), "keys/id_ed25519"), KnownHosts: "/etc/ssh/known",
		HostKeyPolicy: "accept-new", Sudo: true, Labels: map[string]string{"rack": "a"}, ConnectTimeout: "10s",
		DeclRange: h.DeclRange,
	}
	if !reflect.DeepEqual(*h, want) {
		t.Errorf("host = %+v\nwant %+v", *h, want)
	}
	if h2 := cfg.Host("spark-02"); h2.Port != 0 || h2.User != "" || h2.HostKeyPolicy != "strict" {
		t.Errorf("unset port/user must stay zero and policy default to strict: %+v", h2)
	}
	if len(cfg.Resources) != 2 {
		t.Fatalf("resources = %+v", cfg.Resources)
	}
	r := cfg.Resources[0]
	if r.Addr() != "testres.loading" || r.Body.GetAttr("value").AsString() != "swappiness=10" ||
		r.Body.GetAttr("tags").Index(cty.StringVal("host")).AsString() != "127.0.0.101" {
		t.Errorf("testres = %s %#v", r.Addr(), r.Body)
	}
	if !reflect.DeepEqual(r.Hosts, []string{"spark-01"}) {
		t.Errorf("hosts meta-argument: %v", r.Hosts)
	}
	o := cfg.Resources[1]
	if n, _ := o.Body.GetAttr("n").AsBigFloat().Int64(); n != 8192 {
		t.Errorf("local.ra: n = %d", n)
	}
	if !reflect.DeepEqual(o.Hosts, []string{"spark-01", "spark-02"}) {
		t.Errorf("no selector must select every host: %v", o.Hosts)
	}
	if !reflect.DeepEqual(o.DependsOn, []string{"testres.loading"}) {
		t.Errorf("depends_on = %v", o.DependsOn)
	}
	if cfg.Variables["swappiness"].AsBigFloat().String() != "10" {
		t.Errorf("variables = %v", cfg.Variables)
	}
	if len(cfg.Hash) != 64 {
		t.Errorf("hash = %q", cfg.Hash)
	}
}

func absDir(t *testing.T, dir string) string {
	t.Helper()
	a, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestHomeDirIsExpandedInPaths(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	cfg := mustLoad(t, map[string]string{"main.hcl": `host "a" {
  address       = "10.0.0.1"
  identity_file = "~/.ssh/id_ed25519"
}`}, Vars{})
	if got := cfg.Hosts[0].IdentityFile; got != filepath.Join(home, ".ssh/id_ed25519") {
		t.Errorf("identity_file = %q", got)
	}
}

func TestOnlyHCLFilesAreConfigurationAndTheyLoadInNameOrder(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"b.hcl":          `testres "second" { value = "2" }`,
		"a.hcl":          `testres "first" { value = "1" }` + "\n" + `host "h" { address = "h" }`,
		"vars.sfvars":    `this is not HCL config {{{`,
		"notes.txt":      `neither`,
		".hidden.hcl":    `broken {{{`,
		"README.hcl.bak": `broken {{{`,
	}, Vars{})
	var addrs []string
	for _, r := range cfg.Resources {
		addrs = append(addrs, r.Addr())
	}
	if !reflect.DeepEqual(addrs, []string{"testres.first", "testres.second"}) {
		t.Errorf("resources = %v", addrs)
	}
}

const precedenceHCL = `variable "x" {
  type    = string
  default = "default"
}
variable "n" {
  type    = list(number)
  default = []
}
`

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	f1 := filepath.Join(dir, "one.sfvars")
	f2 := filepath.Join(dir, "two.sfvars")
	os.WriteFile(f1, []byte(`x = "file1"`), 0o644)
	os.WriteFile(f2, []byte(`x = "file2"`), 0o644)
	// n's environment value doesn't parse, but every case overrides it with -var: like
	// Terraform, only the winning value is parsed.
	env := map[string]string{"x": "env", "n": "[1"}
	tests := []struct {
		name string
		vars Vars
		want string
	}{
		{"default alone", Vars{}, "default"},
		{"environment beats default", Vars{Env: env}, "env"},
		{"var file beats environment", Vars{Env: env, Files: []string{f1}}, "file1"},
		{"later var file beats earlier", Vars{Env: env, Files: []string{f1, f2}}, "file2"},
		{"var flag beats var files", Vars{Env: env, Files: []string{f1, f2}, Flags: []string{"x=flag"}}, "flag"},
		{"later var flag beats earlier", Vars{Flags: []string{"x=flag1", "x=flag2"}}, "flag2"},
		{"flag value may contain =", Vars{Flags: []string{"x=a=b"}}, "a=b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.vars.Flags = append(tt.vars.Flags, "n=[2]")
			cfg := mustLoad(t, map[string]string{"main.hcl": precedenceHCL}, tt.vars)
			if got := cfg.Variables["x"].AsString(); got != tt.want {
				t.Errorf("x = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVariableRawValuesParseByTypeConstraint(t *testing.T) {
	src := `
variable "n" { type = number }
variable "flag" { type = bool }
variable "zones" { type = list(string) }
variable "any" {}
variable "obj" {
  type    = object({ a = string, b = optional(number, 7) })
  default = { a = "x" }
}
`
	cfg := mustLoad(t, map[string]string{"main.hcl": src}, Vars{
		Env:   map[string]string{"n": "42", "zones": `["env"]`, "unrelated": "ignored"},
		Flags: []string{"flag=true", `zones=["a", "b"]`, "any=[1]"},
	})
	v := cfg.Variables
	if v["n"].AsBigFloat().String() != "42" || !v["flag"].True() {
		t.Errorf("primitives: n=%#v flag=%#v", v["n"], v["flag"])
	}
	if !v["zones"].RawEquals(cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})) {
		t.Errorf("complex type from -var must parse as HCL: %#v", v["zones"])
	}
	if !v["any"].RawEquals(cty.StringVal("[1]")) {
		t.Errorf("untyped variable takes the raw string, as Terraform: %#v", v["any"])
	}
	if b := v["obj"].GetAttr("b"); b.AsBigFloat().String() != "7" {
		t.Errorf("optional() default not applied: %#v", v["obj"])
	}
}

func TestVariableErrors(t *testing.T) {
	dir := t.TempDir()
	varFile := filepath.Join(dir, "bad.sfvars")
	varFileSrc := "x = 1\nnope = 2\n"
	os.WriteFile(varFile, []byte(varFileSrc), 0o644)
	typed := "variable \"x\" {\n  type = number\n}\n"
	tests := []struct {
		name, src string
		vars      Vars
		want      string
		file, in  string // expected subject file and source it is in
		at        string
	}{
		{"conversion failure names the variable", typed, Vars{Flags: []string{"x=ten"}},
			"var.x", "<value for var.x>", "ten", "ten"},
		{"conversion failure from environment names the variable", typed, Vars{Env: map[string]string{"x": "ten"}},
			"var.x set from the environment", "<value for var.x from SPARKFORM_VAR_x>", "ten", "ten"},
		{"required variable missing points at its block", typed, Vars{},
			"No value for required variable", "main.hcl", typed, `variable "x"`},
		{"default of wrong type", "variable \"x\" {\n  type    = number\n  default = \"ten\"\n}\n", Vars{},
			"not compatible with the variable's type", "main.hcl", "variable \"x\" {\n  type    = number\n  default = \"ten\"\n}\n", `"ten"`},
		{"undeclared variable in a var file", typed, Vars{Files: []string{varFile}},
			"undeclared variable", "bad.sfvars", varFileSrc, "nope"},
		{"validation rule failing shows its message", `variable "x" {
  type = number
  validation {
    condition     = var.x < 100
    error_message = "x must stay under 100."
  }
}
`, Vars{Flags: []string{"x=200"}}, "x must stay under 100.", "<value for var.x>", "200", "200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load(writeDir(t, map[string]string{"main.hcl": tt.src}), tt.vars)
			wantDiag(t, diags, tt.want, tt.file, tt.in, tt.at)
		})
	}
}

func TestJSONVarFileAndDuplicateHostsInSelection(t *testing.T) {
	dir := t.TempDir()
	jf := filepath.Join(dir, "vars.sfvars.json")
	os.WriteFile(jf, []byte(`{"targets": ["b", "a", "b"]}`), 0o644)
	cfg := mustLoad(t, map[string]string{"main.hcl": `
variable "targets" { type = list(string) }
host "a" { address = "a" }
host "b" { address = "b" }
host "c" { address = "c" }
testres "r" {
  value = "1"
  hosts = var.targets
}
`}, Vars{Files: []string{jf}})
	if got := cfg.Resources[0].Hosts; !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("hosts = %v", got)
	}
}

func TestUndeclaredVariableFromFlagIsAnErrorFromEnvironmentIgnored(t *testing.T) {
	files := map[string]string{"main.hcl": `host "a" { address = "a" }`}
	_, diags := Load(writeDir(t, files), Vars{Flags: []string{"ghost=1"}})
	if !diags.HasErrors() || !strings.Contains(diagList(diags), `"ghost"`) {
		t.Errorf("undeclared -var must be an error naming it: %s", diagList(diags))
	}
	_, diags = Load(writeDir(t, files), Vars{Env: map[string]string{"ghost": "1"}})
	if diags.HasErrors() {
		t.Errorf("undeclared SPARKFORM_VAR_ must be ignored: %s", diagList(diags))
	}
}

func TestLocalsEvaluateInDependencyOrderAcrossFiles(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"a.hcl": `locals {
  a = local.b + 1
  s = format("%s-%d", upper(var.p), local.a)
}
testres "r" { value = local.s }`,
		"b.hcl": `variable "p" { default = "x" }
locals { b = local.c * 2 }
locals { c = length(var.p) + 1 }`,
	}, Vars{})
	if got := cfg.Resources[0].Body.GetAttr("value").AsString(); got != "X-5" {
		t.Errorf("value = %q, want X-5", got)
	}
}

func TestCyclesAreErrorsAtTheClosingReference(t *testing.T) {
	tests := []struct{ name, src, want, at string }{
		{"locals", "locals {\n  a = local.b\n  b = local.a\n}\n", "local.a → local.b → local.a", "local.a\n"},
		{"local refers to itself", "locals {\n  a = local.a\n}\n", "local.a → local.a", "local.a\n"},
		{"resources", "testres \"a\" { value = testres.b.value }\ntestres \"b\" { value = testres.a.value }\n",
			"testres.a → testres.b → testres.a", "testres.a.value"},
		{"depends_on", "testres \"a\" {\n  value = \"1\"\n  depends_on = [testres.a]\n}\n", "testres.a → testres.a", "testres.a]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load(writeDir(t, map[string]string{"main.hcl": tt.src}), Vars{})
			d := wantDiag(t, diags, tt.want, "main.hcl", tt.src, tt.at)
			if d.Summary != "Dependency cycle" {
				t.Errorf("summary = %q", d.Summary)
			}
		})
	}
}

func TestHostAndResourceReferences(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": `
host "spark-01" {
  address = "10.0.0.1"
  port    = 22
  labels  = { rack = "a" }
}
host "spark.02" { address = "10.0.0.2" }
testother "b" {
  from = "${testres.a.value}/${host.spark-01.name}:${host.spark-01.port}/${host["spark.02"].address}/${host.spark-01.labels.rack}"
}
testres "a" { value = "v${coalesce(host.spark-01.user, "none")}" }
`}, Vars{})
	b := cfg.Resources[0]
	if got := b.Body.GetAttr("from").AsString(); got != "vnone/spark-01:22/10.0.0.2/a" {
		t.Errorf("from = %q", got)
	}
	if !reflect.DeepEqual(b.DependsOn, []string{"testres.a"}) {
		t.Errorf("a reference to another resource must be a dependency: %v", b.DependsOn)
	}
}

func TestExportedAttributesAreVisibleToOtherBlocksButNotInTheBody(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": `
host "h" { address = "10.0.0.1" }
testexport "llama" { value = "/opt/llama" }
testres "smoke" { value = "${testexport.llama.bin_dir}/llama-server" }
`}, Vars{})
	var smoke, llama *Resource
	for _, r := range cfg.Resources {
		switch r.Addr() {
		case "testres.smoke":
			smoke = r
		case "testexport.llama":
			llama = r
		}
	}
	if got := smoke.Body.GetAttr("value").AsString(); got != "/opt/llama/current/bin/llama-server" {
		t.Errorf("value = %q", got)
	}
	if llama.Body.Type().HasAttribute("bin_dir") {
		t.Error("exports must not be stored in the exporting block's own body")
	}
}

func TestDynamicBlocksExpand(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": `
locals { ports = [22, 80] }
testother "o" {
  rule { port = 1 }
  dynamic "rule" {
    for_each = local.ports
    content { port = rule.value }
  }
}
`}, Vars{})
	var ports []string
	for _, r := range cfg.Resources[0].Body.GetAttr("rule").AsValueSlice() {
		ports = append(ports, r.GetAttr("port").AsBigFloat().String())
	}
	if strings.Join(ports, ",") != "1,22,80" {
		t.Errorf("ports = %v", ports)
	}
}

func TestLabelsSelectHostsHavingAllOfThem(t *testing.T) {
	cfg, diags := Load(writeDir(t, map[string]string{"main.hcl": `
host "a1" { 
  address = "a1"
  labels = { rack = "a", gpu = "gb10" }
}
host "a2" {
  address = "a2"
  labels = { rack = "a" }
}
host "b1" {
  address = "b1"
  labels = { rack = "b", gpu = "gb10" }
}
testres "rack_a" {
  value  = "1"
  labels = { rack = "a" }
}
testres "rack_a_gpu" {
  value  = "1"
  labels = { rack = "a", gpu = "gb10" }
}
testres "none" {
  value  = "1"
  labels = { rack = "z" }
}
`}), Vars{})
	if diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	got := map[string][]string{}
	for _, r := range cfg.Resources {
		got[r.Name] = r.Hosts
	}
	want := map[string][]string{"rack_a": {"a1", "a2"}, "rack_a_gpu": {"a1"}, "none": nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("selection = %v, want %v", got, want)
	}
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "testres.none") {
		t.Errorf("a resource selecting no host must warn once: %s", diagList(diags))
	}
}

// TestBadInputIsAnErrorAtItsPosition: each case's error must point at the first occurrence
// of `at` in its source.
func TestNoHostsGivesOneWarning(t *testing.T) {
	_, diags := Load(writeDir(t, map[string]string{"main.hcl": "testres \"a\" { value = \"1\" }\ntestres \"b\" { value = \"1\" }\n"}), Vars{})
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "testres.a, testres.b") {
		t.Errorf("diags = %s", diagList(diags))
	}
}

func TestMissingHostIsReportedEvenWhenValidateFails(t *testing.T) {
	src := "host \"h\" { address = \"h\" }\ntestres \"r\" {\n  value = \"a;b\"\n  hosts = [\"nope\"]\n}\n"
	_, diags := Load(writeDir(t, map[string]string{"main.hcl": src}), Vars{})
	wantDiag(t, diags, "must not contain ;", "main.hcl", src, `"a;b"`)
	wantDiag(t, diags, `"nope", which is not declared`, "main.hcl", src, `"nope"`)
}

func TestBadInputIsAnErrorAtItsPosition(t *testing.T) {
	host := "host \"h1\" {\n  address = \"10.0.0.1\"\n}\n"
	tests := []struct{ name, src, want, at string }{
		{"unknown block type lists the valid ones", "sysctll \"x\" {\n}\n", "Valid block types are: variable, locals, host", "sysctll"},
		{"top-level attribute", "x = 1\n", "only blocks", "x = 1"},
		{"rollout batch size that is not a count", "rollout {\n  batch_size = \"two\"\n}\n", "not a host count", `"two"`},
		{"rollout batch size zero", "rollout {\n  batch_size = 0\n}\n", "at least 1", "0\n"},
		{"rollout pause that is not a duration", "rollout {\n  pause = \"soon\"\n}\n", "duration", `"soon"`},
		{"second rollout block", "rollout {}\nrollout {\n  pause = \"1s\"\n}\n", "Only one rollout block", "rollout {\n  pause"},
		{"unknown attribute in resource", "testres \"r\" {\n  value = \"1\"\n  valeu = \"2\"\n}\n", `"valeu" is not expected`, "valeu"},
		{"unknown attribute in host", "host \"h\" {\n  address = \"a\"\n  adress = \"b\"\n}\n", `"adress" is not expected`, "adress"},
		{"missing required attribute", "testres \"r\" {\n  count = 1\n}\n", `"value" is required`, "{"},
		{"wrong type in resource", "testres \"r\" {\n  value = \"1\"\n  count = \"many\"\n}\n", "a number is required", `"many"`},
		{"wrong type in host", "host \"h\" {\n  address = \"a\"\n  sudo = \"maybe\"\n}\n", "sudo", `"maybe"`},
		{"duplicate host names the first", host + "host \"h1\" {\n  address = \"10.0.0.2\"\n}\n", "main.hcl:1:6. Names must be unique", "\"h1\" {\n  address = \"10.0.0.2\""},
		{"duplicate resource names the first", "testres \"r\" { value = \"1\" }\ntestres \"r\" { value = \"2\" }\n", "main.hcl:1:9. Names must be unique", "\"r\" { value = \"2\""},
		{"duplicate local", "locals { a = 1 }\nlocals { a = 2 }\n", "already declared", "a = 2"},
		{"duplicate variable", "variable \"v\" { default = 1 }\nvariable \"v\" { default = 2 }\n", "already declared", "\"v\" { default = 2"},
		{"hosts names a missing host", host + "testres \"r\" {\n  value = \"1\"\n  hosts = [\"h1\", \"h9\"]\n}\n", `"h9", which is not declared`, `"h9"`},
		{"hosts and labels both set", host + "testres \"r\" {\n  value  = \"1\"\n  hosts  = [\"h1\"]\n  labels = { rack = \"a\" }\n}\n", "not both", "labels ="},
		{"resource Validate error is placed on the attribute", "testres \"r\" {\n  value = \"10; touch /tmp/pwned\"\n}\n", "must not contain ;", `"10; touch`},
		{"invalid host name", "host \"-bad\" {\n  address = \"a\"\n}\n", "Invalid host name", `"-bad"`},
		{"address with shell characters", "host \"h\" {\n  address = \"a;reboot\"\n}\n", "neither an IP address nor a host name", `"a;reboot"`},
		{"address starting with a dash", "host \"h\" {\n  address = \"-oProxyCommand=x\"\n}\n", "neither an IP", `"-oProxy`},
		{"null address", "host \"h\" {\n  address = null\n}\n", "must not be null", "null"},
		{"address with a space", "host \"h\" {\n  address = \"a b\"\n}\n", "neither an IP", `"a b"`},
		{"port out of range", "host \"h\" {\n  address = \"a\"\n  port = 70000\n}\n", "1 to 65535", "70000"},
		{"port zero", "host \"h\" {\n  address = \"a\"\n  port = 0\n}\n", "1 to 65535", "0\n"},
		{"bad user", "host \"h\" {\n  address = \"a\"\n  user = \"Root;x\"\n}\n", "not a valid login name", `"Root;x"`},
		{"user too long", "host \"h\" {\n  address = \"a\"\n  user = \"" + strings.Repeat("u", 33) + "\"\n}\n", "not a valid login name", `"uuu`},
		{"bad host_key_policy", "host \"h\" {\n  address = \"a\"\n  host_key_policy = \"yolo\"\n}\n", "accept-new", `"yolo"`},
		{"bad label key", "host \"h\" {\n  address = \"a\"\n  labels = { \"a b\" = \"x\" }\n}\n", "label key", "{ \"a b\""},
		{"bad label value", "host \"h\" {\n  address = \"a\"\n  labels = { rack = \"x\\ny\" }\n}\n", "value", "{ rack"},
		{"bad connect_timeout", "host \"h\" {\n  address = \"a\"\n  connect_timeout = \"soon\"\n}\n", "is not a duration", `"soon"`},
		{"bad max_output", "host \"h\" {\n  address = \"a\"\n  max_output = \"lots\"\n}\n", "is not a size", `"lots"`},
		{"max_output out of range", "host \"h\" {\n  address = \"a\"\n  max_output = \"2GiB\"\n}\n", "2GiB is out of range: from 64KiB to 1GiB", `"2GiB"`},
		{"undeclared local", "testres \"r\" { value = local.nope }\n", "no local value named \"nope\"", "local.nope"},
		{"undeclared variable reference", "testres \"r\" { value = var.nope }\n", "no input variable named \"nope\"", "var.nope"},
		{"undeclared host reference", "testres \"r\" { value = host.nope.address }\n", "no host named \"nope\"", "host.nope"},
		{"undeclared resource reference", "testres \"r\" { value = testother.nope.from }\n", "no resource named \"nope\"", "testother.nope"},
		{"unknown reference root", "testres \"r\" { value = foo.bar }\n", "nothing named \"foo\"", "foo.bar"},
		{"unknown host attribute", host + "testres \"r\" { value = host.h1.nope }\n", "Unsupported attribute", ".nope"},
		{"depends_on to a missing resource", "testres \"r\" {\n  value = \"1\"\n  depends_on = [testres.gone]\n}\n", "no resource named \"gone\"", "testres.gone"},
		{"depends_on to a non-resource", "locals { a = 1 }\ntestres \"r\" {\n  value = \"1\"\n  depends_on = [local.a]\n}\n", "Invalid depends_on", "local.a]"},
		{"unknown function", "testres \"r\" { value = nosuch(1) }\n", "nosuch", "nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := Load(writeDir(t, map[string]string{"main.hcl": tt.src}), Vars{})
			wantDiag(t, diags, tt.want, "main.hcl", tt.src, tt.at)
			if cfg.Hosts != nil || cfg.Resources != nil || cfg.Hash != "" {
				t.Errorf("a failed Load must not return a half-loaded config: %+v", cfg)
			}
			if cfg.Files[filepath.Join(cfg.Dir, "main.hcl")] == nil {
				t.Errorf("a failed Load must still return the files for diagnostics")
			}
		})
	}
}

func TestSyntaxErrorKeepsFilesForSnippets(t *testing.T) {
	src := "host \"h\" {\n  address = \n}\n"
	cfg, diags := Load(writeDir(t, map[string]string{"main.hcl": src}), Vars{})
	if !diags.HasErrors() {
		t.Fatal("want a syntax error")
	}
	var buf bytes.Buffer
	WriteDiagnostics(&buf, diags, cfg.Files, false)
	if !strings.Contains(buf.String(), "main.hcl:2:13: Invalid expression") || !strings.Contains(buf.String(), "   2:   address =") {
		t.Errorf("diagnostic text:\n%s", buf.String())
	}
}

func TestEmptyDirectoryIsAnError(t *testing.T) {
	_, diags := Load(t.TempDir(), Vars{})
	if !diags.HasErrors() || diags[0].Summary != "No configuration files" {
		t.Errorf("diags = %s", diagList(diags))
	}
	// A directory above the configurations (examples/) names them.
	top := writeDir(t, map[string]string{"readme.txt": "x"})
	os.Mkdir(filepath.Join(top, "fleet"), 0o755)
	os.WriteFile(filepath.Join(top, "fleet", "main.hcl"), []byte(""), 0o644)
	os.Mkdir(filepath.Join(top, "empty"), 0o755)
	_, diags = Load(top, Vars{})
	if want := fmt.Sprintf("These directories in it do: %q.", filepath.Join(top, "fleet")); !diags.HasErrors() || !strings.HasSuffix(diags[0].Detail, want) {
		t.Errorf("diags = %s, want the detail to end %q", diagList(diags), want)
	}
	_, diags = Load(filepath.Join(t.TempDir(), "missing"), Vars{})
	if !diags.HasErrors() {
		t.Error("a missing directory must be an error")
	}
}

func TestDiagnosticTextHasPositionAndSnippet(t *testing.T) {
	src := "testres \"r\" {\n  value = \"1\"\n  count = \"many\"\n}\n"
	cfg, diags := Load(writeDir(t, map[string]string{"main.hcl": src}), Vars{})
	var buf bytes.Buffer
	WriteDiagnostics(&buf, diags, cfg.Files, false)
	out := buf.String()
	for _, want := range []string{
		filepath.Join(cfg.Dir, "main.hcl") + ":3:11: Incorrect attribute value type",
		`   3:   count = "many"`,
		"a number is required",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if diags[0].Summary != "Incorrect attribute value type" {
		t.Errorf("WriteDiagnostics must not change the caller's diagnostics: %q", diags[0].Summary)
	}
}

func TestFunctions(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": `
locals {
  m = merge({ a = 1 }, { b = 2 })
}
testres "r" {
  value = join(",", [
    tostring(length("héllo")),
    tostring(length(local.m)),
    replace("a-b-c", "/-+/", "_"),
    replace("a.b", ".", "+"),
    tostring(can(local.m.zzz)),
    try(local.m.zzz, "fallback"),
    jsonencode(keys(local.m)),
    lower(format("%s%d", "X", max(1, 5, 3))),
    tostring(contains(split(" ", "a b"), "b")),
    regex("[0-9]+", "abc123"),
    tostring(startswith("spark-01", "spark")),
    tonumber("7") == 7 ? "conv" : "noconv",
  ])
}
`}, Vars{})
	want := `5,2,a_b_c,a+b,false,fallback,["a","b"],x5,true,123,true,conv`
	if got := cfg.Resources[0].Body.GetAttr("value").AsString(); got != want {
		t.Errorf("value = %s\nwant    %s", got, want)
	}
}

func TestFileFunctionIsRootedAtConfigDir(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"main.hcl": `testres "r" { value = trimspace(file("motd.txt")) }`,
		"motd.txt": "hello\n",
	})
	t.Chdir(t.TempDir())
	cfg, diags := Load(dir, Vars{})
	if diags.HasErrors() {
		t.Fatal(diagList(diags))
	}
	if got := cfg.Resources[0].Body.GetAttr("value").AsString(); got != "hello" {
		t.Errorf("value = %q", got)
	}
}

func TestHashIgnoresLayoutButFollowsValues(t *testing.T) {
	base := map[string]string{"main.hcl": `
host "h" { address = "10.0.0.1" }
testres "r" {
  value = "a"
  count = 1
}
testother "o" { n = 2 }
`}
	reformatted := map[string]string{
		"1.hcl": "# moved, commented and re-laid out\ntestother \"o\" {\n    n = 1 + 1\n}\n",
		"2.hcl": "testres \"r\" {\n  count = 1 // same\n  value = \"${\"a\"}\"\n}\n\nhost \"h\" {\n  address = \"10.0.0.1\"\n}\n",
	}
	changed := map[string]string{"main.hcl": strings.Replace(base["main.hcl"], "count = 1", "count = 2", 1)}
	h1 := mustLoad(t, base, Vars{}).Hash
	if h1 != mustLoad(t, base, Vars{}).Hash {
		t.Error("hash is not deterministic")
	}
	if h2 := mustLoad(t, reformatted, Vars{}).Hash; h2 != h1 {
		t.Error("hash changed under reformatting, comments and file layout")
	}
	if h3 := mustLoad(t, changed, Vars{}).Hash; h3 == h1 {
		t.Error("hash did not change with a value")
	}
	varied := map[string]string{"main.hcl": `variable "c" { default = 1 }` + strings.Replace(base["main.hcl"], "count = 1", "count = var.c", 1)}
	if mustLoad(t, varied, Vars{}).Hash != h1 || mustLoad(t, varied, Vars{Flags: []string{"c=3"}}).Hash == h1 {
		t.Error("hash must follow evaluated values, not variables' sources")
	}
}

func TestEnvVars(t *testing.T) {
	got := EnvVars([]string{"PATH=/bin", "SPARKFORM_VAR_a=1", "SPARKFORM_VAR_b=x=y", "SPARKFORM_VAR_=z", "sparkform_var_c=no"})
	want := map[string]string{"a": "1", "b": "x=y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvVars = %v, want %v", got, want)
	}
}

func TestParseVarFlag(t *testing.T) {
	tests := []struct {
		in, name, value string
		ok              bool
	}{
		{"a=1", "a", "1", true},
		{"a=", "a", "", true},
		{`list=["x","y"]`, "list", `["x","y"]`, true},
		{"a", "", "", false},
		{"=1", "", "", false},
		{"1a=1", "", "", false},
	}
	for _, tt := range tests {
		n, v, err := ParseVarFlag(tt.in)
		if (err == nil) != tt.ok || n != tt.name || v != tt.value {
			t.Errorf("ParseVarFlag(%q) = %q, %q, %v", tt.in, n, v, err)
		}
	}
}

func TestRolloutBlockReadsCountsPercentagesAndVariables(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": `
variable "batch" { default = "25%" }
host "h" { address = "10.0.0.1" }
rollout {
  batch_size   = var.batch
  max_failures = 0
  pause        = "30s"
}
`}, Vars{})
	r := cfg.Rollout
	if r == nil || r.BatchSize != (Amount{N: 25, Percent: true}) || r.MaxFailures == nil || r.MaxFailures.N != 0 || r.Pause != 30*time.Second {
		t.Fatalf("rollout = %+v", r)
	}
	if got := r.BatchSize.Of(3, true); got != 1 {
		t.Errorf("25%% of 3 hosts = %d, want 1 (rounded up)", got)
	}
	if got := (Amount{N: 10, Percent: true}).Of(15, false); got != 1 {
		t.Errorf("10%% of 15 failures allowed = %d, want 1 (rounded down)", got)
	}
	if cfg2 := mustLoad(t, map[string]string{"main.hcl": "host \"h\" { address = \"a\" }\n"}, Vars{}); cfg2.Rollout != nil {
		t.Error("no rollout block must leave Rollout nil")
	}
}

func TestCheckHostBoundsMaxOutputLikeTheHostBlock(t *testing.T) {
	h := &Host{Name: "h", Address: "127.0.0.1", HostKeyPolicy: HostKeyStrict}
	for n, ok := range map[int64]bool{0: true, 64 << 10: true, 1 << 30: true, 1: false, 2 << 30: false, -1: false} {
		h.MaxOutput = n
		if err := CheckHost(h); (err == nil) != ok {
			t.Errorf("max_output %d: %v", n, err)
		}
	}
}
