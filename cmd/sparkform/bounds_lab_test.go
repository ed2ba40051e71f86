package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A server that prints about 1 MiB to stderr (20 lines of 52 KiB, then the telling one) and
// fails: its smoke test's failure quotes the output's last 20 lines, which the views and the
// state get as an excerpt while the run log keeps the whole.
func TestAHostsMegabyteOfErrorOutputIsShownAndStoredBoundedWithTheWholeInTheRunLog(t *testing.T) {
	const host = "spark-03"
	config := strings.Replace(smokeConfig(""), "/opt/smoke-llama/build/bin/llama-server", "/opt/loud/llama-server", 1)
	l, dir := freshLab(t, map[string]string{"main.hcl": config}, host)
	onHost(t, l, host, `mkdir -p /opt/loud && printf '%s\n' '#!/bin/sh' \
		'line=$(head -c 53000 /dev/zero | tr "\0" x)' \
		'i=0; while [ $i -lt 20 ]; do echo "noise $i $line" >&2; i=$((i+1)); done' \
		'echo "fatal: the line that explains it" >&2' 'exit 3' >/opt/loud/llama-server && chmod 755 /opt/loud/llama-server`)
	defer onHost(t, l, host, "rm -rf /opt/loud")
	var boundedAs func(what, s, command string)

	bounded := func(what, s string) {
		t.Helper()
		boundedAs(what, s, "test-")
	}
	boundedAs = func(what, s, command string) {
		t.Helper()
		if len(s) > 16<<10 {
			t.Errorf("%s: %d bytes; want an excerpt of a few KiB", what, len(s))
		}
		if !strings.Contains(s, "fatal: the line that explains it") || !strings.Contains(s, "of host output left out; the full text is in the run log "+filepath.Join(dir, ".sparkform", "logs", command)) {
			t.Errorf("%s lacks the telling line or what was left out and where:\n%.3000s", what, s)
		}
	}
	code, out, stderr := cli(t, "test", dir, "-host", host)
	if code != 1 {
		t.Fatalf("test: exit %d\n%.2000s\n%.2000s", code, out, stderr)
	}
	bounded("the terminal", out+stderr)
	logs, _ := filepath.Glob(filepath.Join(dir, ".sparkform", "logs", "test-*", host+".log"))
	if len(logs) != 1 {
		t.Fatalf("run logs: %v", logs)
	}
	log, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "noise "); n < 19 || len(log) < 19*53000 { // the last 20 lines, whole
		t.Errorf("the run log does not hold the whole output: %d noise lines, %d bytes", n, len(log))
	}
	mmap := 0
	for _, r := range loadDirState(t, dir, "").Hosts[host].Tests {
		if r.Mode == "mmap" { // (no-mmap fails on this server's --help, which lists no flag for it)
			bounded("the state's test result", r.Message)
			mmap++
		}
	}
	if mmap != 1 {
		t.Errorf("%d mmap results in state, want 1", mmap)
	}

	code, out, stderr = cli(t, "test", dir, "-host", host, "-json")
	if code != 1 {
		t.Fatalf("test -json: exit %d\n%.2000s", code, stderr)
	}
	bounded("-json", out)
	if s := ofType(checkJSONUI(t, out), "test_summary"); len(s) != 1 || s[0]["tests"].(map[string]any)["failed_hosts"] != 1.0 {
		t.Errorf("test -json of a failing test: want one test_summary counting 1 failed host, got %v", s)
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 32<<10 {
			t.Errorf("-json line of %d bytes: %.300s", len(line), line)
		}
	}

	// apply: the sysctl change, then the test fails; the summary shows the error and its log's
	// last lines, bounded too.
	code, out, stderr = cli(t, "apply", dir, "-auto-approve", "-host", host)
	if code != 1 {
		t.Fatalf("apply: exit %d\n%.2000s\n%.2000s", code, out, stderr)
	}
	boundedAs("apply's terminal", out+stderr, "apply-")
}

// On a real host: a smoke test whose model another user owns fails without its server running,
// saying which model and why; the same model given back to root loads.
func TestSmokeTestOfAModelAnotherUserOwnsFailsWithoutRunningTheServer(t *testing.T) {
	const host = "spark-03"
	l, dir := freshLab(t, map[string]string{"main.hcl": `
smoke_test "m" {
  command = "/opt/quiet/llama-server -m /srv/sfmodels/m.gguf"
  modes   = ["default"]
  health  = ""
  timeout = "10s"
}
`}, host)
	onHost(t, l, host, `mkdir -p /opt/quiet /srv/sfmodels && printf '%s\n' '#!/bin/sh' 'touch /opt/quiet/ran' \
		'echo "main: server is listening on http://127.0.0.1:1"' 'sleep 30' >/opt/quiet/llama-server && chmod 755 /opt/quiet/llama-server && \
		echo GGUF >/srv/sfmodels/m.gguf && chown nobody /srv/sfmodels/m.gguf && rm -f /opt/quiet/ran`)
	defer onHost(t, l, host, "rm -rf /opt/quiet /srv/sfmodels")
	code, out, stderr := cli(t, "test", dir, "-host", host)
	if code != 1 || !strings.Contains(stderr, "untrusted: not loading the model /srv/sfmodels/m.gguf: /srv/sfmodels/m.gguf is owned by nobody") {
		t.Fatalf("test of a model nobody owns: exit %d\n%s\n%s", code, out, stderr)
	}
	if got := onHost(t, l, host, "ls /opt/quiet/ran 2>/dev/null || true"); got != "" {
		t.Errorf("the server ran on a model another user owns")
	}
	onHost(t, l, host, "chown root /srv/sfmodels/m.gguf")
	if code, out, stderr := cli(t, "test", dir, "-host", host); code != 0 {
		t.Errorf("test of a root-owned model: exit %d\n%s\n%s", code, out, stderr)
	}
}
