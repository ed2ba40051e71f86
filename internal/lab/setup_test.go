package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Tests of the set-up from nothing: scripts/install-deps.sh, shared by examples/quickstart.sh and
// .ci/run, installs everything the lab's preflight asks for.

const installScript = "../../scripts/install-deps.sh"

// scriptPackages reads the apt package list (the packages=( ... ) array) of install-deps.sh.
func scriptPackages(t *testing.T) map[string]bool {
	b, err := os.ReadFile(installScript)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\npackages=\((.*?)\n\)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("install-deps.sh has no packages=( ... ) list")
	}
	pkgs := map[string]bool{}
	for _, line := range strings.Split(string(m[1]), "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, p := range strings.Fields(line) {
			pkgs[p] = true
		}
	}
	return pkgs
}

func TestInstallScriptInstallsEveryProgramTheLabNeeds(t *testing.T) {
	pkgs := scriptPackages(t)
	// Essential packages are on every Debian and Ubuntu system; apt cannot lack them.
	essential := map[string]bool{"mount": true, "coreutils": true, "dpkg": true}
	for _, c := range requiredCommands {
		if !pkgs[c.pkg] && !essential[c.pkg] {
			t.Errorf("the lab runs %s (package %s), which install-deps.sh does not install", c.name, c.pkg)
		}
	}
}

func TestSetupScriptsAreShellcheckClean(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck is required under CI (install-deps.sh installs it)")
		}
		t.Skip("shellcheck not installed (scripts/install-deps.sh installs it)")
	}
	out, err := exec.Command(sc, installScript, "../../examples/quickstart.sh", "../../.ci/run").CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// The check path lists exactly what is missing and exits 1, or says all is present and exits 0;
// under CI (after .ci/run ran the script) everything must be present.
func TestInstallScriptCheckSaysWhatIsMissing(t *testing.T) {
	out, err := exec.Command("bash", installScript, "--check").CombinedOutput()
	s := string(out)
	switch {
	case err == nil && strings.TrimSpace(s) == "all set-up present":
	case err != nil && strings.Contains(s, "missing") && !strings.Contains(s, "all set-up present"):
		if os.Getenv("CI") != "" {
			t.Errorf("under CI, after install-deps.sh ran, --check still finds: %s", s)
		}
	default:
		t.Errorf("install-deps.sh --check: %v\n%s", err, s)
	}
}

// A user who is not root gets told what to run instead of an apt permission error.
func TestSetupAsNonRootSaysWhatToRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the scripts as another user")
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		t.Skip("no runuser")
	}
	for _, script := range []string{installScript, "../../examples/quickstart.sh"} {
		abs, _ := filepath.Abs(script)
		out, err := exec.Command("runuser", "-u", "nobody", "--", "bash", abs).CombinedOutput()
		if err == nil {
			t.Errorf("%s as nobody succeeded:\n%s", script, out)
			continue
		}
		if !strings.Contains(string(out), "needs root") || !strings.Contains(string(out), "sudo ") {
			t.Errorf("%s as nobody should say it needs root and what to run:\n%s", script, out)
		}
	}
}
