package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// Fuzz targets for every parser of what a host prints (probe framing, each resource's Read,
// capture) and of saved plans. Seed corpora are in testdata/fuzz/; `.ci/fuzz` runs each briefly.

const fuzzToken = "@@sparkform-0123456789abcdef01234567"

// FuzzSplitSections: any output either fails to split or yields exactly n sections; output
// framed by probeScript's markers around arbitrary bodies splits back into those bodies.
func FuzzSplitSections(f *testing.F) {
	f.Add([]byte(fuzzToken+" begin 0\nkernel 6.17\n\n"+fuzzToken+" end 0 0\n"), []byte("a\nb"), uint8(2))
	f.Add([]byte(fuzzToken+" begin 0\n"), []byte(""), uint8(1))
	f.Add([]byte(fuzzToken+" end 0 0\n"+fuzzToken+" begin 7\n"), []byte("\n\n"), uint8(0))
	f.Fuzz(func(t *testing.T, out, body []byte, n uint8) {
		k := int(n%8) + 1
		if secs, err := splitSections(out, fuzzToken, k); err == nil && len(secs) != k {
			t.Fatalf("%d sections, want %d", len(secs), k)
		}
		if bytes.Contains(body, []byte(fuzzToken)) {
			return // a probe cannot print the token: it is random per run
		}
		var framed bytes.Buffer
		for i := 0; i < k; i++ {
			framed.WriteString(fuzzToken + " begin " + itoa(i) + "\n")
			framed.Write(body)
			framed.WriteString("\n" + fuzzToken + " end " + itoa(i) + " " + itoa(int(n)) + "\n")
		}
		secs, err := splitSections(framed.Bytes(), fuzzToken, k)
		if err != nil {
			t.Fatalf("well-framed output refused: %v", err)
		}
		for i, s := range secs {
			if !bytes.Equal(s.stdout, body) || s.status != int(n) {
				t.Fatalf("section %d = %q (status %d), want %q (%d)", i, s.stdout, s.status, body, n)
			}
		}
	})
}

// FuzzParseFacts: the facts section (uname -r and the boot id, read before anything else) is
// refused or gives a boot id of the kernel's shape and a kernel release uname -r could print
// (it reaches plans, state, baselines and reports), which read back the same when printed as
// the facts probe prints them.
func FuzzParseFacts(f *testing.F) {
	f.Add([]byte("kernel 6.17.0-1014-nvidia\nboot_id 0b6f1c52-7d4e-4b8a-9a63-2f0e5a1d9c11\n"))
	f.Add([]byte("boot_id 0b6f1c52-7d4e-4b8a-9a63-2f0e5a1d9c11\nkernel  6.1 \x1b[2J\r\nkernel x\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		facts, err := parseFacts(section{stdout: out})
		if err != nil {
			return
		}
		if !bootIDRe.MatchString(facts.BootID) || len(facts.Kernel) == 0 || len(facts.Kernel) > 64 ||
			strings.ContainsFunc(facts.Kernel, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("accepted facts %+v", facts)
		}
		again, err := parseFacts(section{stdout: []byte("kernel " + facts.Kernel + "\nboot_id " + facts.BootID + "\n")})
		if err != nil || again != facts {
			t.Fatalf("%+v printed as the probe prints it reads back as %+v, %v", facts, again, err)
		}
	})
}

var (
	exampleOnce      sync.Once
	exampleInstances []resources.Instance
	exampleErr       error
)

// exampleInstancesForFuzz are the blocks of examples/spark-known-good (every resource type), as
// the engine would probe them.
func exampleInstancesForFuzz(t testing.TB) []resources.Instance {
	exampleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sparkform-fuzz-")
		if err != nil {
			exampleErr = err
			return
		}
		defer os.RemoveAll(dir)
		src, err := os.ReadFile("../../examples/spark-known-good/main.hcl")
		if err != nil {
			exampleErr = err
			return
		}
		os.WriteFile(filepath.Join(dir, "main.hcl"), src, 0o644)
		os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte("host \"h\" {\n  address = \"127.0.0.1\"\n}\n"), 0o644)
		cfg, diags := config.Load(dir, config.Vars{})
		if diags.HasErrors() {
			exampleErr = diags
			return
		}
		for _, r := range cfg.Resources {
			exampleInstances = append(exampleInstances, resources.Instance{Type: r.Type, Name: r.Name, Desired: r.Body})
		}
	})
	if exampleErr != nil {
		t.Fatalf("loading the example: %v", exampleErr)
	}
	return exampleInstances
}

// FuzzResourceRead: each resource type's Read of arbitrary probe output returns an error or an
// observed value that its Diff accepts without panicking, and which holds only values of the
// shape the type promises where a host's value goes on to a plan, state or a write
// (checkObserved).
func FuzzResourceRead(f *testing.F) {
	ins := exampleInstancesForFuzz(f)
	for i := range ins {
		f.Add(uint8(i), []byte(""))
	}
	f.Fuzz(func(t *testing.T, which uint8, out []byte) {
		in := ins[int(which)%len(ins)]
		r, _ := resources.Lookup(in.Type)
		obs, err := r.Read(in, out)
		if err != nil {
			return
		}
		if obs == cty.NilVal {
			t.Fatalf("%s: Read returned no value and no error", in.Addr())
		}
		if err := checkObserved(in.Type, obs); err != nil {
			t.Fatalf("%s: %v", in.Addr(), err)
		}
		if _, err := r.Diff(in, obs); err != nil {
			return
		}
	})
}

var (
	wholeKB      = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})$`)
	unameRelease = regexp.MustCompile(`^[!-~]{1,64}$`)
	// a venv's generations: plain numbers whose successor is one too
	venvGeneration = regexp.MustCompile(`^[0-9]{1,9}$`)
)

// checkObserved: read-ahead values (live and at boot) are whole numbers of KiB, a venv's
// generations plain numbers, the running kernel a release uname -r could print, the smoke
// test's fastsafetensors check one of the results fst-check prints with a bounded printable
// detail.
func checkObserved(typ string, obs cty.Value) error {
	str := func(v cty.Value) string {
		if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
			return ""
		}
		return v.AsString()
	}
	switch typ {
	case "readahead":
		for _, a := range []string{"live", "boot"} {
			m := obs.GetAttr(a)
			if m.IsNull() || m.LengthInt() == 0 {
				continue
			}
			for dev, v := range m.AsValueMap() {
				if !wholeKB.MatchString(str(v)) {
					return fmt.Errorf("%s read-ahead of %s is %#v", a, dev, v)
				}
			}
		}
	case "python_venv":
		for _, g := range obs.GetAttr("generations").AsValueSlice() {
			if !venvGeneration.MatchString(str(g)) {
				return fmt.Errorf("generation %#v", g)
			}
		}
	case "kernel":
		if r := str(obs.GetAttr("running")); !unameRelease.MatchString(r) {
			return fmt.Errorf("running kernel %q", r)
		}
	case "smoke_test":
		switch st := str(obs.GetAttr("fastsafetensors")); st {
		case "", "ok", "error", "novenv", "untrusted":
		default:
			return fmt.Errorf("fastsafetensors check %q", st)
		}
		if d := str(obs.GetAttr("detail")); len(d) > 300 || strings.ContainsFunc(d, func(r rune) bool { return r < ' ' || r >= 0x7f }) {
			return fmt.Errorf("fastsafetensors detail %q", d)
		}
	}
	return nil
}

// FuzzSavedPlan: a plan file is untrusted input; decoding and checking it never panics, and a
// plan that passes holds only bodies that pass their type's Validate.
func FuzzSavedPlan(f *testing.F) {
	f.Add([]byte(`{"format_version":1,"hosts":[{"name":"h","address":"127.0.0.1","connection":{"Name":"h","Address":"127.0.0.1","HostKeyPolicy":"strict"},"changes":[{"addr":"sysctl.x","type":"sysctl","name":"x","action":"create","desired":{"type":"object","value":{}}}]}]}`))
	f.Add([]byte(`{"format_version":1,"hosts":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Plan
		if json.Unmarshal(b, &p) != nil {
			return
		}
		if err := CheckSavedPlan(&p, state.New()); err != nil {
			return
		}
		for _, h := range p.Hosts {
			for _, c := range h.Changes {
				if c.Desired.Value == cty.NilVal || c.Desired.Value.IsNull() {
					continue
				}
				if _, err := checkBody(c.Type, c.Desired.Value); err != nil {
					t.Fatalf("accepted plan holds %s whose body fails: %v", c.Addr, err)
				}
			}
		}
	})
}

// FuzzCapture: whatever a host prints to capture's probes, the file capture renders parses,
// loads as a valid configuration beside a host block, and holds exactly the blocks capture meant
// (no host string can add one). Notes and comments are host text too.
func FuzzCapture(f *testing.F) {
	f.Add([]byte("sysctl vm.swappiness 10\n"), "note", "/opt/venv")
	f.Add([]byte(""), "a\nllama_cpp \"x\" {}\n", "/opt/${x}\n")
	f.Fuzz(func(t *testing.T, out []byte, note, venv string) {
		opts := resources.CaptureOptions{SysctlKeys: []string{"vm.swappiness", "net.core.rmem_max"}, Venvs: []string{"/opt/venv", venv}, LlamaDirs: []string{"/opt/llama.cpp"}}
		var blocks []resources.CapturedBlock
		notes := []string{note}
		for _, typ := range resources.Types() {
			r, _ := resources.Lookup(typ)
			c, ok := r.(resources.Capturer)
			if !ok {
				continue
			}
			bs, ns, err := c.Capture(opts, out)
			notes = append(notes, ns...)
			if err != nil {
				notes = append(notes, err.Error())
				continue
			}
			for _, b := range bs {
				if err := validateCaptured(r, b); err != nil {
					notes = append(notes, err.Error())
					continue
				}
				b.Comment += "\n" + note
				blocks = append(blocks, b)
			}
		}
		src, err := RenderCapture(venv, time.Unix(0, 0).UTC(), blocks, notes)
		if err != nil {
			t.Fatalf("validated blocks did not render: %v", err)
		}
		checkCaptureFile(t, src, blocks)
	})
}

// checkCaptureFile parses src independently of RenderCapture's own check and loads it with the
// configuration loader: the blocks (type.name) must be exactly want's, and the file must validate.
func checkCaptureFile(t *testing.T, src []byte, want []resources.CapturedBlock) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "captured.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("rendered capture does not parse: %v\n%s", diags, src)
	}
	var got, wantNames []string
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		got = append(got, b.Type+"."+strings.Join(b.Labels, "."))
	}
	for _, b := range want {
		wantNames = append(wantNames, b.Type+"."+b.Name)
	}
	if !sameSet(got, wantNames) {
		t.Fatalf("blocks %v, want %v\n%s", got, wantNames, src)
	}
	if len(want) == 0 {
		return
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "captured.hcl"), src, 0o644)
	os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte("host \"h\" {\n  address = \"127.0.0.1\"\n}\n"), 0o644)
	if _, diags := config.Load(dir, config.Vars{}); diags.HasErrors() {
		t.Fatalf("rendered capture does not validate: %v\n%s", diags, src)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestWriteFuzzSeeds regenerates the seed corpora from this machine's real probe output:
// SPARKFORM_WRITE_FUZZ_SEEDS=1 go test ./internal/engine -run TestWriteFuzzSeeds
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SPARKFORM_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set SPARKFORM_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz from this machine's probes")
	}
	write := func(target, name string, args ...any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case string:
				fmt.Fprintf(&b, "string(%q)\n", v)
			case uint8:
				fmt.Fprintf(&b, "uint8(%d)\n", v)
			}
		}
		dir := filepath.Join("testdata", "fuzz", target)
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, in := range exampleInstancesForFuzz(t) {
		r, _ := resources.Lookup(in.Type)
		out := providertest.MustRun(t, r.Probe(in))
		write("FuzzResourceRead", "local-"+in.Type, uint8(i), out)
		token := newToken()
		framed := providertest.MustRun(t, probeScript(token, []string{factsProbe, r.Probe(in)}))
		write("FuzzSplitSections", "local-"+in.Type, bytes.ReplaceAll(framed, []byte(token), []byte(fuzzToken)), out, uint8(0))
	}
	opts := resources.CaptureOptions{SysctlKeys: []string{"vm.swappiness", "net.core.rmem_max"}, Venvs: []string{"/opt/venv"}, LlamaDirs: []string{"/opt/llama.cpp"}}
	for _, typ := range resources.Types() {
		r, _ := resources.Lookup(typ)
		if c, ok := r.(resources.Capturer); ok {
			write("FuzzCapture", "local-"+typ, providertest.MustRun(t, c.CaptureProbe(opts)), "not captured: x\nllama_cpp \"evil\" {}", "/opt/venv")
		}
	}
}
