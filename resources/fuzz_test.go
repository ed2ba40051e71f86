package resources

import (
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/zclconf/go-cty/cty"
)

// Fuzz targets for the parsers of what a host or a package supplies: grub.cfg, pip's package
// metadata and specs, a venv's report, llama.cpp's manifest and CMakeCache.txt, udev rules and
// the smoke test's output. Seed corpora are in testdata/fuzz/; `.ci/fuzz` runs each briefly.

// FuzzParseGrubMenu: any grub.cfg gives a menu whose entries and default kernel can be computed
// without panicking; every kernel named is a kernel release a linux line of the file wrote (its
// quotes and backslash escapes taken out, as GRUB's lexer does: vmlinuz-"6.17..." is that
// kernel), and no entry path (grub-set-default's operand) starts with '-' or holds a control
// character.
func FuzzParseGrubMenu(f *testing.F) {
	for _, name := range []string{"testdata/kernel-grub.cfg", "testdata/kernel-grub-debian.cfg"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(string(b), "0", "")
		}
	}
	f.Add("menuentry 'Ubuntu' --class ubuntu $menuentry_id_option 'gnulinux-simple-x' {\n\tlinux /boot/vmlinuz-6.17.0-1014-nvidia root=UUID=x ro\n}\nsubmenu 'Advanced' $menuentry_id_option 'gnulinux-advanced-x' {\n\tmenuentry 'Ubuntu, with Linux 6.11.0-1016-nvidia' $menuentry_id_option 'gnulinux-6.11.0-1016-nvidia-advanced-x' {\n\t\tlinux /boot/vmlinuz-6.11.0-1016-nvidia\n\t}\n}\n", "1>0", "saved_entry=gnulinux-advanced-x>gnulinux-6.11.0-1016-nvidia-advanced-x")
	f.Add("}\n}\nmenuentry \"a\\\" {\n{\nlinux vmlinuz-x\n", "saved", "")
	f.Fuzz(func(t *testing.T, cfg, def, env string) {
		m := parseGrubMenu(cfg)
		unquoted := strings.NewReplacer("\\\n", "", "\\", "", "'", "", `"`, "").Replace(cfg)
		for k, path := range m.entries() {
			if !strings.Contains(unquoted, "vmlinuz-"+k) || !kernelRelRe.MatchString(k) {
				t.Fatalf("entry kernel %q is not one in the file", k)
			}
			if strings.HasPrefix(path, "-") || HasControl(path) {
				t.Fatalf("entry path %q could be read as an option or hides characters", path)
			}
		}
		if k := m.defaultKernel(def, parseGrubEnv(env)); k != "" && (!strings.Contains(unquoted, "vmlinuz-"+k) || !kernelRelRe.MatchString(k)) {
			t.Fatalf("default kernel %q is not one in the file", k)
		}
	})
}

// FuzzParsePkgSpec: a spec pip would get is accepted only when it cannot be read as an option or
// split into several arguments: no leading '-', no whitespace or control character.
func FuzzParsePkgSpec(f *testing.F) {
	for _, s := range []string{"fastsafetensors==0.3.2", "vllm>=0.10,<0.11", "a[b]==1", "-e .", "x==1\ny", "torch ==2.8.0", "Pkg_Name.x~=1.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := parsePkgSpec(s)
		if !ok {
			return
		}
		if strings.HasPrefix(s, "-") || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) }) {
			t.Fatalf("accepted %q", s)
		}
		if p.Name == "" || strings.ContainsAny(p.Name, " \t\n") {
			t.Fatalf("%q: name %q", s, p.Name)
		}
	})
}

// FuzzParseVenvReport: what a venv's interpreter prints (untrusted: anyone who owns the venv
// controls it) decodes or fails, never panics; a manifest read from the host likewise.
func FuzzParseVenvReport(f *testing.F) {
	f.Add("eyJweXRob24iOiAiMy4xMi4zIiwgImRpc3RzIjogeyJmYXN0c2FmZXRlbnNvcnMiOiAiMC4zLjIifX0=", `{"managed_by":"sparkform","packages":["a==1"]}`)
	f.Add("bm90IGpzb24=", "")
	f.Fuzz(func(t *testing.T, enc, manifest string) {
		if r, err := parseVenvReport(enc); err == nil && r.Python == "" {
			t.Fatal("a report without an interpreter version was accepted")
		}
		parseVenvManifest(cty.StringVal(manifest))
	})
}

// FuzzLlamaParsers: llama.cpp's manifest and a CMakeCache.txt from the host parse or fail; an
// accepted manifest (its commit and version go into state) has an object id as its commit, a
// build time that is not negative and a bounded printable version; every flag parseCMakeCache
// returns is one the file sets.
func FuzzLlamaParsers(f *testing.F) {
	f.Add(`{"managed_by":"sparkform","source":"https://x/y.git","ref":"b6800","commit":"0123456789abcdef0123456789abcdef01234567"}`, "GGML_CUDA:BOOL=ON\nCMAKE_CUDA_ARCHITECTURES:STRING=121a-real\nCMAKE_BUILD_TYPE:STRING=Release\n")
	f.Add("{", "X:STRING=$(id)\n-DX=1\n")
	f.Fuzz(func(t *testing.T, manifest, cache string) {
		if m, ok := parseLlamaManifest(manifest); ok && (!llamaManifestCommitRe.MatchString(m.Commit) || m.Seconds < 0 || len(m.Version) > 80 || !printableASCII(m.Version)) {
			t.Fatalf("manifest accepted with commit %q, %v s, version %q", m.Commit, m.Seconds, m.Version)
		}
		flags, _ := parseCMakeCache(cache)
		for k := range flags {
			if !strings.Contains(cache, k) {
				t.Fatalf("flag %q is not in the cache", k)
			}
		}
	})
}

// FuzzParseUdevRule: a udev rule line from the host is parsed or refused; a read-ahead it sets is
// a whole number of KiB written plainly (no sign, no leading zero), one the line holds.
func FuzzParseUdevRule(f *testing.F) {
	f.Add(`ACTION=="add|change", KERNEL=="nvme0n1", SUBSYSTEM=="block", ATTR{queue/read_ahead_kb}="8192"`)
	f.Add(`KERNEL=="nvme*", ATTR{queue/read_ahead_kb}:="x"`)
	f.Add(`KERNEL=="nvme*", ATTR{queue/read_ahead_kb}="+0042"`)
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := parseUdevRule(line)
		if !ok || r.kb == "" {
			return
		}
		if n, err := strconv.ParseUint(r.kb, 10, 64); err != nil || strconv.FormatUint(n, 10) != r.kb || !strings.Contains(line, strings.TrimLeft(r.kb, "0")) {
			t.Fatalf("%q sets read-ahead %q", line, r.kb)
		}
	})
}

// FuzzParseSmokeRun: the run report is refused or holds only what smoke-run.sh can print: a
// known status, a load time from 0 to 2^40 ms, "via" set exactly when ready, a port number or
// none; and the report the script would print for it parses back to the same run.
func FuzzParseSmokeRun(f *testing.F) {
	f.Add([]byte("status ready\nms 21873\nvia health\nport 8080\ntail c3RhcnRlZA==\n"))
	f.Add([]byte("status exited-1\nms 12\nvia \nport \ntail \n"))
	f.Add([]byte("ms x\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		r, err := parseSmokeRun(out)
		if err != nil {
			return
		}
		if r.seconds < 0 || r.seconds > (1<<40)/1000 {
			t.Fatalf("load time %v s", r.seconds)
		}
		if !smokeStatusOK(r.status) || (r.status == "ready") != (r.via == "output" || r.via == "health") {
			t.Fatalf("status %q via %q", r.status, r.via)
		}
		if strings.Trim(strings.TrimPrefix(r.port, "+"), "0123456789") != "" || len(r.port) > 6 {
			t.Fatalf("port %q", r.port)
		}
		again := fmt.Sprintf("status %s\nms %d\nvia %s\nport %s\ntail %s\n", r.status, int64(math.Round(r.seconds*1000)), r.via, r.port, base64.StdEncoding.EncodeToString([]byte(r.tail)))
		if back, err := parseSmokeRun([]byte(again)); err != nil || back != r {
			t.Fatalf("%+v printed as the script would and parsed again: %+v, %v", r, back, err)
		}
	})
}

// FuzzParseSmokeProbe: what a server prints for --help and --version and what the
// fastsafetensors check prints are host text: the build shown is printable ASCII of at most 80
// bytes (a vLLM version is a version's shape), the check's result is one fst-check prints and its
// detail printable ASCII of at most 300 bytes.
func FuzzParseSmokeProbe(f *testing.F) {
	const mark = "sparkform-0123456789abcdef01234567"
	f.Add("usage: llama-server [options]\n  --load-mode\n\n"+mark+" version\nversion: 6800 (19a5a3ed)\n\n"+mark+" fst\nfst ok MC4zLjI=\n", false)
	f.Add("usage: vllm serve\n"+mark+" version\nINFO x\n0.10.2\n"+mark+" fst\nfst untrusted /opt/v en v/bin/python\n", true)
	f.Add(mark+" version\n"+mark+" fst\nfst \x1b[2Jbad\n", false)
	f.Fuzz(func(t *testing.T, out string, vllm bool) {
		srv := smokeServers["llama.cpp"]
		if vllm {
			srv = smokeServers["vllm"]
		}
		facts := parseSmokeProbe(srv, out, mark)
		if len(facts.build) > 80 || !printableASCII(facts.build) || vllm && facts.build != "" && !versionRe.MatchString(facts.build) {
			t.Fatalf("build %q", facts.build)
		}
		switch facts.fst.state {
		case "", "ok", "error", "novenv", "untrusted":
		default:
			t.Fatalf("fastsafetensors check %q", facts.fst.state)
		}
		if len(facts.fst.detail) > 300 || !printableASCII(facts.fst.detail) {
			t.Fatalf("detail %q", facts.fst.detail)
		}
	})
}

func printableASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r >= 0x7f })
}
