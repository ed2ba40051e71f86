package resources

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// LlamaCpp builds llama.cpp from source with CMake (a CUDA build for GB10) and keeps several
// builds side by side.
//
// Layout on the host, under dir:
//
//	<dir>/src/                     git clone of source; checked out at the commit being built
//	<dir>/builds/<id>/             one CMake build tree per (ref, commit, cmake_flags, targets);
//	                               binaries in <id>/bin, as llama.cpp's CMake puts them
//	<dir>/builds/<id>/sparkform-manifest.json   written after a successful build: ref, commit,
//	                               flags, targets, time (a build dir without it is a failed build)
//	<dir>/builds/<id>/sparkform-build.log       cmake's output (kept on failure)
//	<dir>/current -> builds/<id>   symlink switched atomically (ln -sfn + mv -T) after a build
//	                               succeeds, so <dir>/current/bin/llama-server always works
//
// Going back to a build that still exists only moves the link (no fetch, no cmake). The last
// `keep` builds are kept (current included, by last use); failed ones are removed by the next
// successful apply.
type LlamaCpp struct{}

func init() { Register(LlamaCpp{}) }

// llamaManifestFile is the file sparkform writes into each successful build.
const llamaManifestFile = "sparkform-manifest.json"

// llamaBuildLog is the build log kept in each build directory.
const llamaBuildLog = "sparkform-build.log"

// llamaLoadFlags are the model-loading flags whose presence in `llama-server --help` is
// reported (they changed in b10884: --no-mmap/--mmap/--mlock/--direct-io gave way to -lm/--load-mode).
var llamaLoadFlags = []string{"--mmap", "--no-mmap", "--mlock", "--direct-io", "-dio", "-lm", "--load-mode"}

var (
	cmakeFlagNameRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	// Words joined by single spaces or by ';' (CMake's list separator, e.g. "120a-real;121a-real");
	// values reach the shell quoted, and nothing a CMake value needs is a shell metacharacter besides ';'.
	cmakeFlagValueRe = regexp.MustCompile(`^[A-Za-z0-9._+,:=/@%-]+([ ;][A-Za-z0-9._+,:=/@%-]+)*$`)
	gitRefRe         = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	cmakeTargetRe    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]*$`)
	gitURLRe         = regexp.MustCompile(`^(https://|ssh://|file://)[A-Za-z0-9._~%/+@:=-]+$`)
	gitScpRe         = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/+-]+$`)
	llamaBuildIDRe   = regexp.MustCompile(`^[0-9a-f]{12}$`)
	helpOptionRe     = regexp.MustCompile(`^--?[A-Za-z][A-Za-z0-9-]*$`)
)

func (LlamaCpp) Type() string { return "llama_cpp" }

func (LlamaCpp) Spec() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"source":        &hcldec.AttrSpec{Name: "source", Type: cty.String, Required: true},
		"ref":           &hcldec.AttrSpec{Name: "ref", Type: cty.String, Required: true},
		"dir":           &hcldec.AttrSpec{Name: "dir", Type: cty.String, Required: true},
		"cmake_flags":   &hcldec.AttrSpec{Name: "cmake_flags", Type: cty.Map(cty.String)},
		"targets":       &hcldec.AttrSpec{Name: "targets", Type: cty.List(cty.String)},
		"jobs":          &hcldec.AttrSpec{Name: "jobs", Type: cty.Number},
		"keep":          &hcldec.AttrSpec{Name: "keep", Type: cty.Number},
		"build_timeout": &hcldec.AttrSpec{Name: "build_timeout", Type: cty.String},
	}
}

func llamaTargets(desired cty.Value) []string {
	if t := stringList(attr(desired, "targets", cty.List(cty.String))); len(t) > 0 {
		return t
	}
	return []string{"llama-server"}
}

func llamaTimeout(desired cty.Value) time.Duration {
	d, err := ParseDuration(strAttr(desired, "build_timeout", "30m"), MinDuration, MaxDuration)
	if err != nil {
		return 30 * time.Minute
	}
	return d
}

func (LlamaCpp) Validate(desired cty.Value) []AttrError {
	var errs []AttrError
	add := func(a, f string, args ...any) { errs = append(errs, AttrError{Attr: a, Msg: fmt.Sprintf(f, args...)}) }
	if src := desired.GetAttr("source"); src.IsNull() {
		add("source", "source is null")
	} else if s := src.AsString(); strings.HasPrefix(s, "/") {
		if msg := checkManagedPath(s); msg != "" && !systemDirs[s] {
			add("source", "%s", msg)
		}
	} else if !gitURLRe.MatchString(s) && !gitScpRe.MatchString(s) {
		add("source", "%q is not a git source sparkform accepts: an https://, ssh:// or file:// URL, user@host:path, or an absolute path (no spaces or shell characters)", RedactURL(s))
	} else if why := sourceProblem(s); why != "" {
		add("source", "%q %s", RedactURL(s), why)
	}
	if ref := desired.GetAttr("ref"); ref.IsNull() {
		add("ref", "ref is null")
	} else if r := ref.AsString(); !gitRefRe.MatchString(r) || strings.HasPrefix(r, "-") || strings.Contains(r, "..") || strings.HasSuffix(r, ".lock") || strings.HasSuffix(r, "/") {
		add("ref", "%q is not a tag, branch or commit name (letters, digits and ._/-, not starting with '-', no '..')", r)
	}
	if d := desired.GetAttr("dir"); d.IsNull() {
		add("dir", "dir is null")
	} else if msg := checkManagedPath(d.AsString()); msg != "" {
		add("dir", "%s", msg)
	}
	flags := desired.GetAttr("cmake_flags")
	if !flags.IsNull() {
		for it := flags.ElementIterator(); it.Next(); {
			k, v := it.Element()
			switch {
			case !cmakeFlagNameRe.MatchString(k.AsString()):
				add("cmake_flags", "%q is not a CMake variable name (uppercase letters, digits and _, e.g. GGML_CUDA)", k.AsString())
			case v.IsNull():
				add("cmake_flags", "%s: value is null", k.AsString())
			case !cmakeFlagValueRe.MatchString(v.AsString()):
				add("cmake_flags", "%s: value %q has characters a CMake setting here never needs (allowed: letters, digits, ._+,:=/@%%- and single spaces or ';' between words)", k.AsString(), v.AsString())
			}
		}
	}
	if t := desired.GetAttr("targets"); !t.IsNull() {
		if t.LengthInt() == 0 {
			add("targets", "give at least one target, e.g. [\"llama-server\"], or leave targets out")
		}
		for _, e := range t.AsValueSlice() {
			if e.IsNull() {
				add("targets", "a target is null")
			} else if !cmakeTargetRe.MatchString(e.AsString()) {
				add("targets", "%q is not a CMake target name (e.g. \"llama-server\")", e.AsString())
			}
		}
	}
	if _, ok := intAttr(desired, "jobs", 0, 0, 4096); !ok {
		add("jobs", "jobs must be a whole number from 0 (all cores) to 4096")
	}
	if _, ok := intAttr(desired, "keep", 3, 1, 100); !ok {
		add("keep", "keep must be a whole number of builds from 1 to 100")
	}
	if bt := desired.GetAttr("build_timeout"); !bt.IsNull() {
		if _, err := ParseDuration(bt.AsString(), MinDuration, MaxDuration); err != nil {
			add("build_timeout", "%v", err)
		}
	}
	return errs
}

// Exports are known from the body alone; the version and supported load flags of the build
// differ per host and are in the observed value and the state.
func (LlamaCpp) Exports(desired cty.Value) map[string]cty.Value {
	return pathExports(desired, "dir", "bin_dir", "/current/bin")
}

// llamaDir is the directory the instance is about: desired, else the one last applied.
func llamaDir(in Instance) string { return instanceString(in, "dir") }

func (LlamaCpp) Probe(in Instance) string {
	d := llamaDir(in)
	if d == "" {
		return "printf 'nocurrent\\n'\n"
	}
	// llama-server and nvcc run only when nobody but root (or the login user) could have put
	// them there (sf_untrusted, trustLib): plan runs as root.
	return shellArgs(d, llamaManifestFile) + trustLib + llamaProbeSh
}

var llamaObservedType = cty.Object(map[string]cty.Type{
	"current":       cty.String,           // build id current points at; "" without one
	"builds":        cty.Map(cty.String),  // build id -> its manifest (JSON)
	"failed_builds": cty.List(cty.String), // build dirs without a manifest
	"src":           cty.Bool,             // <dir>/src holds a clone
	"version":       cty.String,           // first line of current/bin/llama-server --version
	"supports":      cty.List(cty.String), // load flags --help lists
	"nvcc":          cty.String,           // nvcc found ("" none)
	"nvcc_on_path":  cty.Bool,             // found in PATH (else /usr/local/cuda/bin)
	"nvcc_version":  cty.String,           // e.g. "13.0"
	"missing_tools": cty.List(cty.String), // git/cmake absent
})

func (LlamaCpp) Read(in Instance, out []byte) (cty.Value, error) {
	o := map[string]cty.Value{"current": cty.StringVal(""), "src": cty.False, "version": cty.StringVal(""),
		"nvcc": cty.StringVal(""), "nvcc_on_path": cty.False, "nvcc_version": cty.StringVal("")}
	builds := map[string]string{}
	var failed, missing, supports []string
	seen := false
	for _, l := range parseProbe(out) {
		arg := func(i int) string {
			if i < len(l.args) {
				return l.args[i]
			}
			return ""
		}
		dec := func(s string) (string, error) {
			v, err := decodeB64(s)
			if err != nil {
				return "", fmt.Errorf("llama_cpp probe: %s: %v", l.tag, err)
			}
			return v, nil
		}
		switch l.tag {
		case "nocurrent":
			seen = true
		case "current":
			seen = true
			t, err := dec(arg(0))
			if err != nil {
				return cty.NilVal, err
			}
			t = strings.TrimSpace(t)
			if id := strings.TrimPrefix(t, "builds/"); id != t && llamaBuildIDRe.MatchString(id) {
				o["current"] = cty.StringVal(id)
			} else {
				o["current"] = cty.StringVal("(not a sparkform build: " + t + ")")
			}
		case "build":
			if !llamaBuildIDRe.MatchString(arg(0)) {
				continue
			}
			m, err := dec(arg(1))
			if err != nil {
				return cty.NilVal, err
			}
			builds[arg(0)] = m
		case "failedbuild":
			if llamaBuildIDRe.MatchString(arg(0)) {
				failed = append(failed, arg(0))
			}
		case "src":
			o["src"] = cty.True
		case "version":
			v, err := dec(arg(0))
			if err != nil {
				return cty.NilVal, err
			}
			o["version"] = cty.StringVal(strings.TrimSpace(v))
		case "help":
			h, err := dec(arg(0))
			if err != nil {
				return cty.NilVal, err
			}
			supports = llamaSupports(h)
		case "nvccpath", "nvcccuda":
			o["nvcc"] = cty.StringVal(arg(0))
			o["nvcc_on_path"] = cty.BoolVal(l.tag == "nvccpath")
		case "nvccpathodd", "nvcccudaodd":
			return cty.NilVal, fmt.Errorf("llama_cpp probe: nvcc is at a path with unusual characters (outside A-Z a-z 0-9 . _ / @ + -)")
		case "nvccversion":
			o["nvcc_version"] = cty.StringVal(arg(0))
		case "untrusted":
			msg, _ := decodeB64(arg(0))
			prog, why, _ := strings.Cut(msg, "\t")
			return cty.NilVal, fmt.Errorf("llama_cpp probe: %w", untrustedError(prog, why))
		case "notool":
			missing = append(missing, arg(0))
		}
	}
	if !seen {
		return cty.NilVal, fmt.Errorf("llama_cpp probe: no report of %s/current (was the probe cut short?)", llamaDir(in))
	}
	sort.Strings(failed)
	o["builds"] = stringMapVal(builds)
	o["failed_builds"] = stringListVal(failed)
	o["supports"] = stringListVal(supports)
	o["missing_tools"] = stringListVal(missing)
	return cty.ObjectVal(o), nil
}

// helpOptions lists every option a --help text names in its left column ("-lm,   --load-mode {..}").
func helpOptions(help string) map[string]bool {
	opts := map[string]bool{}
	for _, line := range strings.Split(help, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-") {
			continue
		}
		// Options, each maybe followed by ',' or an argument (N, FNAME, {a,b}, [on|off]); the
		// first other word starts the description.
	words:
		for _, f := range strings.Fields(line) {
			f = strings.TrimSuffix(f, ",")
			switch {
			case f == "":
				continue
			case helpOptionRe.MatchString(f):
				opts[f] = true
				continue
			case strings.ContainsAny(f[:1], "{[<") || f == strings.ToUpper(f) && strings.ToLower(f) != f:
				continue
			}
			break words
		}
	}
	return opts
}

// llamaSupports is which model-loading flags a --help text lists, in llamaLoadFlags order.
func llamaSupports(help string) []string {
	opts := helpOptions(help)
	var out []string
	for _, f := range llamaLoadFlags {
		if opts[f] {
			out = append(out, f)
		}
	}
	return out
}

// llamaManifest is what sparkform records in each successful build.
type llamaManifest struct {
	ManagedBy  string            `json:"managed_by"`
	Resource   string            `json:"resource"`
	Source     string            `json:"source"`
	Ref        string            `json:"ref"`
	Commit     string            `json:"commit"`
	CMakeFlags map[string]string `json:"cmake_flags"`
	// CMakeArgs are the -D arguments cmake got (the flags plus what sparkform added, e.g. the nvcc path).
	CMakeArgs []string `json:"cmake_args"`
	Targets   []string `json:"targets"`
	Version   string   `json:"version"`
	Built     string   `json:"built"`
	Seconds   float64  `json:"build_seconds"`
}

func parseLlamaManifest(s string) (llamaManifest, bool) {
	var m llamaManifest
	if err := json.Unmarshal([]byte(s), &m); err != nil || m.ManagedBy != "sparkform" {
		return m, false
	}
	if m.CMakeFlags == nil {
		m.CMakeFlags = map[string]string{}
	}
	return m, true
}

// matches reports whether the build was made from the desired ref, flags and targets.
func (m llamaManifest) matches(ref string, flags map[string]string, targets []string) bool {
	if m.Ref != ref || len(m.CMakeFlags) != len(flags) || strings.Join(sortedCopy(m.Targets), " ") != strings.Join(sortedCopy(targets), " ") {
		return false
	}
	for k, v := range flags {
		if m.CMakeFlags[k] != v {
			return false
		}
	}
	return true
}

func sortedCopy(l []string) []string {
	c := append([]string(nil), l...)
	sort.Strings(c)
	return c
}

// cmakeOn is CMake's truth for a boolean option.
func cmakeOn(v string) bool {
	switch strings.ToUpper(v) {
	case "ON", "1", "YES", "TRUE", "Y":
		return true
	}
	return false
}

// llamaBuildID names a build directory: the ref, the commit it resolved to, the flags and targets.
func llamaBuildID(ref, commit string, flags map[string]string, targets []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "ref=%s\ncommit=%s\n", ref, commit)
	for _, k := range sortedKeys(flags) {
		fmt.Fprintf(h, "-D%s=%s\n", k, flags[k])
	}
	fmt.Fprintf(h, "targets=%s\n", strings.Join(sortedCopy(targets), " "))
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// llamaDecision is what Diff and Apply conclude from the observed host.
type llamaDecision struct {
	fields  []FieldChange
	action  Action
	reuse   string // id of an existing build to switch to, without building
	build   bool   // a cmake build is needed
	summary string
	// stateOnly: the host already has the build; apply records it in state only.
	stateOnly bool
}

func (l LlamaCpp) decide(in Instance, observed cty.Value) (llamaDecision, error) {
	var dc llamaDecision
	dir := in.Desired.GetAttr("dir").AsString()
	ref := in.Desired.GetAttr("ref").AsString()
	flags := stringMap(in.Desired.GetAttr("cmake_flags"))
	targets := llamaTargets(in.Desired)
	builds := stringMap(observed.GetAttr("builds"))
	cur := observed.GetAttr("current").AsString()
	version := observed.GetAttr("version").AsString()
	curMan, hasCur := parseLlamaManifest(builds[cur])

	if cmakeOn(flags["GGML_CUDA"]) && observed.GetAttr("nvcc").AsString() == "" && flags["CMAKE_CUDA_COMPILER"] == "" {
		return dc, fmt.Errorf("%s: GGML_CUDA=ON needs nvcc; none in PATH or /usr/local/cuda/bin on this host: install the CUDA toolkit or set GGML_CUDA=OFF", in.Addr())
	}
	runs := version != ""
	if hasCur && curMan.matches(ref, flags, targets) && (runs || !slices.Contains(targets, "llama-server")) {
		if in.Prior.Exists() {
			dc.action = NoOp
		} else {
			dc.action = Update
			dc.stateOnly = true
			dc.summary = "build " + cur + " already matches; recorded in state"
		}
		return dc, nil
	}
	if !hasCur {
		dc.action = Create
		before := cur
		if before == "" {
			before = "(none)"
		}
		dc.fields = append(dc.fields, FieldChange{Path: "current", Before: before, BeforeNull: cur == "", After: dir + "/current"})
		dc.fields = append(dc.fields, FieldChange{Path: "ref", BeforeNull: true, After: ref})
	} else {
		dc.action = Update
		if curMan.Ref != ref {
			dc.fields = append(dc.fields, FieldChange{Path: "ref", Before: curMan.Ref, After: ref})
		}
		all := map[string]string{}
		for k := range flags {
			all[k] = ""
		}
		for k := range curMan.CMakeFlags {
			all[k] = ""
		}
		for _, k := range sortedKeys(all) {
			b, hadB := curMan.CMakeFlags[k]
			a, hasA := flags[k]
			if hadB == hasA && a == b {
				continue
			}
			dc.fields = append(dc.fields, FieldChange{Path: fmt.Sprintf("cmake_flags[%q]", k), Before: b, BeforeNull: !hadB, After: a, AfterNull: !hasA})
		}
		if strings.Join(sortedCopy(curMan.Targets), " ") != strings.Join(sortedCopy(targets), " ") {
			dc.fields = append(dc.fields, FieldChange{Path: "targets", Before: strings.Join(curMan.Targets, ","), After: strings.Join(targets, ",")})
		}
		if curMan.matches(ref, flags, targets) {
			// Same build asked for, but its llama-server no longer runs: build it again.
			dc.fields = append(dc.fields, FieldChange{Path: "version", Before: "(llama-server does not run)", After: "(rebuilt)", Drift: true})
			dc.build = true
			dc.summary = fmt.Sprintf("rebuild %s: %s/current/bin/llama-server does not run", ref, dir)
			return dc, l.checkTools(in, observed)
		}
	}
	// A build made earlier from the same inputs is switched to without building.
	var candidates []string
	for id, m := range builds {
		if mm, ok := parseLlamaManifest(m); ok && id != cur && mm.matches(ref, flags, targets) {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) > 0 {
		sort.Slice(candidates, func(i, j int) bool {
			a, _ := parseLlamaManifest(builds[candidates[i]])
			b, _ := parseLlamaManifest(builds[candidates[j]])
			return a.Built > b.Built
		})
		dc.reuse = candidates[0]
		dc.summary = fmt.Sprintf("switch current to existing build builds/%s (%s): no rebuild", dc.reuse, ref)
		if hasCur {
			dc.fields = append(dc.fields, FieldChange{Path: "current", Before: "builds/" + cur, After: "builds/" + dc.reuse})
		}
		return dc, nil
	}
	dc.build = true
	dc.summary = fmt.Sprintf("build %s with cmake into %s/builds/<id>, then switch current", ref, dir)
	return dc, l.checkTools(in, observed)
}

func (LlamaCpp) checkTools(in Instance, observed cty.Value) error {
	if m := stringList(observed.GetAttr("missing_tools")); len(m) > 0 {
		return fmt.Errorf("%s: building needs %s, missing on this host (apt install %s)", in.Addr(), strings.Join(m, " and "), strings.Join(m, " "))
	}
	return nil
}

func (l LlamaCpp) Diff(in Instance, observed cty.Value) (Diff, error) {
	if in.Destroying() {
		builds := stringMap(observed.GetAttr("builds"))
		failed := stringList(observed.GetAttr("failed_builds"))
		cur := observed.GetAttr("current").AsString()
		src := observed.GetAttr("src").True()
		if !in.Prior.Exists() && len(builds) == 0 && len(failed) == 0 && cur == "" && !src {
			return Diff{Action: NoOp}, nil
		}
		dir := llamaDir(in)
		d := Diff{Action: Delete}
		if cur != "" {
			d.Fields = append(d.Fields, FieldChange{Path: "current", Before: dir + "/current -> builds/" + cur, AfterNull: true})
		}
		if n := len(builds) + len(failed); n > 0 {
			d.Fields = append(d.Fields, FieldChange{Path: "builds", Before: fmt.Sprintf("%s/builds (%d builds)", dir, n), AfterNull: true})
		}
		if src {
			d.Fields = append(d.Fields, FieldChange{Path: "src", Before: dir + "/src", AfterNull: true})
		}
		d.Summary = fmt.Sprintf("remove %s/current, %s/builds and %s/src (what sparkform made), then %s if empty", dir, dir, dir, dir)
		return d, nil
	}
	dc, err := l.decide(in, observed)
	if err != nil {
		return Diff{}, err
	}
	return Diff{Action: dc.action, Fields: dc.fields, Summary: dc.summary, StateOnly: dc.stateOnly}, nil
}

// llamaAttributes is what state remembers: the body plus the build the host ended up with.
// DescribeSetup records the build the block applied.
func (LlamaCpp) DescribeSetup(addr string, applied cty.Value, s *TestSetup) {
	if b := strAttr(applied, "build", ""); b != "" {
		if s.Builds == nil {
			s.Builds = map[string]string{}
		}
		s.Builds[addr] = b
	}
}

func llamaAttributes(desired cty.Value, build string, m llamaManifest, supports []string) cty.Value {
	attrs := desired.AsValueMap()
	attrs["build"] = cty.StringVal(build)
	attrs["commit"] = cty.StringVal(m.Commit)
	attrs["version"] = cty.StringVal(m.Version)
	attrs["supports"] = stringListVal(supports)
	return cty.ObjectVal(attrs)
}

// The llama.cpp scripts (resources/scripts); each takes its values as positional arguments.
var (
	//go:embed scripts/llama-probe.sh
	llamaProbeSh string
	//go:embed scripts/llama-fetch.sh
	llamaFetchSh string
	//go:embed scripts/llama-build.sh
	llamaBuildSh string
	//go:embed scripts/llama-build-inner.sh
	llamaBuildInnerSh string
	//go:embed scripts/llama-switch.sh
	llamaSwitchSh string
	//go:embed scripts/llama-destroy.sh
	llamaDestroySh string
)

// Exit codes of the fetch and build scripts.
const (
	llamaExitFetch   = 21
	llamaExitRef     = 22
	llamaExitBuild   = 31
	llamaExitTimeout = 32
	llamaExitRun     = 33
)

func (l LlamaCpp) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	log = logOrDiscard(log)
	if in.Destroying() {
		return l.destroy(ctx, h, in)
	}
	dc, err := l.decide(in, observed)
	if err != nil {
		return in.Prior, err
	}
	dir := in.Desired.GetAttr("dir").AsString()
	builds := stringMap(observed.GetAttr("builds"))
	if dc.action == NoOp || (!dc.build && dc.reuse == "") {
		cur := observed.GetAttr("current").AsString()
		m, _ := parseLlamaManifest(builds[cur])
		return Prior{Attributes: llamaAttributes(in.Desired, cur, m, stringList(observed.GetAttr("supports"))), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
	}
	if dc.reuse != "" {
		log(fmt.Sprintf("switching %s/current to existing build %s (no rebuild)", dir, dc.reuse))
		m, _ := parseLlamaManifest(builds[dc.reuse])
		return l.switchTo(ctx, h, in, dc.reuse, m)
	}

	ref := in.Desired.GetAttr("ref").AsString()
	source := in.Desired.GetAttr("source").AsString()
	flags := stringMap(in.Desired.GetAttr("cmake_flags"))
	targets := llamaTargets(in.Desired)

	// 1. Clone or fetch the source and resolve the ref to a commit.
	log(fmt.Sprintf("fetching %s", RedactURL(source)))
	fetch := shellArgs(dir, source, ref, strconv.Itoa(llamaExitFetch), strconv.Itoa(llamaExitRef)) + llamaFetchSh
	res, err := h.Run(ctx, fetch)
	if err != nil {
		return in.Prior, fmt.Errorf("%s: fetching %s: %w", in.Addr(), RedactURL(source), err)
	}
	switch res.ExitCode {
	case 0:
	case llamaExitRef:
		return in.Prior, fmt.Errorf("%s: ref %q does not resolve to a commit in %s (tags and branches were fetched): check the tag, branch or commit name", in.Addr(), ref, RedactURL(source))
	default:
		return in.Prior, fmt.Errorf("%s: cloning/fetching %s into %s/src failed (exit %d): %s", in.Addr(), RedactURL(source), dir, res.ExitCode, RedactURL(strings.Join(lastLines(string(res.Stderr), 10), "\n")))
	}
	commit := ""
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if c, ok := strings.CutPrefix(line, "commit "); ok {
			commit = strings.TrimSpace(c)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{40,64}$`).MatchString(commit) {
		return in.Prior, fmt.Errorf("%s: resolving %q printed no commit id: %q", in.Addr(), ref, res.Stdout)
	}
	id := llamaBuildID(ref, commit, flags, targets)
	if m, ok := parseLlamaManifest(builds[id]); ok {
		log(fmt.Sprintf("build %s of %s exists: switching (no rebuild)", id, commit[:12]))
		return l.switchTo(ctx, h, in, id, m)
	}

	// 2. Configure and build in builds/<id>, streaming cmake's progress, within build_timeout.
	args := []string{"-DCMAKE_BUILD_TYPE=Release"}
	for _, k := range sortedKeys(flags) {
		args = append(args, "-D"+k+"="+flags[k])
	}
	checkNvcc := ""
	if nvcc := observed.GetAttr("nvcc").AsString(); cmakeOn(flags["GGML_CUDA"]) && nvcc != "" && observed.GetAttr("nvcc_on_path").False() && flags["CMAKE_CUDA_COMPILER"] == "" {
		args = append(args, "-DCMAKE_CUDA_COMPILER="+nvcc)
		// cmake runs the compiler it is given, as root: the same rule as for any program.
		checkNvcc = trustLib + fmt.Sprintf("N=%s\nif u=$(sf_untrusted \"$N\") && [ -n \"$u\" ]; then echo \"sparkform: untrusted: not running $N: ${u#*\t}\" >&2; exit %d; fi\n", provider.Quote(nvcc), llamaExitBuild)
	}
	jobs, _ := intAttr(in.Desired, "jobs", 0, 0, 4096)
	jobsArg := "" // the script uses nproc
	if jobs > 0 {
		jobsArg = strconv.FormatInt(jobs, 10)
	}
	timeout := llamaTimeout(in.Desired)
	build := dir + "/builds/" + id
	verify := "0"
	if slices.Contains(targets, "llama-server") {
		verify = "1"
	}
	script := checkNvcc + shellArgs(append([]string{dir, build, commit, jobsArg, llamaBuildLog, strconv.Itoa(llamaExitBuild),
		strconv.Itoa(int(timeout.Seconds())), timeout.String(), strconv.Itoa(llamaExitTimeout), strconv.Itoa(llamaExitRun), verify,
		llamaBuildInnerSh, strings.Join(targets, " ")}, args...)...) + llamaBuildSh
	bctx, cancel := context.WithTimeout(ctx, timeout+time.Minute)
	defer cancel()
	log(fmt.Sprintf("building %s (%s) in %s", ref, commit[:12], build))
	start := time.Now()
	res, err = h.RunStream(bctx, script, func(stream, line string) {
		if stream != "stdout" {
			return
		}
		t := strings.TrimSpace(line)
		if llamaProgressRe.MatchString(t) || strings.HasPrefix(t, "sparkform: ") || strings.HasPrefix(t, "CMake Error") {
			log(t)
		}
	})
	if err != nil {
		return in.Prior, fmt.Errorf("%s: building %s: %w (the build log is %s/%s)", in.Addr(), ref, err, build, llamaBuildLog)
	}
	if res.ExitCode != 0 {
		what := "the build failed"
		switch res.ExitCode {
		case llamaExitTimeout:
			what = fmt.Sprintf("the build did not finish within build_timeout (%s)", timeout)
		case llamaExitRun:
			what = "the built llama-server does not run"
		}
		return in.Prior, fmt.Errorf("%s: %s; %s/current is unchanged; log: %s/%s; its last lines:\n%s", in.Addr(), what, dir, build, llamaBuildLog, strings.Join(lastLines(string(res.Stderr), 20), "\n"))
	}
	m := llamaManifest{ManagedBy: "sparkform", Resource: in.Addr(), Source: source, Ref: ref, Commit: commit, CMakeFlags: flags,
		CMakeArgs: args, Targets: targets, Built: time.Now().UTC().Format(time.RFC3339Nano), Seconds: time.Since(start).Round(time.Second).Seconds()}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if v, ok := strings.CutPrefix(line, "version "); ok {
			m.Version = strings.TrimSpace(v)
		}
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	// Only root reads the manifest; it names the source, which is nobody else's business.
	if err := h.WriteFile(ctx, build+"/"+llamaManifestFile, append(data, '\n'), 0o600, "root"); err != nil {
		return in.Prior, fmt.Errorf("%s: writing the manifest of %s: %w", in.Addr(), build, err)
	}
	return l.switchTo(ctx, h, in, id, m)
}

var llamaProgressRe = regexp.MustCompile(`^\[\s*\d+%\]`)

// switchTo points current at a complete build, checks its llama-server runs, and prunes old builds.
func (l LlamaCpp) switchTo(ctx context.Context, h provider.Host, in Instance, id string, m llamaManifest) (Prior, error) {
	dir := in.Desired.GetAttr("dir").AsString()
	keep, _ := intAttr(in.Desired, "keep", 3, 1, 100)
	verify := "0"
	if slices.Contains(m.Targets, "llama-server") {
		verify = "1"
	}
	script := trustLib + shellArgs(dir, id, strconv.FormatInt(keep, 10), verify, llamaManifestFile) + llamaSwitchSh
	res, err := h.Run(ctx, script)
	if err != nil {
		return in.Prior, fmt.Errorf("%s: switching to build %s: %w", in.Addr(), id, err)
	}
	if res.ExitCode != 0 {
		return in.Prior, fmt.Errorf("%s: switching %s/current to build %s failed (exit %d): %s", in.Addr(), dir, id, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	var supports []string
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if enc, ok := strings.CutPrefix(line, "help "); ok {
			if hlp, err := decodeB64(strings.TrimSpace(enc)); err == nil {
				supports = llamaSupports(hlp)
			}
		}
	}
	return Prior{Attributes: llamaAttributes(in.Desired, id, m, supports), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
}

func (LlamaCpp) destroy(ctx context.Context, h provider.Host, in Instance) (Prior, error) {
	dir := llamaDir(in)
	done := Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}
	if dir == "" {
		return done, nil
	}
	script := shellArgs(dir) + llamaDestroySh
	res, err := h.Run(ctx, script)
	if err != nil {
		return in.Prior, fmt.Errorf("%s: removing %s: %w", in.Addr(), dir, err)
	}
	if res.ExitCode != 0 {
		return in.Prior, fmt.Errorf("%s: removing the builds in %s failed: %s", in.Addr(), dir, strings.TrimSpace(string(res.Stderr)))
	}
	return done, nil
}

// ApplyTimeout lets a build run for its build_timeout plus time to fetch and switch, even
// when that is longer than the engine's step timeout.
func (LlamaCpp) ApplyTimeout(desired cty.Value) time.Duration {
	return llamaTimeout(desired) + 5*time.Minute
}
