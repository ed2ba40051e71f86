package resources

import (
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// llamaCaptureDir is where a captured llama_cpp block builds when the captured directory is a
// plain checkout (sparkform must not put its builds/, src/ and current into someone's tree).
const llamaCaptureDir = "/opt/sparkform/llama.cpp"

var cmakeCacheLineRe = regexp.MustCompile(`^((?:GGML_[A-Z0-9_]*)|CMAKE_CUDA_ARCHITECTURES):([A-Z]+)=(.*)$`)

// CaptureProbe reads, per -llama-dir, sparkform's manifest of the current build; else the git
// checkout (DIR/src or DIR: exact tag, commit, origin URL) and the CMake cache (GGML_* and
// CMAKE_CUDA_ARCHITECTURES). Only reads: git describe/rev-parse/remote get-url write nothing; git
// runs only in a .git nobody but root or the login user can write, and never reaches the network.
func (llamaCpp) CaptureProbe(opts CaptureOptions) string {
	var b strings.Builder
	for i, d := range opts.LlamaDirs {
		if checkManagedPath(d) == "" {
			b.WriteString("llama_capture " + provider.QuoteAll(strconv.Itoa(i), d) + "\n")
		}
	}
	return trustLib + shellArgs(llamaManifestFile) + llamaCaptureProbeSh + b.String() + "true\n"
}

//go:embed scripts/llama-capture-probe.sh
var llamaCaptureProbeSh string

// parseCMakeCache reads GGML_* and CMAKE_CUDA_ARCHITECTURES entries of a CMakeCache.txt (or the
// lines of it the probe kept): cache variables only (no INTERNAL/STATIC, no *-ADVANCED markers),
// non-empty values. Values sparkform would not pass to cmake are returned in bad.
func parseCMakeCache(text string) (flags map[string]string, bad []string) {
	flags = map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		m := cmakeCacheLineRe.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil || m[2] == "INTERNAL" || m[2] == "STATIC" || strings.HasSuffix(m[1], "-ADVANCED") {
			continue
		}
		v := strings.TrimSpace(m[3])
		if v == "" {
			continue
		}
		if !cmakeFlagNameRe.MatchString(m[1]) || !cmakeFlagValueRe.MatchString(v) {
			bad = append(bad, m[1]+"="+v)
			continue
		}
		flags[m[1]] = v
	}
	return flags, bad
}

// Capture writes one llama_cpp block per -llama-dir: from sparkform's manifest of the current
// build when there is one (source, ref, cmake_flags, targets as built), else from git and the
// CMake cache, saying in the comment what could not be determined.
func (llamaCpp) Capture(opts CaptureOptions, out []byte) ([]CapturedBlock, []string, error) {
	type found struct {
		noDir                                                         bool
		current, manifest, src, tag, commit, origin, cache, untrusted string
		hasManifest, hasCache                                         bool
	}
	res := make([]found, len(opts.LlamaDirs))
	for _, l := range parseProbe(out) {
		i, ok := l.index(len(res))
		if !ok || !strings.HasPrefix(l.tag, "ll") {
			continue
		}
		val, err := decodeB64(l.rest())
		if err != nil {
			return nil, nil, fmt.Errorf("llama_cpp probe: %s: %v", l.tag, err)
		}
		f := &res[i]
		// One-line values: the current link's target and what git printed.
		if p, ok := map[string]*string{"llcur": &f.current, "lltag": &f.tag, "llcommit": &f.commit, "llorigin": &f.origin}[l.tag]; ok {
			*p = strings.TrimSpace(val)
			continue
		}
		switch l.tag {
		case "llnodir":
			f.noDir = true
		case "llman":
			f.manifest, f.hasManifest = val, true
		case "llsrc":
			f.src = val
		case "llcache":
			f.cache, f.hasCache = val, true
		case "lluntrusted":
			f.untrusted = val
		}
	}
	var blocks []CapturedBlock
	var notes []string
	names := map[string]bool{}
	for i, d := range opts.LlamaDirs {
		f := res[i]
		if msg := checkManagedPath(d); msg != "" {
			notes = append(notes, fmt.Sprintf("llama_cpp: %s: not captured: %s", d, msg))
			continue
		}
		if f.noDir {
			notes = append(notes, fmt.Sprintf("llama_cpp: %s: not captured: no such directory", d))
			continue
		}
		name := captureName(d, "llama")
		for base, k := name, 2; names[name]; k++ {
			name = fmt.Sprintf("%s_%d", base, k)
		}
		names[name] = true
		b := CapturedBlock{Type: "llama_cpp", Name: name}
		var comment []string
		if m, ok := parseLlamaManifest(f.manifest); ok && f.hasManifest {
			b.Attrs = []CapturedAttr{{Name: "source", Value: cty.StringVal(m.Source)}, {Name: "ref", Value: cty.StringVal(m.Ref)},
				{Name: "dir", Value: cty.StringVal(d)}}
			if len(m.CMakeFlags) > 0 {
				b.Attrs = append(b.Attrs, CapturedAttr{Name: "cmake_flags", Value: stringMapVal(m.CMakeFlags)})
			}
			if len(m.Targets) > 0 {
				b.Attrs = append(b.Attrs, CapturedAttr{Name: "targets", Value: stringListVal(m.Targets)})
			}
			comment = append(comment, fmt.Sprintf("The llama.cpp build %s/current points at (%s, commit %s), from sparkform's manifest.", d, f.current, shortCommit(m.Commit)))
			b.Comment = strings.Join(comment, "\n")
			blocks = append(blocks, b)
			continue
		}
		if f.untrusted != "" {
			prog, why, _ := strings.Cut(f.untrusted, "\t")
			notes = append(notes, fmt.Sprintf("llama_cpp: %s: not captured: untrusted: not running git in %s: %s (only root or the login user may be able to write a repository git reads as root)", d, prog, strings.TrimSpace(why)))
			continue
		}
		if f.src == "" {
			notes = append(notes, fmt.Sprintf("llama_cpp: %s: not captured: no sparkform build manifest and no git checkout in %s/src or %s, so the source cannot be determined", d, d, d))
			continue
		}
		if f.origin == "" {
			notes = append(notes, fmt.Sprintf("llama_cpp: %s: not captured: the checkout %s has no remote origin, so the source cannot be determined", d, f.src))
			continue
		}
		ref := f.tag
		switch {
		case ref != "":
			comment = append(comment, fmt.Sprintf("The llama.cpp checkout %s at tag %s.", f.src, ref))
		case f.commit != "":
			ref = f.commit
			comment = append(comment, fmt.Sprintf("The llama.cpp checkout %s: no tag points at HEAD, so ref is the commit.", f.src))
		default:
			notes = append(notes, fmt.Sprintf("llama_cpp: %s: not captured: git cannot tell the commit of %s", d, f.src))
			continue
		}
		b.Attrs = []CapturedAttr{{Name: "source", Value: cty.StringVal(f.origin)}, {Name: "ref", Value: cty.StringVal(ref)},
			{Name: "dir", Value: cty.StringVal(llamaCaptureDir)}}
		comment = append(comment, fmt.Sprintf("dir: sparkform builds into %s (src/, builds/, current); the checkout %s is left alone.", llamaCaptureDir, d))
		if f.hasCache {
			cachePath := strings.TrimPrefix(firstLine(f.cache), "# ")
			flags, bad := parseCMakeCache(f.cache)
			if len(flags) > 0 {
				b.Attrs = append(b.Attrs, CapturedAttr{Name: "cmake_flags", Value: stringMapVal(flags)})
			}
			comment = append(comment, fmt.Sprintf("cmake_flags: the GGML_* and CMAKE_CUDA_ARCHITECTURES entries of %s (defaults included: CMake does not record which were given).", cachePath))
			for _, x := range bad {
				comment = append(comment, "left out (characters sparkform does not pass to cmake): "+x)
			}
		} else {
			comment = append(comment, fmt.Sprintf("cmake_flags: not captured: no CMakeCache.txt in %s/current, %s/build or %s.", d, d, d))
		}
		comment = append(comment, "targets: not recorded by a plain build: llama-server (the default) is built.")
		b.Comment = strings.Join(comment, "\n")
		blocks = append(blocks, b)
	}
	return blocks, notes, nil
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
