package resources

// Apply of python_venv: adopting a plain venv, building a new generation and switching to it; destroy.

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// venvAttributes is what state remembers: the body plus what the host ended up with.
func venvAttributes(desired cty.Value, versions map[string]string, generation string) cty.Value {
	attrs := desired.AsValueMap()
	attrs["versions"] = stringMapVal(versions)
	attrs["generation"] = cty.StringVal(generation)
	return cty.ObjectVal(attrs)
}

// apply adopts, creates or rebuilds the venv as vp says, or records what the host has.
func (v pythonVenv) apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, vp venvPlan, log func(string)) (Prior, error) {
	p := in.Desired.GetAttr("path").AsString()
	gens := stringList(observed.GetAttr("generations"))
	current := ""
	if t := observed.GetAttr("target").AsString(); t != "" {
		current = path.Base(t)
	}
	if vp.plainOK {
		return in.Prior, nil
	}
	if vp.adopt {
		if err := v.adopt(ctx, h, in, log); err != nil {
			return in.Prior, err
		}
		gens, current = append(gens, "0"), "0"
	}
	if !vp.create && !vp.rebuild {
		// Nothing to build: record what the host has.
		return Prior{Attributes: venvAttributes(in.Desired, v.wantedVersions(in, stringMap(observed.GetAttr("packages"))), current), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
	}
	next := 1
	for _, g := range gens {
		if n, _ := strconv.Atoi(g); n >= next {
			next = n + 1
		}
	}
	gen := strconv.Itoa(next)
	gensDir := venvGensDir(p)
	newDir := gensDir + "/" + gen
	man := venvManifest{ManagedBy: "sparkform", Resource: in.Addr(), Generation: next, Python: venvPython(in.Desired),
		Packages: stringList(in.Desired.GetAttr("packages")), FindLinks: stringList(in.Desired.GetAttr("find_links")),
		Verify: stringList(in.Desired.GetAttr("verify")), Created: time.Now().UTC().Format(time.RFC3339)}
	if iu := in.Desired.GetAttr("index_url"); !iu.IsNull() {
		man.IndexURL = iu.AsString()
	}
	manJSON, _ := json.MarshalIndent(man, "", "  ")

	var pipArgs []string
	if man.IndexURL == "" && len(man.FindLinks) > 0 {
		// Only a wheelhouse: never reach out to PyPI (fleets without internet).
		pipArgs = append(pipArgs, "--no-index")
	}
	for _, fl := range man.FindLinks {
		pipArgs = append(pipArgs, "--find-links", fl)
	}
	if man.IndexURL != "" {
		pipArgs = append(pipArgs, "--index-url", man.IndexURL)
	}
	if len(man.Packages) > 0 {
		pipArgs = append(pipArgs, "--")
		pipArgs = append(pipArgs, man.Packages...)
	}
	var s strings.Builder
	s.WriteString(trustLib)
	s.WriteString(shellArgs(p, gensDir, newDir, man.Python, gen, path.Base(gensDir)+"/"+gen, string(manJSON), venvManifestFile, venvInspect,
		strconv.Itoa(venvExitVenv), strconv.Itoa(venvExitPip), strconv.Itoa(venvExitVerify), strconv.Itoa(venvExitSwitch)))
	s.WriteString(venvBuildSh)
	s.WriteString("venv_create\nvenv_pip " + provider.QuoteAll(pipArgs...) + "\nvenv_verify " + provider.QuoteAll(man.Verify...) + "\nvenv_switch\n")
	// Keep the new generation and the one it replaced (two in all); anything else sparkform built goes.
	keep := map[string]bool{gen: true}
	if current != "" {
		keep[current] = true
	}
	var prune []string
	for _, g := range gens {
		if !keep[g] {
			prune = append(prune, g)
		}
	}
	if len(prune) > 0 {
		s.WriteString("venv_prune " + provider.QuoteAll(prune...) + "\n")
	}
	res, err := h.RunStream(ctx, s.String(), func(stream, line string) {
		if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "eyJ") {
			log(line)
		}
	})
	if err != nil {
		return in.Prior, fmt.Errorf("%s: building %s: %w", in.Addr(), newDir, err)
	}
	if res.ExitCode != 0 {
		what := map[int]string{venvExitVenv: "creating the venv failed", venvExitPip: "pip install failed",
			venvExitVerify: "importing the verify modules failed", venvExitSwitch: "switching to the new venv failed"}[res.ExitCode]
		if what == "" {
			what = fmt.Sprintf("building the venv failed (exit %d)", res.ExitCode)
		}
		unchanged := p + " is unchanged"
		if vp.create {
			unchanged = "nothing was installed at " + p
		}
		return in.Prior, fmt.Errorf("%s: %s; %s:\n%s", in.Addr(), what, unchanged, strings.Join(lastLines(stripSparkformLines(string(res.Stderr)), 15), "\n"))
	}
	// The verify step printed the new venv's report last on stdout.
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	versions := map[string]string{}
	for _, l := range lines {
		if rep, err := parseVenvReport(l); err == nil {
			installed := map[string]string{}
			for n, ver := range rep.Dists {
				installed[normalizePkg(n)] = ver
			}
			versions = v.wantedVersions(in, installed)
		}
	}
	return Prior{Attributes: venvAttributes(in.Desired, versions, gen), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
}

// Exit code of the adoption script when it cannot take the plain venv over.
const venvExitAdopt = 14

// The venv's shell scripts; each takes its values as positional arguments (shellArgs).
// Exit codes of the build script, so the error says which step failed.
const (
	venvExitVenv   = 10
	venvExitPip    = 11
	venvExitVerify = 12
	venvExitSwitch = 13
)

var (
	//go:embed scripts/venv-build.sh
	venvBuildSh string
	//go:embed scripts/venv-adopt.sh
	venvAdoptSh string
	//go:embed scripts/venv-destroy.sh
	venvDestroySh string
	//go:embed scripts/venv-probe.sh
	venvProbeSh string
	//go:embed scripts/venv-capture-probe.sh
	venvCaptureProbeSh string
)

// venvExchange swaps two paths atomically (renameat2 RENAME_EXCHANGE) with the base interpreter.
//
//go:embed scripts/venv-exchange.py
var venvExchange string

// adopt makes a plain venv at path generation 0: path becomes a link to <gens>/0 holding the venv.
// With renameat2(RENAME_EXCHANGE) the venv and a prepared link trade places in one atomic step,
// so path never is absent; where the kernel or filesystem refuses that, two renames follow each
// other (path is absent only between them). The venv keeps working through the link: Python
// finds pyvenv.cfg beside the bin/ it was started from, and the scripts' shebangs name path.
func (pythonVenv) adopt(ctx context.Context, h provider.Host, in Instance, log func(string)) error {
	p := in.Desired.GetAttr("path").AsString()
	gensDir := venvGensDir(p)
	script := trustLib + shellArgs(p, gensDir, path.Base(gensDir)+"/0", venvPython(in.Desired), venvExchange, strconv.Itoa(venvExitAdopt)) + venvAdoptSh
	res, err := h.Run(ctx, script)
	if err != nil {
		return fmt.Errorf("%s: adopting %s: %w", in.Addr(), p, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: adopting the plain venv %s failed (exit %d): %s", in.Addr(), p, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	for _, l := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
		if l != "" {
			log(strings.TrimPrefix(l, "sparkform: "))
		}
	}
	return nil
}

// wantedVersions is the installed version of every package the block lists.
func (pythonVenv) wantedVersions(in Instance, installed map[string]string) map[string]string {
	out := map[string]string{}
	for _, s := range stringList(in.Desired.GetAttr("packages")) {
		if ps, ok := parsePkgSpec(s); ok {
			if iv, have := installed[ps.Name]; have {
				out[ps.Name] = iv
			}
		}
	}
	return out
}

// stripSparkformLines drops the script's own "sparkform:" step lines when the tool said more.
func stripSparkformLines(s string) string {
	var keep, own []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "sparkform: ") {
			own = append(own, l)
			continue
		}
		keep = append(keep, l)
	}
	if strings.TrimSpace(strings.Join(keep, "")) == "" {
		return strings.Join(own, "\n")
	}
	return strings.Join(keep, "\n")
}

func (pythonVenv) destroy(ctx context.Context, h provider.Host, in Instance) (Prior, error) {
	p := venvPath(in)
	if p == "" {
		return Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
	}
	gensDir := venvGensDir(p)
	script := shellArgs(p, gensDir, path.Base(gensDir), venvManifestFile) + venvDestroySh
	res, err := h.Run(ctx, script)
	if err != nil {
		return in.Prior, fmt.Errorf("%s: removing %s: %w", in.Addr(), p, err)
	}
	if res.ExitCode != 0 {
		return in.Prior, fmt.Errorf("%s: removing %s failed (exit %d): %s", in.Addr(), p, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}, nil
}
