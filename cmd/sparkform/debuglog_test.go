package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDebugLogRecordsTheCommandAndEachConnection(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "debug.log")
	// Port 1 on loopback refuses at once: the dial fails fast, and the log must say so.
	writeFiles(t, dir, map[string]string{"main.hcl": "variable \"secret\" {\n  type = string\n  default = \"\"\n}\n" + unreachableHost})
	t.Setenv("SPARKFORM_LOG", "debug")
	t.Setenv("SPARKFORM_LOG_PATH", logFile)
	code, _, _ := cli(t, "plan", dir, "-var", "secret=hunter2", "-connect-timeout", "2")
	if code != 1 {
		t.Errorf("plan of an unreachable host: exit %d", code)
	}
	log := readFile(t, logFile)
	wantAll(t, "debug log", log, "sparkform start", "command=plan", "msg=dial host=spark-01", "connect_timeout=2s", "msg=dialed host=spark-01", "error=", "sparkform end")
	if strings.Contains(log, "hunter2") {
		t.Errorf("debug log holds a -var value:\n%s", log)
	}
}
