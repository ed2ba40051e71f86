package resources

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Each load mode's flags come from the server's own --help: llama-server's (--no-mmap before
// the --load-mode option, which has dio) and vllm serve's (safetensors load strategy,
// fastsafetensors as a load format); a mode the server has no flag for is an error.
func TestSmokeLoadFlagsFollowTheServersHelp(t *testing.T) {
	llamaOld := "usage: llama-server\n  --no-mmap   do not memory-map model\n"
	llamaNew := "usage: llama-server\n  -lm, --load-mode {auto,none,mmap,mlock,mmap+mlock,dio}\n"
	vllmFull := "LoadConfig:\n  --load-format LOAD_FORMAT  \"auto\", \"safetensors\", \"fastsafetensors\"\n  --safetensors-load-strategy SAFETENSORS_LOAD_STRATEGY\n"
	vllmOld := "  --load-format {auto,pt,safetensors,npcache,dummy}\n"
	for _, c := range []struct {
		flagsOf          func(mode, help string) ([]string, error)
		mode, help, want string // want "error": the server has no flag for the mode
	}{
		{loadFlags, "no-mmap", llamaOld, "--no-mmap"},
		{loadFlags, "no-mmap", llamaNew, "--load-mode none"},
		{loadFlags, "mmap", llamaOld, ""},
		{loadFlags, "mmap", llamaNew, "--load-mode mmap"},
		{loadFlags, "dio", llamaNew, "--load-mode dio"},
		{loadFlags, "dio", llamaOld, "error"},
		{vllmFlags, "default", vllmFull, ""},
		{vllmFlags, "eager", vllmFull, "--safetensors-load-strategy eager"},
		{vllmFlags, "fastsafetensors", vllmFull, "--load-format fastsafetensors"},
		{vllmFlags, "eager", vllmOld, "error"},
		{vllmFlags, "fastsafetensors", vllmOld, "error"},
	} {
		got, err := c.flagsOf(c.mode, c.help)
		s := strings.Join(got, " ")
		if err != nil {
			s = "error"
		}
		if s != c.want {
			t.Errorf("%s with help %.30q: %q, want %q", c.mode, c.help, s, c.want)
		}
	}
}

// The probe's sections are split on a random mark; help text cannot forge them, and versions
// are read in each server's own format.
func TestSmokeProbeOutputGivesHelpVersionAndFastsafetensors(t *testing.T) {
	mark := "sparkform-" + randomToken()
	out := "usage: vllm serve\n  --load-format LOAD_FORMAT fastsafetensors\nsparkform-fake version\n" +
		"\n" + mark + " version\nINFO 12-01 [__init__.py:216] Automatically detected platform cuda.\n0.11.0\n" +
		"\n" + mark + " fst\nfst ok " + base64.StdEncoding.EncodeToString([]byte("0.3.2\n")) + "\n"
	f := parseSmokeProbe(smokeServers["vllm"], out, mark)
	if !strings.Contains(f.help, "--load-format") || f.build != "0.11.0" || f.fst.state != "ok" || f.fst.detail != "0.3.2" {
		t.Errorf("%+v", f)
	}
	for in, want := range map[string]string{
		"version: 6800 (19a5a3ed)\nbuilt with cc for x86_64":  "6800 (19a5a3ed)",
		"version: 0.4.1-dev (build 10991, commit 19a5a3ed)\n": "0.4.1-dev (build 10991, commit 19a5a3ed)",
		"version: 6800 \x1b[31m(evil)\n":                      "6800 [31m(evil)",
		"no version here":                                     "",
	} {
		if got := llamaVersion(in); got != want {
			t.Errorf("llamaVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// The plan's fastsafetensors check runs the venv's python only if nobody but root (or the login
// user) could have put it there (sf_untrusted); it reports what it found in one line.
func TestFstCheckRunsTheVenvsPythonOnlyWhenOnlyRootCanReplaceIt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check wants root-owned files")
	}
	needProgram(t, "dash")
	venv := filepath.Join(t.TempDir(), "venv")
	python := filepath.Join(venv, "bin", "python")
	writeProgram(t, filepath.Join(venv, "bin", "vllm"), "#!/bin/sh\n")
	if err := os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(program string) fstStatus {
		t.Helper()
		out, err := exec.Command("dash", "-c", trustLib+fstCheckSh+"fst_check "+program).Output()
		if err != nil {
			t.Fatalf("fst_check %s: %v", program, err)
		}
		return parseFstCheck(string(out))
	}
	writeProgram(t, python, "#!/bin/sh\necho 0.3.2\n")
	if st := check(filepath.Join(venv, "bin", "vllm")); st.state != "ok" || st.detail != "0.3.2" {
		t.Errorf("root-owned venv that imports it: %+v", st)
	}
	writeProgram(t, python, "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'fastsafetensors'\" >&2\nexit 1\n")
	if st := check(filepath.Join(venv, "bin", "vllm")); st.state != "error" || !strings.Contains(st.detail, "No module named 'fastsafetensors'") {
		t.Errorf("venv without it: %+v", st)
	}
	os.Chmod(filepath.Join(venv, "bin"), 0o775)
	if st := check(filepath.Join(venv, "bin", "vllm")); st.state != "untrusted" || st.detail != python {
		t.Errorf("group-writable bin: %+v", st)
	}
	os.Chmod(filepath.Join(venv, "bin"), 0o755)
	os.Chown(python, 1000, 1000)
	if st := check(filepath.Join(venv, "bin", "vllm")); st.state != "untrusted" || st.detail != python {
		t.Errorf("python owned by uid 1000: %+v", st)
	}
	if st := check("/bin/sh"); st.state != "novenv" {
		t.Errorf("a program outside any venv: %+v", st)
	}
}

// The fastsafetensors check prints one of four results; anything else from the host is a failed
// check saying what it printed (bounded, printable), not a state kept raw in the observed value
// or taken as "not checked".
func TestFstCheckTakesAnUnknownResultAsAFailedCheck(t *testing.T) {
	st := parseFstCheck("fst \x1b]0;owned\x07" + strings.Repeat("x", 500) + " detail\n")
	if st.state != "error" || !strings.Contains(st.detail, "unknown result") || len(st.detail) > 100 || !printableASCII(st.detail) {
		t.Errorf("%+v", st)
	}
	if st := parseFstCheck("fst novenv\n"); st.state != "novenv" {
		t.Errorf("novenv: %+v", st)
	}
}
