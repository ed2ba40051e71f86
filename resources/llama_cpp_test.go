package resources

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/zclconf/go-cty/cty"
)

// llamaBodyWith is a full body: attributes not given are null, as the decoder leaves them.
func llamaBodyWith(set map[string]cty.Value) cty.Value {
	b := map[string]cty.Value{
		"source": cty.StringVal("https://github.com/ggml-org/llama.cpp.git"), "ref": cty.StringVal("b6800"),
		"dir":         cty.StringVal("/opt/sparkform/llama.cpp"),
		"cmake_flags": cty.MapVal(map[string]cty.Value{"GGML_CUDA": cty.StringVal("ON"), "CMAKE_CUDA_ARCHITECTURES": cty.StringVal("121a-real")}),
		"targets":     cty.NullVal(cty.List(cty.String)), "jobs": cty.NullVal(cty.Number), "keep": cty.NullVal(cty.Number),
		"build_timeout": cty.NullVal(cty.String),
	}
	for k, v := range set {
		b[k] = v
	}
	return cty.ObjectVal(b)
}

func TestLlamaCppValidateRejectsHostileInput(t *testing.T) {
	s := cty.StringVal
	flags := func(k, v string) cty.Value { return cty.MapVal(map[string]cty.Value{k: s(v)}) }
	checkValidationTable(t, func(set map[string]cty.Value) []AttrError { return llamaCpp{}.Validate(llamaBodyWith(set)) }, []validationCase{
		{"playbook body passes", nil, ""},
		{"local repo, list value, options pass", map[string]cty.Value{"source": s("/srv/git/llama.cpp.git"), "cmake_flags": flags("CMAKE_CUDA_ARCHITECTURES", "120a-real;121a-real"),
			"targets": stringListVal([]string{"llama-server", "llama-cli"}), "jobs": cty.NumberIntVal(4), "keep": cty.NumberIntVal(2), "build_timeout": s("45m")}, ""},
		{"ssh and scp sources pass", map[string]cty.Value{"source": s("git@github.com:ggml-org/llama.cpp.git")}, ""},
		{"file url passes", map[string]cty.Value{"source": s("file:///srv/git/llama.cpp.git")}, ""},
		{"commit ref passes", map[string]cty.Value{"ref": s("19a5a3edfb2c5bd4a3e4b1f1d2c3b4a5968778a1")}, ""},
		{"spaced compiler flags pass", map[string]cty.Value{"cmake_flags": flags("CMAKE_C_FLAGS", "-O3 -mcpu=native")}, ""},
		{"ext transport source", map[string]cty.Value{"source": s("ext::sh -c reboot")}, "source"},
		{"option as source", map[string]cty.Value{"source": s("--upload-pack=reboot")}, "source"},
		{"http source", map[string]cty.Value{"source": s("http://github.com/x.git")}, "source"},
		{"shell in source", map[string]cty.Value{"source": s("https://github.com/x.git;reboot")}, "source"},
		{"relative source", map[string]cty.Value{"source": s("srv/git/llama.cpp.git")}, "source"},
		{"ref option", map[string]cty.Value{"ref": s("--upload-pack=reboot")}, "ref"},
		{"ref with dots", map[string]cty.Value{"ref": s("b6800..master")}, "ref"},
		{"ref with space", map[string]cty.Value{"ref": s("b6800 master")}, "ref"},
		{"lowercase flag", map[string]cty.Value{"cmake_flags": flags("ggml_cuda", "ON")}, "cmake_flags"},
		{"flag name injection", map[string]cty.Value{"cmake_flags": flags("GGML_CUDA=ON -DX", "1")}, "cmake_flags"},
		{"flag value with backquote", map[string]cty.Value{"cmake_flags": flags("GGML_CUDA", "`reboot`")}, "cmake_flags"},
		{"flag value with quote", map[string]cty.Value{"cmake_flags": flags("GGML_CUDA", "O'N")}, "cmake_flags"},
		{"target option", map[string]cty.Value{"targets": stringListVal([]string{"--clean-first"})}, "targets"},
		{"no targets", map[string]cty.Value{"targets": cty.ListValEmpty(cty.String)}, "targets"},
		{"negative jobs", map[string]cty.Value{"jobs": cty.NumberIntVal(-1)}, "jobs"},
		{"fractional jobs", map[string]cty.Value{"jobs": cty.NumberFloatVal(1.5)}, "jobs"},
		{"keep zero", map[string]cty.Value{"keep": cty.NumberIntVal(0)}, "keep"},
		{"bad timeout", map[string]cty.Value{"build_timeout": s("forever")}, "build_timeout"},
	}, managedPathCases("dir"),
		shellPayloadCases("source", "https://github.com/x.git", s), shellPayloadCases("ref", "b6800", s),
		shellPayloadCases("cmake_flags", "ON", func(v string) cty.Value { return flags("GGML_CUDA", v) }),
		shellPayloadCases("targets", "llama-server", func(v string) cty.Value { return stringListVal([]string{v}) }))
}

func TestLlamaCppExportsBinDirAndDir(t *testing.T) {
	ex := llamaCpp{}.Exports(llamaBodyWith(nil))
	if ex["bin_dir"].AsString() != "/opt/sparkform/llama.cpp/current/bin" || ex["dir"].AsString() != "/opt/sparkform/llama.cpp" {
		t.Fatalf("exports = %v", ex)
	}
}

const oldHelp = `----- common params -----

-h,    --help, --usage                    print usage and exit
--version                                show version and build info
-fa,   --flash-attn [on|off|auto]         set Flash Attention use
--mlock                                  force system to keep model in RAM rather than swapping
--no-mmap                                do not memory-map model (slower load but may reduce
                                         pageouts if not using mlock)
--no-warmup                              skip warming up; unlike -lm --direct-io it loads nothing
-m,    --model FNAME                      model path to load
`

const newHelp = `-lm,   --load-mode {auto,none,mmap,mlock,mmap+mlock,dio}
                                         how to load the model: auto avoids mmap on integrated GPUs
                                         (default: auto; --no-mmap was removed)
-dio,  --direct-io                        use direct I/O
-m,    --model FNAME                      model path to load
`

func TestLlamaSupportsReadsLoadFlagsFromHelp(t *testing.T) {
	if got := fmt.Sprint(llamaSupports(oldHelp)); got != "[--no-mmap --mlock]" {
		t.Errorf("old help: %s", got)
	}
	// A flag named only inside a description does not count.
	if got := fmt.Sprint(llamaSupports(newHelp)); got != "[--direct-io -dio -lm --load-mode]" {
		t.Errorf("new help: %s", got)
	}
	if got := llamaSupports("error: invalid argument: --help\n"); len(got) != 0 {
		t.Errorf("garbage help: %v", got)
	}
}

func llamaManifestJSON(ref string, flags map[string]string, targets ...string) string {
	if len(targets) == 0 {
		targets = []string{"llama-server"}
	}
	b, _ := json.Marshal(llamaManifest{ManagedBy: "sparkform", Ref: ref, Commit: strings.Repeat("a", 40), CMakeFlags: flags, Targets: targets, Built: "2026-01-01T00:00:00Z"})
	return string(b)
}

func TestLlamaCppReadParsesProbeOutput(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	man := llamaManifestJSON("b6800", map[string]string{"GGML_CUDA": "ON"})
	out := strings.Join([]string{
		"current " + b64("builds/0123456789ab\n"),
		"build 0123456789ab " + b64(man),
		"build ../../etc " + b64(man),
		"failedbuild fedcba987654",
		"src",
		"version " + b64("version: 6800 (19a5a3e)"),
		"help " + b64(oldHelp),
		"nvcccuda /usr/local/cuda/bin/nvcc",
		"nvccversion 13.0",
		"notool cmake",
	}, "\n")
	in := Instance{Type: "llama_cpp", Name: "cuda", Desired: llamaBodyWith(nil)}
	obs, err := llamaCpp{}.Read(in, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if obs.GetAttr("current").AsString() != "0123456789ab" || len(stringMap(obs.GetAttr("builds"))) != 1 ||
		stringMap(obs.GetAttr("builds"))["0123456789ab"] != man || fmt.Sprint(stringList(obs.GetAttr("failed_builds"))) != "[fedcba987654]" {
		t.Errorf("builds: %#v", obs)
	}
	if obs.GetAttr("version").AsString() != "version: 6800 (19a5a3e)" || fmt.Sprint(stringList(obs.GetAttr("supports"))) != "[--no-mmap --mlock]" {
		t.Errorf("version/supports: %#v", obs)
	}
	if obs.GetAttr("nvcc").AsString() != "/usr/local/cuda/bin/nvcc" || obs.GetAttr("nvcc_on_path").True() || obs.GetAttr("nvcc_version").AsString() != "13.0" {
		t.Errorf("nvcc: %#v", obs)
	}
	if fmt.Sprint(stringList(obs.GetAttr("missing_tools"))) != "[cmake]" || obs.GetAttr("src").False() {
		t.Errorf("tools/src: %#v", obs)
	}
	if _, err := (llamaCpp{}).Read(in, nil); err == nil {
		t.Error("empty probe output must be an error")
	}
}

func llamaObserved(current string, builds map[string]string, mods ...func(map[string]cty.Value)) cty.Value {
	o := map[string]cty.Value{
		"current": cty.StringVal(current), "builds": stringMapVal(builds), "failed_builds": cty.ListValEmpty(cty.String),
		"src": cty.BoolVal(len(builds) > 0), "version": cty.StringVal(""), "supports": cty.ListValEmpty(cty.String),
		"nvcc": cty.StringVal("/usr/local/cuda/bin/nvcc"), "nvcc_on_path": cty.False, "nvcc_version": cty.StringVal("13.0"),
		"missing_tools": cty.ListValEmpty(cty.String),
	}
	if current != "" {
		o["version"] = cty.StringVal("version: 6800 (19a5a3e)")
	}
	for _, m := range mods {
		m(o)
	}
	return cty.ObjectVal(o)
}

func TestLlamaCppDiff(t *testing.T) {
	cuda := map[string]string{"GGML_CUDA": "ON", "CMAKE_CUDA_ARCHITECTURES": "121a-real"}
	old := llamaManifestJSON("b6800", cuda)
	newer := llamaManifestJSON("b10900", cuda)
	applied := Prior{Attributes: llamaBodyWith(nil)}
	body := func(ref string, flags map[string]string) cty.Value {
		f := map[string]cty.Value{}
		for k, v := range flags {
			f[k] = cty.StringVal(v)
		}
		fv := cty.MapValEmpty(cty.String)
		if len(f) > 0 {
			fv = cty.MapVal(f)
		}
		return llamaBodyWith(map[string]cty.Value{"ref": cty.StringVal(ref), "cmake_flags": fv})
	}
	cases := []struct {
		name    string
		prior   Prior
		desired cty.Value
		obs     cty.Value
		action  Action
		summary string
		fields  []string
		errHas  string
	}{
		{name: "nothing built yet", desired: body("b6800", cuda), obs: llamaObserved("", nil), action: Create, summary: "build b6800 with cmake",
			fields: []string{"current (none)->/opt/sparkform/llama.cpp/current", "ref ->b6800"}},
		{name: "current build matches", prior: applied, desired: body("b6800", cuda), obs: llamaObserved("aaaaaaaaaaaa", map[string]string{"aaaaaaaaaaaa": old}), action: NoOp},
		{name: "new ref rebuilds", prior: applied, desired: body("b10900", cuda), obs: llamaObserved("aaaaaaaaaaaa", map[string]string{"aaaaaaaaaaaa": old}),
			action: Update, summary: "build b10900 with cmake", fields: []string{"ref b6800->b10900"}},
		{name: "back to an existing build switches", prior: applied, desired: body("b6800", cuda),
			obs:    llamaObserved("bbbbbbbbbbbb", map[string]string{"aaaaaaaaaaaa": old, "bbbbbbbbbbbb": newer}),
			action: Update, summary: "switch current to existing build builds/aaaaaaaaaaaa (b6800): no rebuild",
			fields: []string{"ref b10900->b6800", "current builds/bbbbbbbbbbbb->builds/aaaaaaaaaaaa"}},
		{name: "changed flag shows per key", prior: applied, desired: body("b6800", map[string]string{"GGML_CUDA": "ON", "CMAKE_CUDA_ARCHITECTURES": "bogus", "GGML_NATIVE": "OFF"}),
			obs: llamaObserved("aaaaaaaaaaaa", map[string]string{"aaaaaaaaaaaa": old}), action: Update, summary: "build b6800",
			fields: []string{`cmake_flags["CMAKE_CUDA_ARCHITECTURES"] 121a-real->bogus`, `cmake_flags["GGML_NATIVE"] ->OFF`}},
		{name: "build whose server stopped running is rebuilt", prior: applied, desired: body("b6800", cuda),
			obs:    llamaObserved("aaaaaaaaaaaa", map[string]string{"aaaaaaaaaaaa": old}, func(o map[string]cty.Value) { o["version"] = cty.StringVal("") }),
			action: Update, summary: "rebuild b6800", fields: []string{"version (llama-server does not run)->(rebuilt) drift"}},
		{name: "CUDA without nvcc is a plan error", desired: body("b6800", cuda),
			obs:    llamaObserved("", nil, func(o map[string]cty.Value) { o["nvcc"] = cty.StringVal("") }),
			errHas: "GGML_CUDA=ON needs nvcc; none in PATH or /usr/local/cuda/bin on this host: install the CUDA toolkit or set GGML_CUDA=OFF"},
		{name: "CPU build without nvcc is fine", desired: body("b6800", map[string]string{"GGML_CUDA": "OFF"}),
			obs: llamaObserved("", nil, func(o map[string]cty.Value) { o["nvcc"] = cty.StringVal("") }), action: Create, summary: "build b6800",
			fields: []string{"current (none)->/opt/sparkform/llama.cpp/current", "ref ->b6800"}},
		{name: "missing cmake is a plan error", desired: body("b6800", cuda),
			obs:    llamaObserved("", nil, func(o map[string]cty.Value) { o["missing_tools"] = stringListVal([]string{"cmake"}) }),
			errHas: "building needs cmake"},
		{name: "destroy names what goes", prior: applied, desired: cty.NullVal(cty.DynamicPseudoType),
			obs: llamaObserved("aaaaaaaaaaaa", map[string]string{"aaaaaaaaaaaa": old}), action: Delete, summary: "remove /opt/sparkform/llama.cpp/current",
			fields: []string{"current /opt/sparkform/llama.cpp/current -> builds/aaaaaaaaaaaa->(null)", "builds /opt/sparkform/llama.cpp/builds (1 build)->(null)", "src /opt/sparkform/llama.cpp/src->(null)"}},
		{name: "destroy of nothing", desired: cty.NullVal(cty.DynamicPseudoType), obs: llamaObserved("", nil), action: NoOp},
		{name: "destroy of a dir holding no build sparkform made", prior: applied, desired: cty.NullVal(cty.DynamicPseudoType),
			obs:    llamaObserved("", nil, func(o map[string]cty.Value) { o["src"] = cty.True; o["failed_builds"] = stringListVal([]string{"x"}) }),
			errHas: "not removing anything in /opt/sparkform/llama.cpp: it holds no build sparkform made (no /opt/sparkform/llama.cpp/builds/*/sparkform-manifest.json)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := llamaCpp{}.Diff(Instance{Type: "llama_cpp", Name: "cuda", Desired: c.desired, Prior: c.prior}, c.obs)
			checkDiff(t, d, err, c.errHas, c.action, c.summary, c.fields)
		})
	}
}

func TestLlamaBuildIDDependsOnEveryInput(t *testing.T) {
	base := llamaBuildID("b6800", "abc", map[string]string{"A": "1"}, []string{"llama-server"})
	for name, id := range map[string]string{
		"ref":     llamaBuildID("b6801", "abc", map[string]string{"A": "1"}, []string{"llama-server"}),
		"commit":  llamaBuildID("b6800", "abd", map[string]string{"A": "1"}, []string{"llama-server"}),
		"flags":   llamaBuildID("b6800", "abc", map[string]string{"A": "2"}, []string{"llama-server"}),
		"targets": llamaBuildID("b6800", "abc", map[string]string{"A": "1"}, []string{"llama-cli"}),
	} {
		if id == base || !llamaBuildIDRe.MatchString(id) {
			t.Errorf("changing the %s gives id %s (base %s)", name, id, base)
		}
	}
	if llamaBuildID("r", "c", nil, []string{"b", "a"}) != llamaBuildID("r", "c", nil, []string{"a", "b"}) {
		t.Error("target order must not matter")
	}
}

func TestLlamaCppProbeRunsInLocalShell(t *testing.T) {
	dir := t.TempDir()
	in := Instance{Type: "llama_cpp", Name: "x", Desired: llamaBodyWith(map[string]cty.Value{"dir": cty.StringVal(dir + "/llama")})}
	obs, err := llamaCpp{}.Read(in, providertest.MustRun(t, llamaCpp{}.Probe(in)))
	if err != nil {
		t.Fatal(err)
	}
	if obs.GetAttr("current").AsString() != "" || len(stringMap(obs.GetAttr("builds"))) != 0 {
		t.Fatalf("observed = %#v", obs)
	}
	// A fake build with a llama-server script: version and help are read through current.
	b := dir + "/llama/builds/0123456789ab"
	writeProgram(t, b+"/bin/llama-server", "#!/bin/sh\ncase $1 in --version) echo 'version: 6800 (19a5a3e)' >&2;; --help) cat <<'EOF'\n"+oldHelp+"EOF\n;; esac\n")
	os.WriteFile(b+"/"+llamaManifestFile, []byte(llamaManifestJSON("b6800", nil)), 0o644)
	if err := os.Symlink("builds/0123456789ab", dir+"/llama/current"); err != nil {
		t.Fatal(err)
	}
	obs, err = llamaCpp{}.Read(in, providertest.MustRun(t, llamaCpp{}.Probe(in)))
	if err != nil {
		t.Fatal(err)
	}
	if obs.GetAttr("current").AsString() != "0123456789ab" || obs.GetAttr("version").AsString() != "version: 6800 (19a5a3e)" ||
		fmt.Sprint(stringList(obs.GetAttr("supports"))) != "[--no-mmap --mlock]" {
		t.Fatalf("observed = %#v", obs)
	}
}

func TestParseCMakeCacheAndLlamaCapture(t *testing.T) {
	cache := "# /root/llama.cpp/build/CMakeCache.txt\nGGML_CUDA:BOOL=ON\nGGML_CUDA-ADVANCED:INTERNAL=1\nGGML_NATIVE:BOOL=OFF\nCMAKE_CUDA_ARCHITECTURES:STRING=120a-real;121a-real\nGGML_EMPTY:STRING=\nGGML_BAD:STRING=a$(b)\nGGML_VERSION:INTERNAL=1\n"
	flags, bad := parseCMakeCache(cache)
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
	blocks, notes, err := llamaCpp{}.Capture(opts, []byte(out))
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
		if errs := (llamaCpp{}).Validate(cty.ObjectVal(obj)); len(errs) > 0 {
			t.Errorf("%s does not validate: %v", b.Name, errs)
		}
	}
	if r := capturedAttr(blocks[0], "ref").AsString(); r != "b6800" || capturedAttr(blocks[0], "dir").AsString() != "/opt/sparkform/llama.cpp" {
		t.Errorf("managed build: %+v", blocks[0])
	}
	if r := capturedAttr(blocks[1], "ref").AsString(); r != "89abcdef0123456789abcdef0123456789abcdef" || !strings.Contains(blocks[1].Comment, "no tag points at HEAD") ||
		capturedAttr(blocks[1], "dir").AsString() != llamaCaptureDir || capturedAttr(blocks[1], "cmake_flags").LengthInt() != 3 || !strings.Contains(blocks[1].Comment, "GGML_BAD") {
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

// A state file can name any directory as a llama_cpp dir (`/home/alice/proj`); its destroy
// then removed that directory's src/ and builds/. Only a dir holding a build with sparkform's
// manifest is destroyed; another is left whole, with an error saying why and what to do.
func TestLlamaDestroyRemovesNothingFromADirSparkformDidNotMake(t *testing.T) {
	proj := filepath.Join(t.TempDir(), "proj")
	for _, d := range []string{"src/.git", "builds/release", "docs"} {
		if err := os.MkdirAll(filepath.Join(proj, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(proj, "builds", "release", "app"), []byte("the project's own build\n"), 0o644)
	in := Instance{Type: "llama_cpp", Name: "cuda", Desired: cty.NullVal(cty.DynamicPseudoType),
		Prior: Prior{Attributes: llamaBodyWith(map[string]cty.Value{"dir": cty.StringVal(proj)})}}
	_, err := llamaCpp{}.Apply(context.Background(), providertest.NewLocal(t), in, cty.NilVal, Diff{Action: Delete}, nil)
	if err == nil || !strings.Contains(err.Error(), "it holds no build sparkform made") || !strings.Contains(err.Error(), "sparkform state rm local/llama_cpp.cuda") {
		t.Errorf("destroy of a dir sparkform did not make: %v", err)
	}
	for _, p := range []string{"src/.git", "builds/release/app", "docs"} {
		if _, err := os.Stat(filepath.Join(proj, p)); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}

	// With one of sparkform's builds in it, the dir is sparkform's: src/, builds/ and current go.
	os.MkdirAll(filepath.Join(proj, "builds", "aaaaaaaaaaaa"), 0o755)
	os.WriteFile(filepath.Join(proj, "builds", "aaaaaaaaaaaa", llamaManifestFile), []byte("{}"), 0o644)
	os.Symlink("builds/aaaaaaaaaaaa", filepath.Join(proj, "current"))
	if _, err := (llamaCpp{}).Apply(context.Background(), providertest.NewLocal(t), in, cty.NilVal, Diff{Action: Delete}, nil); err != nil {
		t.Fatalf("destroy of sparkform's dir: %v", err)
	}
	for _, p := range []string{"src", "builds", "current"} {
		if _, err := os.Lstat(filepath.Join(proj, p)); err == nil {
			t.Errorf("%s is left after the destroy", p)
		}
	}
	if _, err := os.Stat(filepath.Join(proj, "docs")); err != nil {
		t.Errorf("docs, not sparkform's, was removed: %v", err)
	}
}

// A build's manifest is read back from the host and its commit and version go into state: one
// whose commit is not an object id or whose build time is negative is not sparkform's, and the
// version (what the built llama-server printed) is kept as bounded printable text.
func TestLlamaManifestFromTheHostIsCheckedBeforeItsCommitAndVersionAreKept(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	for _, doc := range []string{
		`{"managed_by":"sparkform","ref":"b1","commit":"HEAD\u001b[2J"}`,
		`{"managed_by":"sparkform","ref":"b1","commit":""}`,
		`{"managed_by":"sparkform","ref":"b1","commit":"` + commit + `","build_seconds":-5}`,
	} {
		if m, ok := parseLlamaManifest(doc); ok {
			t.Errorf("%s: accepted as %+v", doc, m)
		}
	}
	m, ok := parseLlamaManifest(`{"managed_by":"sparkform","ref":"b1","commit":"` + commit + `","version":"version: 6800 \u001b]0;x\u0007` + strings.Repeat("9", 200) + `"}`)
	if !ok || len(m.Version) > 80 || strings.ContainsAny(m.Version, "\x1b\x07") || !strings.HasPrefix(m.Version, "version: 6800") {
		t.Errorf("version kept as %q (ok %v)", m.Version, ok)
	}
}
