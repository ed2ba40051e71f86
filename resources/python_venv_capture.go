package resources

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// venvCaptureScript runs inside a venv's interpreter: version and every installed distribution
// (importlib.metadata reads metadata files; nothing is imported from the packages), as one line
// of base64 JSON. -I -B: no user site, no environment, no .pyc written.
//
//go:embed scripts/venv-capture.py
var venvCaptureScript string

// venvSkipped are the installer's own distributions, which every venv has and pip manages.
var venvSkipped = map[string]bool{"pip": true, "setuptools": true, "wheel": true, "pkg-resources": true, "distribute": true}

func (pythonVenv) CaptureProbe(opts CaptureOptions) string {
	var b strings.Builder
	for i, p := range opts.Venvs {
		if checkManagedPath(p) == "" {
			b.WriteString("venv_capture " + provider.QuoteAll(strconv.Itoa(i), p) + "\n")
		}
	}
	if b.Len() == 0 {
		return ""
	}
	// The venv's python runs as root only when nobody but root (or the login user) could have
	// put it there (sf_untrusted).
	return trustLib + shellArgs(venvCaptureScript, venvManifestFile) + venvCaptureProbeSh + b.String()
}

// pyvenvBase is the interpreter a venv was made from, from its pyvenv.cfg: the command that
// made it (Python ≥ 3.11 records `command = /usr/bin/python3 -m venv PATH`), else `executable`,
// else `home`/python3.
func pyvenvBase(cfg string) string {
	kv := map[string]string{}
	for _, line := range strings.Split(cfg, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if f := strings.Fields(kv["command"]); len(f) > 0 && strings.HasPrefix(f[0], "/") {
		return f[0]
	}
	if e := kv["executable"]; strings.HasPrefix(e, "/") {
		return e
	}
	if h := kv["home"]; strings.HasPrefix(h, "/") {
		return strings.TrimRight(h, "/") + "/python3"
	}
	return ""
}

// Capture writes one python_venv block per -venv path: every installed distribution pinned
// name==version (pip, setuptools and wheel excepted), python = the interpreter the venv was made
// from. Where the packages came from is not recorded by pip, so find_links / index_url are only
// captured from a venv sparkform built (its manifest).
func (pythonVenv) Capture(opts CaptureOptions, out []byte) ([]CapturedBlock, []string, error) {
	type found struct {
		rep                 venvReport
		base                string
		ok, none            bool
		fail, cfg, manifest string
		untrusted           string
		hasCfg, hasManifest bool
	}
	res := make([]found, len(opts.Venvs))
	for _, l := range parseProbe(out) {
		i, ok := l.index(len(res))
		if !ok {
			continue
		}
		arg := l.rest()
		switch l.tag {
		case "venvcap":
			raw, err := decodeB64(strings.TrimSpace(arg))
			if err != nil {
				return nil, nil, fmt.Errorf("python_venv probe: %s: the venv's python printed something unexpected", opts.Venvs[i])
			}
			var r struct {
				venvReport
				Base string `json:"base"`
			}
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				return nil, nil, fmt.Errorf("python_venv probe: %s: %v", opts.Venvs[i], err)
			}
			res[i].rep, res[i].base, res[i].ok = r.venvReport, r.Base, true
		case "venvfail":
			msg, _ := decodeB64(arg)
			res[i].fail = lastLine(msg)
		case "venvuntrusted":
			msg, _ := decodeB64(arg)
			res[i].untrusted = msg
		case "novenv":
			res[i].none = true
		case "venvcfg":
			res[i].cfg, _ = decodeB64(arg)
			res[i].hasCfg = true
		case "venvman":
			res[i].manifest, _ = decodeB64(arg)
			res[i].hasManifest = true
		}
	}
	var blocks []CapturedBlock
	var notes []string
	names := map[string]bool{}
	for i, p := range opts.Venvs {
		f := res[i]
		switch {
		case checkManagedPath(p) != "":
			notes = append(notes, fmt.Sprintf("python_venv: %s: not captured: %s", p, checkManagedPath(p)))
			continue
		case f.untrusted != "":
			notes = append(notes, fmt.Sprintf("python_venv: %s: not captured: %v", p, untrustedReport(f.untrusted)))
			continue
		case f.none:
			notes = append(notes, fmt.Sprintf("python_venv: %s: not captured: no %s/bin/python (not a venv?)", p, p))
			continue
		case !f.ok:
			notes = append(notes, fmt.Sprintf("python_venv: %s: not captured: its python fails: %s", p, firstNonEmpty(f.fail, "no report")))
			continue
		}
		man, managed := parseVenvManifest(cty.StringVal(f.manifest))
		if !f.hasManifest {
			managed = false
		}
		py := ""
		switch {
		case managed:
			py = man.Python
		case f.hasCfg:
			py = pyvenvBase(f.cfg)
		}
		if py == "" {
			py = f.base
		}
		var pkgs []string
		byNorm := map[string]string{}
		for n, v := range f.rep.Dists {
			if venvSkipped[normalizePkg(n)] {
				continue
			}
			spec := n + "==" + v
			if _, ok := parsePkgSpec(spec); !ok {
				notes = append(notes, fmt.Sprintf("python_venv: %s: %s %s is not a name==version sparkform accepts: left out", p, n, v))
				continue
			}
			byNorm[normalizePkg(n)] = spec
		}
		for _, n := range slices.Sorted(maps.Keys(byNorm)) {
			pkgs = append(pkgs, byNorm[n])
		}
		name := captureName(p, "venv")
		for base, k := name, 2; names[name]; k++ {
			name = fmt.Sprintf("%s_%d", base, k)
		}
		names[name] = true
		b := CapturedBlock{Type: "python_venv", Name: name}
		b.Attrs = append(b.Attrs, CapturedAttr{Name: "path", Value: cty.StringVal(p)})
		if py != "" {
			b.Attrs = append(b.Attrs, CapturedAttr{Name: "python", Value: cty.StringVal(py)})
		}
		b.Attrs = append(b.Attrs, CapturedAttr{Name: "packages", Value: stringListVal(pkgs)})
		comment := []string{fmt.Sprintf("The venv at %s (Python %s): every installed distribution, pinned.", p, f.rep.Python)}
		if managed {
			if len(man.FindLinks) > 0 {
				b.Attrs = append(b.Attrs, CapturedAttr{Name: "find_links", Value: stringListVal(man.FindLinks)})
			}
			if man.IndexURL != "" {
				b.Attrs = append(b.Attrs, CapturedAttr{Name: "index_url", Value: cty.StringVal(man.IndexURL)})
			}
			if len(man.Verify) > 0 {
				b.Attrs = append(b.Attrs, CapturedAttr{Name: "verify", Value: stringListVal(man.Verify)})
			}
			comment = append(comment, "Built by sparkform: find_links, index_url and verify come from its manifest.")
		} else {
			comment = append(comment, "find_links / index_url are not captured: pip does not record where a package came from;",
				"add find_links = [\"/path/to/wheelhouse\"] (with --no-index) or index_url for hosts without PyPI.",
				"verify is not captured: add the modules to import after installing, e.g. verify = [\"fastsafetensors\"].")
		}
		if py == "" {
			comment = append(comment, "python is not captured: pyvenv.cfg does not name the interpreter (python3 is the default).")
		}
		b.Comment = strings.Join(comment, "\n")
		blocks = append(blocks, b)
	}
	sort.SliceStable(blocks, func(i, j int) bool { return blocks[i].Name < blocks[j].Name })
	return blocks, notes, nil
}
