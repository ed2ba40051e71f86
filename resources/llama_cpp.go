package resources

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// llamaCpp builds llama.cpp from source with CMake (a CUDA build for GB10) and keeps several
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
type llamaCpp struct{}

func init() { Register(llamaCpp{}) }

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

func (llamaCpp) Type() string { return "llama_cpp" }

func (llamaCpp) Spec() hcldec.Spec {
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
	d, err := ParseDuration(strAttr(desired, "build_timeout", "30m"), minDuration, MaxDuration)
	if err != nil {
		return 30 * time.Minute
	}
	return d
}

func (llamaCpp) Validate(desired cty.Value) []AttrError {
	var errs []AttrError
	add := func(a, f string, args ...any) { errs = append(errs, AttrError{Attr: a, Msg: fmt.Sprintf(f, args...)}) }
	if src := desired.GetAttr("source"); src.IsNull() {
		add("source", "source is null")
	} else if s := src.AsString(); strings.HasPrefix(s, "/") {
		if msg := checkManagedPath(s); msg != "" && !systemDirs[s] {
			add("source", "%s", msg)
		}
	} else if !gitURLRe.MatchString(s) && !gitScpRe.MatchString(s) {
		add("source", "%q is not a git source sparkform accepts: an https://, ssh:// or file:// URL, user@host:path, or an absolute path (no spaces or shell characters)", redactURL(s))
	} else if why := sourceProblem(s); why != "" {
		add("source", "%q %s", redactURL(s), why)
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
		if _, err := ParseDuration(bt.AsString(), minDuration, MaxDuration); err != nil {
			add("build_timeout", "%v", err)
		}
	}
	return errs
}

// Exports are known from the body alone; the version and supported load flags of the build
// differ per host and are in the observed value and the state.
func (llamaCpp) Exports(desired cty.Value) map[string]cty.Value {
	return pathExports(desired, "dir", "bin_dir", "/current/bin")
}

// llamaDir is the directory the instance is about: desired, else the one last applied.
func llamaDir(in Instance) string { return instanceString(in, "dir") }

func (llamaCpp) Probe(in Instance) string {
	d := llamaDir(in)
	if d == "" {
		return "printf 'nocurrent\\n'\n"
	}
	return llamaFact.command(d)
}

// llamaFact (args: the directory D) reports D's current build, every build's manifest (or
// that it failed), the source checkout, the current llama-server's version and help, nvcc and
// its version, and which of git and cmake are missing (scripts/llama-probe.sh). llama-server
// and nvcc run only when nobody but root (or the login user) could have put them there
// (sf_untrusted, trustLib): plan runs as root.
var llamaFact = fact[llamaProbed]{
	name:    "llama_cpp",
	command: func(args ...string) string { return shellArgs(args[0], llamaManifestFile) + trustLib + llamaProbeSh },
	parse: func(lines []probeLine, args ...string) (llamaProbed, error) {
		d := ""
		if len(args) > 0 {
			d = args[0]
		}
		return parseLlamaProbe(lines, d)
	},
}

// llamaProbed is what llamaFact reads of a llama.cpp directory.
type llamaProbed struct {
	Current      string            `json:"current"` // build id, or "(not a sparkform build: TARGET)"; "" without one
	Builds       map[string]string `json:"builds"`  // build id → its manifest
	FailedBuilds []string          `json:"failed_builds"`
	Src          bool              `json:"src"`
	Version      string            `json:"version"`
	Supports     []string          `json:"supports"`
	Nvcc         string            `json:"nvcc"`
	NvccOnPath   bool              `json:"nvcc_on_path"`
	NvccVersion  string            `json:"nvcc_version"`
	MissingTools []string          `json:"missing_tools"`
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

func (llamaCpp) Read(in Instance, out []byte) (cty.Value, error) {
	o, err := llamaFact.parse(parseProbe(out), llamaDir(in))
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{
		"current": cty.StringVal(o.Current), "builds": stringMapVal(o.Builds), "failed_builds": stringListVal(o.FailedBuilds),
		"src": cty.BoolVal(o.Src), "version": cty.StringVal(o.Version), "supports": stringListVal(o.Supports),
		"nvcc": cty.StringVal(o.Nvcc), "nvcc_on_path": cty.BoolVal(o.NvccOnPath), "nvcc_version": cty.StringVal(o.NvccVersion),
		"missing_tools": stringListVal(o.MissingTools),
	}), nil
}

// parseLlamaProbe reads llamaFact's lines about directory d; an untrusted program or one at an
// odd path is an error.
func parseLlamaProbe(lines []probeLine, d string) (llamaProbed, error) {
	o := llamaProbed{Builds: map[string]string{}}
	seen := false
	for _, l := range lines {
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
				return llamaProbed{}, err
			}
			t = strings.TrimSpace(t)
			if id := strings.TrimPrefix(t, "builds/"); id != t && llamaBuildIDRe.MatchString(id) {
				o.Current = id
			} else {
				o.Current = "(not a sparkform build: " + t + ")"
			}
		case "build":
			if !llamaBuildIDRe.MatchString(arg(0)) {
				continue
			}
			m, err := dec(arg(1))
			if err != nil {
				return llamaProbed{}, err
			}
			o.Builds[arg(0)] = m
		case "failedbuild":
			if llamaBuildIDRe.MatchString(arg(0)) {
				o.FailedBuilds = append(o.FailedBuilds, arg(0))
			}
		case "src":
			o.Src = true
		case "version":
			v, err := dec(arg(0))
			if err != nil {
				return llamaProbed{}, err
			}
			o.Version = strings.TrimSpace(v)
		case "help":
			h, err := dec(arg(0))
			if err != nil {
				return llamaProbed{}, err
			}
			o.Supports = llamaSupports(h)
		case "nvccpath", "nvcccuda":
			o.Nvcc = arg(0)
			o.NvccOnPath = l.tag == "nvccpath"
		case "nvccpathodd", "nvcccudaodd":
			return llamaProbed{}, fmt.Errorf("llama_cpp probe: nvcc is at a path with unusual characters (outside A-Z a-z 0-9 . _ / @ + -)")
		case "nvccversion":
			o.NvccVersion = arg(0)
		case "untrusted", "untrusteddir":
			return llamaProbed{}, fmt.Errorf("llama_cpp probe: %w", untrustedLine(l.tag, arg(0)))
		case "notool":
			o.MissingTools = append(o.MissingTools, arg(0))
		}
	}
	if !seen {
		return llamaProbed{}, fmt.Errorf("llama_cpp probe: no report of %s/current (was the probe cut short?)", d)
	}
	sort.Strings(o.FailedBuilds)
	return o, nil
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

// llamaManifestCommitRe: the commit a manifest records (a git object id; shorter ones in old
// hand-made manifests).
var llamaManifestCommitRe = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// parseLlamaManifest reads a build's manifest from the host: one sparkform wrote, or false. Its
// commit and version go into state and the plan: a commit that is not an object id or a negative
// build time means sparkform did not write it; the version (what the build's llama-server
// printed) is kept as bounded printable text.
func parseLlamaManifest(s string) (llamaManifest, bool) {
	var m llamaManifest
	if err := json.Unmarshal([]byte(s), &m); err != nil || m.ManagedBy != "sparkform" || !llamaManifestCommitRe.MatchString(m.Commit) || m.Seconds < 0 {
		return m, false
	}
	m.Version = boundedLine(m.Version, 80)
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
	for _, k := range slices.Sorted(maps.Keys(flags)) {
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

func (l llamaCpp) decide(in Instance, observed cty.Value) (llamaDecision, error) {
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
		for _, k := range slices.Sorted(maps.Keys(all)) {
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

// llamaNotMadeError refuses the destroy of a dir that holds no build sparkform made: a state
// file naming a directory it never made (a project's own src/ and builds/) must not cost them.
func llamaNotMadeError(in Instance, dir, host string) error {
	if host == "" {
		host = "HOST"
	}
	return fmt.Errorf("%s: not removing anything in %s: it holds no build sparkform made (no %s/builds/*/%s), so its src/ and builds/ may not be sparkform's; if they are, remove them by hand, then forget the block with `sparkform state rm %s/%s`",
		in.Addr(), dir, dir, llamaManifestFile, host, in.Addr())
}

func (llamaCpp) checkTools(in Instance, observed cty.Value) error {
	if m := stringList(observed.GetAttr("missing_tools")); len(m) > 0 {
		return fmt.Errorf("%s: building needs %s, missing on this host (apt install %s)", in.Addr(), strings.Join(m, " and "), strings.Join(m, " "))
	}
	return nil
}

func (l llamaCpp) Diff(in Instance, observed cty.Value) (Diff, error) {
	if in.Destroying() {
		builds := stringMap(observed.GetAttr("builds"))
		failed := stringList(observed.GetAttr("failed_builds"))
		cur := observed.GetAttr("current").AsString()
		src := observed.GetAttr("src").True()
		if !in.Prior.Exists() && len(builds) == 0 && len(failed) == 0 && cur == "" && !src {
			return Diff{Action: NoOp}, nil
		}
		dir := llamaDir(in)
		if len(builds) == 0 && (len(failed) > 0 || cur != "" || src) {
			return Diff{}, llamaNotMadeError(in, dir, "")
		}
		d := Diff{Action: Delete}
		if cur != "" {
			d.Fields = append(d.Fields, FieldChange{Path: "current", Before: dir + "/current -> builds/" + cur, AfterNull: true})
		}
		if n := len(builds) + len(failed); n > 0 {
			count := "1 build"
			if n != 1 {
				count = fmt.Sprint(n, " builds")
			}
			d.Fields = append(d.Fields, FieldChange{Path: "builds", Before: fmt.Sprintf("%s/builds (%s)", dir, count), AfterNull: true})
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

func (l llamaCpp) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	return applyDecided(in, observed, log, func() (Prior, error) { return l.destroy(ctx, h, in) }, l.decide,
		func(dc llamaDecision, log func(string)) (Prior, error) { return l.apply(ctx, h, in, observed, dc, log) })
}

// llamaAttributes is what state remembers: the body plus the build the host ended up with.
// DescribeSetup records the build the block applied.
func (llamaCpp) DescribeSetup(addr string, applied cty.Value, s *TestSetup) {
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
