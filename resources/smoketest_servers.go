package resources

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/sparkform/sparkform/provider"
)

// smokeServer is what a smoke test knows of one kind of model server: its load modes and the
// flags each needs (read from the installed server's own help, never assumed from a version),
// the line it prints once the model is loaded, and how to ask its help and version.
type smokeServer struct {
	name string
	// words is how many words of the command name the server: 1 for llama-server, 2 for "vllm serve".
	words int
	modes []string
	ready string
	// help is the flag to ask for every option, then a fallback for older releases ("": none).
	help, helpFallback string
	flags              func(mode, help string) ([]string, error)
	// version reads the build from `PROGRAM --version` ("" when it cannot tell).
	version func(out string) string
	// ownFlags are flags of the command that would fight the modes' flags.
	ownFlags []string
	// fileFlags are flags whose value is a file or directory the server loads (a model, a
	// draft model, an adapter, a tokenizer); positionalModel: so is the first word after the
	// command (vllm serve MODEL).
	fileFlags       []string
	positionalModel bool
}

// defaultReadyPattern matches llama-server's line once the model is loaded, in both the old
// ("main: server is listening on http://…") and the 2026 ("srv … server is listening on http://…")
// forms, and NOT the early "main: HTTP server is listening, hostname: …" of older servers,
// which is printed before the model loads.
const defaultReadyPattern = `server is listening on (http|unix)://`

// vllmReadyPattern is uvicorn's line once vLLM's engine has loaded the model and the API is up.
const vllmReadyPattern = `Application startup complete`

var smokeServers = map[string]*smokeServer{
	"llama.cpp": {name: "llama.cpp", words: 1, modes: []string{"default", "mmap", "no-mmap", "dio"},
		ready: defaultReadyPattern, help: "--help", flags: loadFlags, version: llamaVersion,
		ownFlags:  []string{"--no-mmap", "--mmap", "--direct-io", "-lm", "--load-mode"},
		fileFlags: []string{"-m", "--model", "-md", "--model-draft", "-mm", "--mmproj", "--lora", "--lora-scaled", "--control-vector"}},
	// vLLM since 0.10 lists only option groups under --help; --help=all lists every flag.
	"vllm": {name: "vllm", words: 2, modes: []string{"default", "eager", "fastsafetensors"},
		ready: vllmReadyPattern, help: "--help=all", helpFallback: "--help", flags: vllmFlags, version: vllmVersion,
		ownFlags:  []string{"--load-format", "--safetensors-load-strategy"},
		fileFlags: []string{"--model", "--tokenizer", "--speculative-model"}, positionalModel: true},
}

// smokeServerFor is the server a command runs: the `server` attribute if given, else vLLM for a
// program named vllm and llama.cpp otherwise.
func smokeServerFor(server string, argv []string) (*smokeServer, error) {
	if server == "" {
		server = "llama.cpp"
		if len(argv) > 0 && path.Base(argv[0]) == "vllm" {
			server = "vllm"
		}
	}
	s, ok := smokeServers[server]
	if !ok {
		return nil, fmt.Errorf("server is \"llama.cpp\" or \"vllm\", not %q", server)
	}
	return s, nil
}

// modelPaths are the files and directories the command has the server load: the values of its
// fileFlags (every time one is given) and, for vLLM, the model after `serve`. A hub id such as
// "openai/gpt-oss-120b" is among them; the probe checks only what exists on the host.
func (s *smokeServer) modelPaths(argv []string) []string {
	var out []string
	if s.positionalModel && len(argv) > s.words && !strings.HasPrefix(argv[s.words], "-") {
		out = append(out, argv[s.words])
	}
	for i := s.words; i < len(argv); i++ {
		for _, f := range s.fileFlags {
			if argv[i] == f && i+1 < len(argv) {
				out = append(out, argv[i+1])
			} else if v, ok := strings.CutPrefix(argv[i], f+"="); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func (s *smokeServer) modeList() string {
	return strings.Join(s.modes[:len(s.modes)-1], ", ") + " or " + s.modes[len(s.modes)-1]
}

func (s *smokeServer) hasMode(m string) bool {
	for _, x := range s.modes {
		if x == m {
			return true
		}
	}
	return false
}

// loadFlags maps a mode to the flags the installed build accepts, read from its --help:
// llama.cpp replaced --no-mmap/--mmap/--direct-io with -lm/--load-mode in 2026.
func loadFlags(mode, help string) ([]string, error) {
	hasLoadMode := strings.Contains(help, "--load-mode")
	switch mode {
	case "default":
		return nil, nil
	case "mmap":
		if hasLoadMode {
			return []string{"--load-mode", "mmap"}, nil
		}
		return nil, nil // mmap is the older builds' default
	case "no-mmap":
		if hasLoadMode {
			return []string{"--load-mode", "none"}, nil
		}
		if strings.Contains(help, "--no-mmap") {
			return []string{"--no-mmap"}, nil
		}
	case "dio":
		if hasLoadMode {
			return []string{"--load-mode", "dio"}, nil
		}
		if strings.Contains(help, "--direct-io") {
			return []string{"--direct-io"}, nil
		}
	}
	return nil, fmt.Errorf("this build accepts no flag for mode %s (its --help lists neither --load-mode nor the older flag)", mode)
}

// vllmFlags maps a mode to the flags `vllm serve --help=all` offers: the default reads
// safetensors lazily through mmap; eager reads each file whole first; fastsafetensors loads
// through the fastsafetensors library (from the same venv).
func vllmFlags(mode, help string) ([]string, error) {
	switch mode {
	case "default":
		return nil, nil
	case "eager":
		if strings.Contains(help, "--safetensors-load-strategy") {
			return []string{"--safetensors-load-strategy", "eager"}, nil
		}
		return nil, fmt.Errorf("this vLLM's serve --help lists no --safetensors-load-strategy (it reads safetensors lazily only)")
	case "fastsafetensors":
		if strings.Contains(help, "--load-format") && strings.Contains(help, "fastsafetensors") {
			return []string{"--load-format", "fastsafetensors"}, nil
		}
		return nil, fmt.Errorf("this vLLM's serve --help does not offer --load-format fastsafetensors")
	}
	return nil, fmt.Errorf("vLLM has no mode %s", mode)
}

var versionRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,40}$`)

// llamaVersion reads `llama-server --version`: "version: 6800 (19a5a3ed)" (older builds) or
// "version: 0.4.1-dev (build 10991, commit 19a5a3ed)" (2026) → what follows "version: ".
func llamaVersion(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "version: "); ok {
			return boundedLine(v, 80)
		}
	}
	return ""
}

// vllmVersion reads `vllm --version`: the last line that is a version number (log lines may
// come first).
func vllmVersion(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); versionRe.MatchString(l) {
			return l
		}
	}
	return ""
}

// boundedLine keeps printable ASCII of host output, at most n bytes.
func boundedLine(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f && b.Len() < n {
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

//go:embed scripts/smoke-probe.sh
var smokeProbeSh string

//go:embed scripts/fst-check.sh
var fstCheckSh string

// smokeProbeScript checks the program and the model files it is given, then asks the server, in
// one exec, for its help (every option, bounded), its version and, with fst, whether its venv
// imports fastsafetensors; sections are separated by lines "MARK version" and "MARK fst". Exit
// 127: the program is not on the host; 126: someone else could replace it; 125: someone else
// could write a model file or directory (stderr "PATH<TAB>why").
func smokeProbeScript(srv *smokeServer, argv []string, fst bool, mark string) string {
	f := "0"
	if fst {
		f = "1"
	}
	prog := argv[:min(srv.words, len(argv))]
	args := append(append([]string{f, srv.help, srv.helpFallback, mark, strconv.Itoa(len(prog)), "--"}, prog...), srv.modelPaths(argv)...)
	return trustLib + fstCheckSh + "set -- " + provider.QuoteAll(args...) + "\n" + smokeProbeSh
}

// smokeFacts is what smokeProbeScript found.
type smokeFacts struct {
	help, build string
	fst         fstStatus
}

func parseSmokeProbe(srv *smokeServer, out, mark string) smokeFacts {
	var f smokeFacts
	help, rest, _ := strings.Cut(out, "\n"+mark+" version\n")
	version, fst, _ := strings.Cut(rest, "\n"+mark+" fst\n")
	f.help = help
	f.build = srv.version(version)
	f.fst = parseFstCheck(fst)
	return f
}

// fstStatus is what fst-check found of a program's venv.
type fstStatus struct {
	// state: "ok" (imports, version in detail), "error" (the import fails: detail), "novenv"
	// (the program is not in a venv sparkform can find), "untrusted" (a non-root user could
	// replace the venv's python: not run, detail names the path) or "" (not checked).
	state, detail string
}

func parseFstCheck(out string) fstStatus {
	for _, l := range parseProbe([]byte(out)) {
		if l.tag != "fst" || len(l.args) == 0 {
			continue
		}
		st := fstStatus{state: l.args[0]}
		switch st.state {
		case "ok", "error", "novenv", "untrusted":
		default:
			// fst-check prints nothing else: an unknown state is a failed check, said so, not
			// taken as "not checked" (nor kept raw in the observed value)
			return fstStatus{state: "error", detail: fmt.Sprintf("the check printed an unknown result %q", boundedLine(st.state, 40))}
		}
		if len(l.args) > 1 {
			switch st.state {
			case "ok", "error":
				if d, err := decodeB64(l.args[1]); err == nil {
					st.detail = boundedLine(strings.ReplaceAll(strings.TrimSpace(d), "\n", " | "), 300)
				}
			default:
				st.detail = boundedLine(strings.Join(l.args[1:], " "), 300)
			}
		}
		return st
	}
	return fstStatus{}
}

// randomToken is 24 hex digits nobody's output can guess.
func randomToken() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
