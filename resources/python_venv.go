package resources

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// pythonVenv manages a Python virtual environment with pinned packages (fastsafetensors for
// vLLM's --load-format fastsafetensors), installed from a wheelhouse or an index.
//
// Layout on the host. A venv cannot be moved once made (pip writes its absolute path into the
// shebang of every script in bin/), so a new environment is never built in place and renamed:
//
//	<path>                      symlink -> <base>.sparkform-gens/<n>   (switched atomically)
//	<path>.sparkform-gens/<n>/  one complete venv per generation n, made by `python -m venv`
//	<path>.sparkform-gens/<n>/sparkform-venv.json   what sparkform built it from
//
// Apply builds generation n+1 beside the current one, installs and imports the verify modules
// in it, and only then points <path> at it (ln -sfn to a temporary name, then mv -T over
// <path>: rename(2) is atomic, so a reader sees the old or the new venv, never none). A failed
// install removes the half-built generation and leaves <path> untouched. <path>/bin/python keeps
// working for users: Python finds pyvenv.cfg next to the bin/ it was started from, through the
// link, and scripts' shebangs name their own generation directory, which is never moved.
// The previous generation stays for rollback (point the link back by hand); older ones are
// pruned, so at most two generations exist after an apply.
type pythonVenv struct{}

func init() { Register(pythonVenv{}) }

// venvGensDir is the directory holding a venv's generations.
func venvGensDir(p string) string { return p + ".sparkform-gens" }

// venvManifestFile is the name of the file sparkform writes into each generation.
const venvManifestFile = "sparkform-venv.json"

var (
	// Paths reach shells quoted, but are also names other programs (pip, shebangs) parse:
	// keep them to characters nobody needs to escape.
	safePathRe = regexp.MustCompile(`^/[A-Za-z0-9._@+/-]*$`)
	// A command name found in PATH (python3, python3.12) or an absolute path.
	pythonCmdRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	// PEP 508 name, optional extras, optional version specifiers; no URLs, markers or options.
	// Blanks are spaces only: a newline or tab never belongs in an argument pip gets.
	pkgNameRe    = `[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`
	pkgClauseRe  = `(?:~=|===|==|!=|<=|>=|<|>) *[A-Za-z0-9][A-Za-z0-9.*+!_-]*`
	pkgSpecRe    = regexp.MustCompile(`^(` + pkgNameRe + `)(\[ *` + pkgNameRe + `(?: *, *` + pkgNameRe + `)* *\])? *(` + pkgClauseRe + `(?: *, *` + pkgClauseRe + `)*)?$`)
	pkgClauseOne = regexp.MustCompile(`^(~=|===|==|!=|<=|>=|<|>) *(.+)$`)
	moduleRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	httpURLRe    = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~%/+@=:,-]*)?$`)
	pep503Re     = regexp.MustCompile(`[-_.]+`)
)

// systemDirs are directories a resource must never take over or remove.
var systemDirs = map[string]bool{"/": true, "/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true,
	"/lib": true, "/lib64": true, "/opt": true, "/proc": true, "/root": true, "/run": true, "/sbin": true,
	"/srv": true, "/sys": true, "/tmp": true, "/usr": true, "/var": true, "/usr/local": true, "/usr/bin": true,
	"/usr/lib": true, "/usr/local/bin": true, "/var/lib": true, "/opt/sparkform": true}

// checkManagedPath explains why p cannot be a directory sparkform owns, or returns "".
func checkManagedPath(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q is not an absolute path", p)
	case path.Clean(p) != p:
		return fmt.Sprintf("%q is not a clean path (no .., //, /. or trailing /): write %q", p, path.Clean(p))
	case !safePathRe.MatchString(p):
		return fmt.Sprintf("%q has characters a path here never needs (allowed: letters, digits and ._@+/-)", p)
	case systemDirs[p]:
		return fmt.Sprintf("%q is a system directory; give a directory of its own, e.g. %s/NAME", p, strings.TrimSuffix(p, "/"))
	}
	return ""
}

// normalizePkg is the PEP 503 normalized form of a distribution name.
func normalizePkg(name string) string { return strings.ToLower(pep503Re.ReplaceAllString(name, "-")) }

// pkgSpec is one parsed package requirement.
type pkgSpec struct {
	Raw   string // as written
	Name  string // normalized
	Spec  string // the version specifier, "" for any version
	Exact string // the version of a lone `==V` (no wildcard), else ""
}

func parsePkgSpec(s string) (pkgSpec, bool) {
	m := pkgSpecRe.FindStringSubmatch(s)
	if m == nil {
		return pkgSpec{}, false
	}
	p := pkgSpec{Raw: s, Name: normalizePkg(m[1]), Spec: strings.Join(strings.Fields(m[3]), "")}
	if c := pkgClauseOne.FindStringSubmatch(p.Spec); c != nil && c[1] == "==" && !strings.ContainsAny(c[2], ",*") {
		p.Exact = c[2]
	}
	return p, true
}

func (pythonVenv) Type() string { return "python_venv" }

func (pythonVenv) Spec() hcldec.Spec {
	return &hcldec.ObjectSpec{
		"path":       &hcldec.AttrSpec{Name: "path", Type: cty.String, Required: true},
		"python":     &hcldec.AttrSpec{Name: "python", Type: cty.String},
		"packages":   &hcldec.AttrSpec{Name: "packages", Type: cty.List(cty.String), Required: true},
		"find_links": &hcldec.AttrSpec{Name: "find_links", Type: cty.List(cty.String)},
		"index_url":  &hcldec.AttrSpec{Name: "index_url", Type: cty.String},
		"verify":     &hcldec.AttrSpec{Name: "verify", Type: cty.List(cty.String)},
	}
}

func venvPython(desired cty.Value) string { return strAttr(desired, "python", "python3") }

func (pythonVenv) Validate(desired cty.Value) []AttrError {
	var errs []AttrError
	p := desired.GetAttr("path")
	if p.IsNull() {
		errs = append(errs, AttrError{Attr: "path", Msg: "path is null"})
	} else if msg := checkManagedPath(p.AsString()); msg != "" {
		errs = append(errs, AttrError{Attr: "path", Msg: msg})
	}
	if py := desired.GetAttr("python"); !py.IsNull() {
		s := py.AsString()
		if strings.HasPrefix(s, "/") {
			if msg := checkManagedPath(s); msg != "" && !systemDirs[s] {
				errs = append(errs, AttrError{Attr: "python", Msg: msg})
			}
		} else if !pythonCmdRe.MatchString(s) {
			errs = append(errs, AttrError{Attr: "python", Msg: fmt.Sprintf("%q is neither a command name (python3, python3.12) nor an absolute path", s)})
		}
	}
	pk := desired.GetAttr("packages")
	if pk.IsNull() {
		errs = append(errs, AttrError{Attr: "packages", Msg: "packages is null; give a list, e.g. [\"fastsafetensors==0.3.2\"]"})
	}
	seen := map[string]string{}
	var pkgList []cty.Value
	if !pk.IsNull() {
		pkgList = pk.AsValueSlice()
	}
	for _, e := range pkgList {
		if e.IsNull() {
			errs = append(errs, AttrError{Attr: "packages", Msg: "a package is null"})
			continue
		}
		s := e.AsString()
		ps, ok := parsePkgSpec(s)
		if !ok {
			errs = append(errs, AttrError{Attr: "packages", Msg: fmt.Sprintf("%q is not a package requirement: write a name with an optional version specifier, e.g. \"fastsafetensors==0.3.2\" or \"numpy>=1.26,<2\" (no URLs, options or markers; sources go in find_links / index_url)", s)})
			continue
		}
		if prev, dup := seen[ps.Name]; dup {
			errs = append(errs, AttrError{Attr: "packages", Msg: fmt.Sprintf("%q and %q name the same distribution; give it once", prev, s)})
			continue
		}
		seen[ps.Name] = s
	}
	for _, fl := range stringList(desired.GetAttr("find_links")) {
		if strings.HasPrefix(fl, "/") {
			if path.Clean(fl) != fl || !safePathRe.MatchString(fl) {
				errs = append(errs, AttrError{Attr: "find_links", Msg: fmt.Sprintf("%q is not a clean absolute path of safe characters (letters, digits, ._@+/-)", fl)})
			}
		} else if !httpURLRe.MatchString(fl) {
			errs = append(errs, AttrError{Attr: "find_links", Msg: fmt.Sprintf("%q is neither an absolute directory nor an http(s) URL", fl)})
		}
	}
	if iu := desired.GetAttr("index_url"); !iu.IsNull() && !httpURLRe.MatchString(iu.AsString()) {
		errs = append(errs, AttrError{Attr: "index_url", Msg: fmt.Sprintf("%q is not an http(s) URL, e.g. \"https://pypi.org/simple\"", iu.AsString())})
	}
	for _, m := range stringList(desired.GetAttr("verify")) {
		if !moduleRe.MatchString(m) {
			errs = append(errs, AttrError{Attr: "verify", Msg: fmt.Sprintf("%q is not a Python module name (dotted identifiers, e.g. \"fastsafetensors\")", m)})
		}
	}
	return errs
}

// Exports are known from the body alone: where the venv is and its interpreter. The installed
// versions differ per host and are only known after apply; they are in the state.
func (pythonVenv) Exports(desired cty.Value) map[string]cty.Value {
	return pathExports(desired, "path", "python", "/bin/python")
}

// venvPath is the path the instance is about: desired, else the one last applied.
func venvPath(in Instance) string { return instanceString(in, "path") }

// venvInspect runs inside the venv's interpreter (one process, no network): its version, every
// installed distribution, and each verify module's __version__. It prints one line of base64 JSON
// last; anything an import prints goes to stderr.
//
//go:embed scripts/venv-inspect.py
var venvInspect string

func (v pythonVenv) Probe(in Instance) string {
	p := venvPath(in)
	if p == "" {
		return "printf 'kind absent\\n'\nprintf 'nofile manifest\\n'\n"
	}
	if in.Destroying() {
		return venvFact.command(p, venvGensDir(p), "") + "printf 'nofile manifest\\n'\n"
	}
	args := append([]string{p, venvGensDir(p), venvPython(in.Desired)}, stringList(in.Desired.GetAttr("verify"))...)
	return venvFact.command(args...) + fileFact.command("manifest", p+"/"+venvManifestFile)
}

// venvFact (args: the venv path P, its generations directory, the base python PY, and the
// verify modules) reports what P is (sparkform's link, a plain venv, something else or
// nothing), its generations, the base interpreter and the venv's report (scripts/venv-probe.sh).
// With PY "" (the block is being removed) no interpreter runs. Neither interpreter runs unless
// only root (or the login user) could have put it there: plan runs as root (sf_untrusted,
// trustLib; one check for both).
var venvFact = fact[venvProbed]{
	name: "python_venv",
	command: func(args ...string) string {
		if len(args) < 3 || args[2] == "" {
			return shellArgs(args[0], args[1], "", "") + venvProbeSh
		}
		return trustLib + shellArgs(append([]string{args[0], args[1], args[2], venvInspect}, args[3:]...)...) + venvProbeSh
	},
	parse: func(lines []probeLine, _ ...string) (venvProbed, error) { return parseVenvProbe(lines) },
}

// venvProbed is what venvFact reads of a venv path.
type venvProbed struct {
	Kind         string            `json:"kind"`
	Target       string            `json:"target"`
	PlainVenv    bool              `json:"plain_venv"`
	Generations  []string          `json:"generations"`
	BasePython   string            `json:"base_python"`
	BaseVenv     bool              `json:"base_venv"`
	Broken       string            `json:"broken"`
	Python       string            `json:"python_version"`
	Packages     map[string]string `json:"packages"`
	Verify       map[string]string `json:"verify"`
	VerifyErrors map[string]string `json:"verify_errors"`
}

// venvObservedType is the shape Read returns.
var venvObservedType = cty.Object(map[string]cty.Type{
	"kind":           cty.String, // "absent", "link" (what sparkform makes) or "other"
	"plain_venv":     cty.Bool,   // kind "other" is a venv made without sparkform (pyvenv.cfg)
	"target":         cty.String, // the link's target
	"generations":    cty.List(cty.String),
	"python_version": cty.String, // the venv's interpreter version; "" without a working venv
	"packages":       cty.Map(cty.String),
	"verify":         cty.Map(cty.String), // module -> __version__ ("" when it has none)
	"verify_errors":  cty.Map(cty.String),
	"broken":         cty.String, // why the venv's python fails to run, or ""
	"manifest":       cty.String, // the current generation's manifest (null: none)
	"base_python":    cty.String, // where `python` resolves on the host; "" when absent
	"base_venv":      cty.Bool,   // that interpreter has the venv and ensurepip modules
})

type venvReport struct {
	Python       string            `json:"python"`
	Dists        map[string]string `json:"dists"`
	Verify       map[string]string `json:"verify"`
	VerifyErrors map[string]string `json:"verify_errors"`
	DistsError   string            `json:"dists_error"`
}

func (pythonVenv) Read(in Instance, out []byte) (cty.Value, error) {
	lines := parseProbe(out)
	v, err := venvFact.parse(lines)
	if err != nil {
		return cty.NilVal, err
	}
	m, err := fileFact.parse(lines, "manifest")
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{
		"kind": cty.StringVal(v.Kind), "plain_venv": cty.BoolVal(v.PlainVenv), "target": cty.StringVal(v.Target),
		"generations": stringListVal(v.Generations), "python_version": cty.StringVal(v.Python),
		"packages": stringMapVal(v.Packages), "verify": stringMapVal(v.Verify), "verify_errors": stringMapVal(v.VerifyErrors),
		"broken": cty.StringVal(v.Broken), "manifest": m, "base_python": cty.StringVal(v.BasePython), "base_venv": cty.BoolVal(v.BaseVenv),
	}), nil
}

// parseVenvProbe reads venvFact's lines; an untrusted interpreter or one at an odd path is an
// error, a venv whose python fails is reported in Broken.
func parseVenvProbe(lines []probeLine) (venvProbed, error) {
	o := venvProbed{Packages: map[string]string{}, Verify: map[string]string{}, VerifyErrors: map[string]string{}}
	for _, l := range lines {
		arg := func(i int) string {
			if i < len(l.args) {
				return l.args[i]
			}
			return ""
		}
		switch l.tag {
		case "kind":
			o.Kind = arg(0)
			if arg(0) == "link" {
				t, err := decodeB64(arg(1))
				if err != nil {
					return venvProbed{}, fmt.Errorf("python_venv probe: link target: %v", err)
				}
				o.Target = strings.TrimSpace(t)
			}
		case "gen":
			// a generation directory is a plain number (the probe lists only those); a sign or
			// more than 9 digits would make the next generation negative or overflow
			if g := arg(0); len(l.args) == 1 && len(g) <= 9 && g != "" && strings.Trim(g, "0123456789") == "" {
				o.Generations = append(o.Generations, g)
			}
		case "base":
			o.BasePython = arg(0)
		case "baseodd":
			return venvProbed{}, fmt.Errorf("python_venv probe: the base python is at a path with unusual characters (outside A-Z a-z 0-9 . _ / @ + -)")
		case "basevenv":
			o.BaseVenv = true
		case "plainvenv":
			o.PlainVenv = true
		case "untrusted", "untrusteddir":
			return venvProbed{}, fmt.Errorf("python_venv probe: %w", untrustedLine(l.tag, arg(0)))
		case "venvbroken":
			msg, _ := decodeB64(arg(0))
			if msg = strings.TrimSpace(msg); msg == "" {
				msg = "the interpreter exits with an error"
			}
			o.Broken = msg
		case "venv":
			rep, err := parseVenvReport(arg(0))
			if err != nil {
				o.Broken = err.Error()
				continue
			}
			o.Python = rep.Python
			for n, ver := range rep.Dists {
				o.Packages[normalizePkg(n)] = ver
			}
			o.Verify, o.VerifyErrors = rep.Verify, rep.VerifyErrors
		}
	}
	if o.Kind == "" {
		return venvProbed{}, fmt.Errorf("python_venv probe: no report of the venv path (was the probe cut short?)")
	}
	sort.Slice(o.Generations, func(i, j int) bool {
		a, _ := strconv.Atoi(o.Generations[i])
		b, _ := strconv.Atoi(o.Generations[j])
		return a < b
	})
	return o, nil
}

// parseVenvReport decodes the line venvInspect prints.
func parseVenvReport(enc string) (venvReport, error) {
	var r venvReport
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return r, fmt.Errorf("the venv's python printed something unexpected (not its report)")
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("the venv's report is not JSON: %v", err)
	}
	if r.Python == "" {
		return r, fmt.Errorf("the venv's report has no interpreter version")
	}
	if r.DistsError != "" {
		return r, fmt.Errorf("listing installed distributions failed: %s", r.DistsError)
	}
	return r, nil
}

// venvManifest is what sparkform writes into each generation it builds.
type venvManifest struct {
	ManagedBy  string   `json:"managed_by"`
	Resource   string   `json:"resource"`
	Generation int      `json:"generation"`
	Python     string   `json:"python"`
	Packages   []string `json:"packages"`
	FindLinks  []string `json:"find_links,omitempty"`
	IndexURL   string   `json:"index_url,omitempty"`
	Verify     []string `json:"verify,omitempty"`
	Created    string   `json:"created"`
}

func parseVenvManifest(v cty.Value) (venvManifest, bool) {
	var m venvManifest
	if v == cty.NilVal || v.IsNull() {
		return m, false
	}
	if err := json.Unmarshal([]byte(v.AsString()), &m); err != nil || m.ManagedBy != "sparkform" {
		return m, false
	}
	return m, true
}

// venvPlan is the decision Diff and Apply share.
type venvPlan struct {
	fields  []FieldChange
	rebuild bool
	create  bool
	// adopt: path is a plain venv (made without sparkform) that needs a change: apply first
	// moves it to generation 0 with path a link to it, then builds the next generation.
	adopt bool
	// plainOK: path is a plain venv that already satisfies the block: nothing to do.
	plainOK bool
}

func (v pythonVenv) decide(in Instance, observed cty.Value) (venvPlan, error) {
	var vp venvPlan
	p := in.Desired.GetAttr("path").AsString()
	kind := observed.GetAttr("kind").AsString()
	if kind == "other" && boolAttr(observed, "plain_venv") {
		return v.decidePlain(in, observed)
	}
	if kind == "other" {
		return vp, fmt.Errorf("%s: %s exists and is not a venv sparkform manages (sparkform makes it a symlink into %s): move it away or choose another path", in.Addr(), p, venvGensDir(p))
	}
	installed := stringMap(observed.GetAttr("packages"))
	priorVersions := stringMap(attr(in.Prior.Attributes, "versions", cty.Map(cty.String)))
	man, hasMan := parseVenvManifest(observed.GetAttr("manifest"))
	broken := observed.GetAttr("broken").AsString()
	working := kind == "link" && broken == "" && observed.GetAttr("python_version").AsString() != ""

	var pkgs []pkgSpec
	for _, s := range stringList(in.Desired.GetAttr("packages")) {
		ps, _ := parsePkgSpec(s)
		pkgs = append(pkgs, ps)
	}
	switch {
	case kind == "absent" || kind == "link" && !working && observed.GetAttr("target").AsString() == "":
		vp.create = true
		vp.fields = append(vp.fields, FieldChange{Path: "path", BeforeNull: true, After: p})
	case !working:
		vp.rebuild = true
		msg := broken
		if msg == "" {
			msg = "no interpreter"
		}
		vp.fields = append(vp.fields, FieldChange{Path: "path", Before: fmt.Sprintf("%s (broken: %s)", p, lastLine(msg)), After: p, Drift: in.Prior.Exists()})
	}
	if working {
		wantPy := venvPython(in.Desired)
		if !hasMan || man.Python != wantPy {
			before := "(unknown)"
			if hasMan {
				before = man.Python
			}
			vp.fields = append(vp.fields, FieldChange{Path: "python", Before: before + " (" + observed.GetAttr("python_version").AsString() + ")", After: wantPy})
			vp.rebuild = true
		}
	}
	built := map[string]string{} // normalized name -> spec the current generation was built with
	if hasMan {
		for _, s := range man.Packages {
			if ps, ok := parsePkgSpec(s); ok {
				built[ps.Name] = ps.Spec
			}
		}
	}
	for _, ps := range pkgs {
		iv, have := installed[ps.Name]
		if !working {
			have = false
		}
		after := ps.Exact
		if after == "" {
			after = ps.Spec
			if after == "" {
				after = "(any version)"
			}
		}
		var changed bool
		switch {
		case !have:
			changed = true
		case ps.Exact != "":
			changed = iv != ps.Exact
		default:
			// A range cannot be checked here without PEP 440; trust what the generation was built from.
			spec, was := built[ps.Name]
			changed = !was || spec != ps.Spec
		}
		if !changed {
			continue
		}
		fc := FieldChange{Path: fmt.Sprintf("packages[%q]", ps.Name), Before: iv, BeforeNull: !have, After: after}
		if pv, ok := priorVersions[ps.Name]; ok && have && pv != iv {
			fc.Drift = true
		}
		vp.fields = append(vp.fields, fc)
		vp.rebuild = true
	}
	if working {
		// Packages the generation was built with that the block no longer lists: a rebuild drops them.
		want := map[string]bool{}
		for _, ps := range pkgs {
			want[ps.Name] = true
		}
		for _, n := range slices.Sorted(maps.Keys(built)) {
			if !want[n] {
				vp.fields = append(vp.fields, FieldChange{Path: fmt.Sprintf("packages[%q]", n), Before: installed[n], BeforeNull: installed[n] == "", AfterNull: true})
				vp.rebuild = true
			}
		}
		if !vp.rebuild {
			errs := stringMap(observed.GetAttr("verify_errors"))
			for _, m := range stringList(in.Desired.GetAttr("verify")) {
				if e, bad := errs[m]; bad {
					vp.fields = append(vp.fields, FieldChange{Path: fmt.Sprintf("verify[%q]", m), Before: "import fails: " + lastLine(e), After: "imports", Drift: in.Prior.Exists()})
					vp.rebuild = true
				}
			}
		}
	}
	return vp, v.checkBase(in, observed, vp)
}

// checkBase refuses a build the host's base interpreter cannot make.
func (pythonVenv) checkBase(in Instance, observed cty.Value, vp venvPlan) error {
	if vp.create || vp.rebuild {
		py := venvPython(in.Desired)
		if observed.GetAttr("base_python").AsString() == "" {
			return fmt.Errorf("%s: %s not found on this host (command -v %s fails): install Python 3 or set python to the interpreter's path", in.Addr(), py, py)
		}
		if observed.GetAttr("base_venv").False() {
			return fmt.Errorf("%s: %s -m venv would fail on this host: its venv/ensurepip modules are missing (Debian/Ubuntu: apt install python3-venv)", in.Addr(), py)
		}
	}
	return nil
}

// decidePlain judges a plain venv (made without sparkform) at path by effect: when its installed
// packages satisfy the block and the verify modules import, it is left as it is (no-op, even
// without state); otherwise apply adopts it (generation 0, kept for rollback) and builds the
// next generation beside it.
func (v pythonVenv) decidePlain(in Instance, observed cty.Value) (venvPlan, error) {
	var vp venvPlan
	p := in.Desired.GetAttr("path").AsString()
	broken := observed.GetAttr("broken").AsString()
	working := broken == "" && observed.GetAttr("python_version").AsString() != ""
	installed := stringMap(observed.GetAttr("packages"))
	if !working {
		vp.fields = append(vp.fields, FieldChange{Path: "path", Before: fmt.Sprintf("%s (plain venv, broken: %s)", p, lastLine(firstNonEmpty(broken, "no interpreter"))),
			After: fmt.Sprintf("%s -> %s/1 (the plain venv kept as generation 0)", p, path.Base(venvGensDir(p)))})
	}
	for _, s := range stringList(in.Desired.GetAttr("packages")) {
		ps, _ := parsePkgSpec(s)
		iv, have := installed[ps.Name]
		if working && have && versionSatisfies(iv, ps.Spec) {
			continue
		}
		after := ps.Exact
		if after == "" {
			after = firstNonEmpty(ps.Spec, "(any version)")
		}
		if working {
			vp.fields = append(vp.fields, FieldChange{Path: fmt.Sprintf("packages[%q]", ps.Name), Before: iv, BeforeNull: !have, After: after})
		}
	}
	if working {
		errs := stringMap(observed.GetAttr("verify_errors"))
		for _, m := range stringList(in.Desired.GetAttr("verify")) {
			if e, bad := errs[m]; bad {
				vp.fields = append(vp.fields, FieldChange{Path: fmt.Sprintf("verify[%q]", m), Before: "import fails: " + lastLine(e), After: "imports"})
			}
		}
		if len(vp.fields) == 0 {
			vp.plainOK = true
			return vp, nil
		}
		vp.fields = append([]FieldChange{{Path: "path", Before: p + " (plain venv)", After: fmt.Sprintf("%s -> %s/1 (the plain venv kept as generation 0)", p, path.Base(venvGensDir(p)))}}, vp.fields...)
	}
	vp.adopt, vp.rebuild = true, true
	return vp, v.checkBase(in, observed, vp)
}

// versionSatisfies checks an installed version against a PEP 440 specifier for plain release
// versions (1.26.4): ==, ===, !=, <, <=, >, >=, ~= and ==X.*. Anything it cannot judge (pre-,
// post-, dev- or local versions) counts as not satisfied, so the venv is rebuilt rather than trusted.
func versionSatisfies(v, spec string) bool {
	if spec == "" {
		return true
	}
	rel, ok := releaseOf(v)
	for _, clause := range strings.Split(spec, ",") {
		m := pkgClauseOne.FindStringSubmatch(strings.TrimSpace(clause))
		if m == nil {
			return false
		}
		op, want := m[1], strings.TrimSpace(m[2])
		if op == "===" {
			if v != want {
				return false
			}
			continue
		}
		if !ok {
			return false
		}
		if prefix, wild := strings.CutSuffix(want, ".*"); wild && (op == "==" || op == "!=") {
			pr, ok := releaseOf(prefix)
			if !ok {
				return false
			}
			match := len(rel) >= len(pr) && cmpRelease(rel[:len(pr)], pr) == 0
			if match != (op == "==") {
				return false
			}
			continue
		}
		w, ok := releaseOf(want)
		if !ok {
			return false
		}
		c := cmpRelease(rel, w)
		var sat bool
		switch op {
		case "==":
			sat = c == 0
		case "!=":
			sat = c != 0
		case "<":
			sat = c < 0
		case "<=":
			sat = c <= 0
		case ">":
			sat = c > 0
		case ">=":
			sat = c >= 0
		case "~=":
			sat = c >= 0 && len(w) >= 2 && len(rel) >= len(w)-1 && cmpRelease(rel[:len(w)-1], w[:len(w)-1]) == 0
		}
		if !sat {
			return false
		}
	}
	return true
}

var releaseRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)

func releaseOf(v string) ([]int, bool) {
	if !releaseRe.MatchString(v) {
		return nil, false
	}
	var out []int
	for _, p := range strings.Split(v, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// cmpRelease compares release segments, missing ones being 0 (1.0 == 1.0.0).
func cmpRelease(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (v pythonVenv) Diff(in Instance, observed cty.Value) (Diff, error) {
	if in.Destroying() {
		kind := observed.GetAttr("kind").AsString()
		gens := stringList(observed.GetAttr("generations"))
		if !in.Prior.Exists() && len(gens) == 0 {
			return Diff{Action: NoOp}, nil
		}
		p := venvPath(in)
		var d Diff
		if kind == "link" {
			d.Fields = append(d.Fields, FieldChange{Path: "path", Before: p, AfterNull: true})
		}
		if len(gens) > 0 {
			d.Fields = append(d.Fields, FieldChange{Path: "generations", Before: fmt.Sprintf("%s (%d)", venvGensDir(p), len(gens)), AfterNull: true})
		}
		d.Action = Delete
		d.Summary = "remove the venv at " + p + " and the generations sparkform built"
		return d, nil
	}
	vp, err := v.decide(in, observed)
	if err != nil {
		return Diff{}, err
	}
	d := Diff{Fields: vp.fields}
	switch {
	case vp.plainOK:
		// A plain venv that already has what the block asks is left alone (not taken over).
		d.Action = NoOp
	case vp.adopt:
		d.Action = Update
		d.Summary = fmt.Sprintf("adopt the plain venv: %s moves to %s/0 (kept for rollback) with %s a link to it, then a new generation is built beside it and switched to when install and verify succeed", venvPath(in), venvGensDir(venvPath(in)), venvPath(in))
	case vp.create:
		d.Action = Create
	case vp.rebuild:
		d.Action = Update
		d.Summary = "new venv generation built beside the current one, switched when install and verify succeed"
	case !in.Prior.Exists():
		// The venv is already as asked (built by an earlier state, or state was lost): adopt it.
		d.Action = Update
		d.StateOnly = true
		d.Summary = "venv already matches; recorded in state"
	default:
		d.Action = NoOp
	}
	return d, nil
}

func (v pythonVenv) Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error) {
	return applyDecided(in, observed, log, func() (Prior, error) { return v.destroy(ctx, h, in) }, v.decide,
		func(vp venvPlan, log func(string)) (Prior, error) { return v.apply(ctx, h, in, observed, vp, log) })
}
