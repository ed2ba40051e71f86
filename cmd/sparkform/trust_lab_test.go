package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// editPlan rewrites a saved plan file through f, which gets the decoded JSON.
func editPlan(t *testing.T, file string, f func(p map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	f(p)
	if b, err = json.Marshal(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// planChange is the JSON of the change at addr on the plan's first host.
func planChange(t *testing.T, p map[string]any, addr string) map[string]any {
	t.Helper()
	host := p["hosts"].([]any)[0].(map[string]any)
	for _, c := range host["changes"].([]any) {
		if c := c.(map[string]any); c["addr"] == addr {
			return c
		}
	}
	t.Fatalf("no change %s in the plan", addr)
	return nil
}

// The attack: a saved plan whose llama_cpp targets were edited to run a command ran it
// as root on the host (targets went unquoted into an echo). A plan file is input like HCL now:
// every edit that no configuration could produce is refused before any host is touched.
func TestEditedSavedPlanIsRefusedAndRunsNothingOnTheHost(t *testing.T) {
	l := needLab(t)
	const canary = "/tmp/sparkform-plan-canary"
	resetHosts(t, "spark-01")
	onHost(t, l, "spark-01", "rm -rf "+canary+" /opt/trust-llama")
	dir := configDir(t, l, map[string]string{"main.hcl": `
llama_cpp "fleet" {
  source        = "/srv/git/llama.cpp.git"
  ref           = "b6800"
  dir           = "/opt/trust-llama"
  targets       = ["llama-server"]
  build_timeout = "5m"
}
sysctl "loading" {
  values = { "vm.swappiness" = "10" }
}
`})
	planFile := filepath.Join(dir, "p.plan")
	if code, out, stderr := cli(t, "plan", dir, "-host", "spark-01", "-out", planFile); code != 0 {
		t.Fatalf("plan -out: %d\n%s\n%s", code, out, stderr)
	}
	pristine, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := func() string {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	}()
	for _, c := range []struct {
		name, want string
		edit       func(p map[string]any)
		atDial     bool // refused when connecting (state pins no key yet), not when the file is read
	}{
		{"targets run a command", "targets", func(p map[string]any) {
			d := planChange(t, p, "llama_cpp.fleet")["desired"].(map[string]any)["value"].(map[string]any)
			d["targets"] = []any{"llama-server", "$(id > " + canary + ")"}
		}, false},
		{"connection user is an ssh option", "user", func(p map[string]any) {
			host := p["hosts"].([]any)[0].(map[string]any)
			host["connection"].(map[string]any)["User"] = "-oProxyCommand=touch " + canary
		}, false},
		{"pinned host key is not the host's", "host key", func(p map[string]any) {
			host := p["hosts"].([]any)[0].(map[string]any)
			host["host_key"] = otherKey
		}, true},
		{"original value nobody had", "differs from the state", func(p map[string]any) {
			planChange(t, p, "sysctl.loading")["prior_original"] = map[string]any{
				"type": []any{"map", "string"}, "value": map[string]any{"kernel.core_pattern": "|/bin/sh -c 'touch " + canary + "'"}}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(planFile, pristine, 0o600); err != nil {
				t.Fatal(err)
			}
			editPlan(t, planFile, c.edit)
			code, out, stderr := cli(t, "apply", planFile)
			if code != 1 || !c.atDial && !strings.Contains(stderr, "nothing was applied") || !strings.Contains(stderr+out, c.want) {
				t.Fatalf("edited plan: exit %d, want 1 naming %q and saying nothing was applied:\n%s\n%s", code, c.want, stderr, out)
			}
			if got := onHost(t, l, "spark-01", "ls "+canary+" /opt/trust-llama 2>/dev/null; sysctl -n vm.swappiness"); got != "60" {
				t.Fatalf("the host was changed by a refused plan: %q", got)
			}
		})
	}
	// The pristine plan still applies: the checks refuse edits, not plans.
	if err := os.WriteFile(planFile, pristine, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := cli(t, "apply", planFile); code != 0 {
		t.Fatalf("pristine plan: %d\n%s\n%s", code, out, stderr)
	}
	onHost(t, l, "spark-01", "rm -rf /opt/trust-llama /etc/sysctl.d/90-sparkform-*; sysctl -q -w vm.swappiness=60")
}

// plan runs as root, and used to run a venv's bin/python and llama-server --help wherever they
// were: a deploy-owned venv whose bin/python was a shell script got uid 0. Now a program
// sparkform did not install is run only when root (or the login user) alone could have put it
// there; otherwise the resource fails on that host, naming the program and why.
func TestPlanDoesNotRunProgramsANonRootUserCanReplace(t *testing.T) {
	l := needLab(t)
	const canary = "/tmp/sparkform-untrusted-canary"
	setup := `rm -rf /opt/deployvenv /opt/deployllama ` + canary + `
mkdir -p /opt/deployvenv/bin /opt/deployllama/builds/0123456789ab/bin
printf 'home = /usr/bin\n' > /opt/deployvenv/pyvenv.cfg
printf '#!/bin/sh\nid >> ` + canary + `\n' > /opt/deployvenv/bin/python
cp /opt/deployvenv/bin/python /opt/deployllama/builds/0123456789ab/bin/llama-server
chmod 755 /opt/deployvenv/bin/python /opt/deployllama/builds/0123456789ab/bin/llama-server
ln -s builds/0123456789ab /opt/deployllama/current
chown -R deploy:deploy /opt/deployvenv /opt/deployllama`
	onHost(t, l, "spark-02", setup)
	defer onHost(t, l, "spark-02", "rm -rf /opt/deployvenv /opt/deployllama "+canary)
	dir := configDir(t, l, map[string]string{"main.hcl": `
python_venv "v" {
  path     = "/opt/deployvenv"
  packages = []
}
llama_cpp "l" {
  source = "/srv/git/llama.cpp.git"
  ref    = "b6800"
  dir    = "/opt/deployllama"
}
`})
	code, out, stderr := cli(t, "plan", dir, "-host", "spark-02")
	for _, want := range []string{
		"untrusted: not running /opt/deployvenv/bin/python: /opt/deployvenv is owned by deploy",
		"untrusted: not running /opt/deployllama/current/bin/llama-server: /opt/deployllama is owned by deploy",
	} {
		if code != 1 || !strings.Contains(stderr+out, want) {
			t.Errorf("plan: exit %d, want 1 and %q:\n%s\n%s", code, want, stderr, out)
		}
	}
	// capture -venv reads a venv by running its python: the same rule.
	if _, out, stderr := cli(t, "capture", "spark-02", "-dir", dir, "-venv", "/opt/deployvenv"); !strings.Contains(out+stderr, "not captured: untrusted: not running /opt/deployvenv/bin/python") {
		t.Errorf("capture -venv of a deploy-owned venv:\n%s\n%s", out, stderr)
	}
	if got := onHost(t, l, "spark-02", "cat "+canary+" 2>/dev/null; true"); got != "" {
		t.Fatalf("plan or capture ran a program deploy could replace, as: %s", got)
	}
	// The same files owned by root are run: the ownership is what stopped them.
	onHost(t, l, "spark-02", "chown -R root:root /opt/deployvenv /opt/deployllama")
	cli(t, "plan", dir, "-host", "spark-02")
	if got := onHost(t, l, "spark-02", "cat "+canary+" 2>/dev/null; true"); !strings.Contains(got, "uid=0") {
		t.Fatalf("root-owned programs were not run by plan (canary %q): the test proves nothing", got)
	}
	// A group-writable directory on the way is as bad as a foreign owner.
	onHost(t, l, "spark-02", "rm -f "+canary+"; chmod g+w /opt/deployvenv/bin")
	if _, out, stderr := cli(t, "plan", dir, "-host", "spark-02"); !strings.Contains(stderr+out, "/opt/deployvenv/bin is writable by its group") {
		t.Errorf("group-writable bin/ not refused:\n%s\n%s", stderr, out)
	}
}
