package resources

// Apply of llama_cpp: switching to a build the host has, or fetching, building and switching to a new one; destroy.

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

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

// apply switches to a build the host has or fetches and builds one, as dc says.
func (l llamaCpp) apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, dc llamaDecision, log func(string)) (Prior, error) {
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
	log(fmt.Sprintf("fetching %s", redactURL(source)))
	fetch := trustLib + shellArgs(dir, source, ref, strconv.Itoa(llamaExitFetch), strconv.Itoa(llamaExitRef)) + llamaFetchSh
	res, err := h.Run(ctx, fetch)
	if err != nil {
		return in.Prior, fmt.Errorf("%s: fetching %s: %w", in.Addr(), redactURL(source), err)
	}
	switch res.ExitCode {
	case 0:
	case llamaExitRef:
		return in.Prior, fmt.Errorf("%s: ref %q does not resolve to a commit in %s (tags and branches were fetched): check the tag, branch or commit name", in.Addr(), ref, redactURL(source))
	default:
		return in.Prior, fmt.Errorf("%s: cloning/fetching %s into %s/src failed (exit %d): %s", in.Addr(), redactURL(source), dir, res.ExitCode, redactURL(strings.Join(lastLines(string(res.Stderr), 10), "\n")))
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
	for _, k := range slices.Sorted(maps.Keys(flags)) {
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
			what = fmt.Sprintf("the build did not finish within build_timeout (%s)", english.Setting(timeout))
		case llamaExitRun:
			what = "the built llama-server does not run"
		}
		return in.Prior, fmt.Errorf("%s: %s; %s/current is unchanged; log: %s/%s; its last lines:\n%s", in.Addr(), what, dir, build, llamaBuildLog, strings.Join(lastLines(string(res.Stderr), 20), "\n"))
	}
	m := llamaManifest{ManagedBy: "sparkform", Resource: in.Addr(), Source: source, Ref: ref, Commit: commit, CMakeFlags: flags,
		CMakeArgs: args, Targets: targets, Built: time.Now().UTC().Format(time.RFC3339Nano), Seconds: time.Since(start).Round(time.Second).Seconds()}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if v, ok := strings.CutPrefix(line, "version "); ok {
			m.Version = boundedLine(v, 80) // what the built program printed
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
func (l llamaCpp) switchTo(ctx context.Context, h provider.Host, in Instance, id string, m llamaManifest) (Prior, error) {
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

func (llamaCpp) destroy(ctx context.Context, h provider.Host, in Instance) (Prior, error) {
	dir := llamaDir(in)
	done := Prior{Attributes: cty.NullVal(cty.DynamicPseudoType), Original: cty.NullVal(cty.DynamicPseudoType)}
	if dir == "" {
		return done, nil
	}
	script := shellArgs(dir, llamaManifestFile) + llamaDestroySh
	res, err := h.Run(ctx, script)
	if err != nil {
		return in.Prior, fmt.Errorf("%s: removing %s: %w", in.Addr(), dir, err)
	}
	if res.ExitCode == 3 {
		return in.Prior, llamaNotMadeError(in, dir, h.Name())
	}
	if res.ExitCode != 0 {
		return in.Prior, fmt.Errorf("%s: removing the builds in %s failed: %s", in.Addr(), dir, strings.TrimSpace(string(res.Stderr)))
	}
	return done, nil
}

// ApplyTimeout lets a build run for its build_timeout plus time to fetch and switch, even
// when that is longer than the engine's step timeout.
func (llamaCpp) ApplyTimeout(desired cty.Value) time.Duration {
	return llamaTimeout(desired) + 5*time.Minute
}
