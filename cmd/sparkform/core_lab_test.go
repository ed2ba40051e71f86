package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/lab"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

const tuning = `
variable "swappiness" {
  type    = number
  default = 10
}

locals {
  ra = 8192
}

sysctl "loading" {
  values = { "vm.swappiness" = var.swappiness, "vm.dirty_ratio" = 10 }
}

readahead "nvme" {
  device = "nvme0n1"
  kb     = local.ra
}
`

// resetHosts puts the lab hosts back to the stock values these tests start from.
func resetHosts(t *testing.T, hosts ...string) {
	l := needLab(t)
	for _, h := range hosts {
		onHost(t, l, h, "rm -f /etc/sysctl.d/90-sparkform-* /etc/udev/rules.d/60-sparkform-*; sysctl -q -w vm.swappiness=60 vm.dirty_ratio=20; echo 128 > /sys/block/nvme0n1/queue/read_ahead_kb")
	}
}

var labHosts = []string{"spark-01", "spark-02", "spark-03"}

func TestPlanApplyConvergeDriftAndDestroyOnLab(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, labHosts...)

	code, out, stderr := cli(t, "plan", dir, "-detailed-exitcode")
	if code != 2 {
		t.Fatalf("plan on fresh hosts: exit %d, want 2\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{`+ sysctl "loading"`, `values["vm.swappiness"] = 60 -> 10`, `read_ahead_kb["nvme0n1"] = 128 -> 8192`, "Plan: 6 to add, 0 to change, 0 to destroy, on 3 hosts"} {
		if !containsSpaced(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}

	code, out, stderr = cli(t, "apply", dir, "-auto-approve")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, h := range labHosts {
		if got := onHost(t, l, h, "sysctl -n vm.swappiness vm.dirty_ratio | tr '\\n' ' '"); got != "10 10" {
			t.Errorf("%s: live sysctl = %q, want 10 10", h, got)
		}
		if got := onHost(t, l, h, "cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != "8192" {
			t.Errorf("%s: read_ahead_kb = %s", h, got)
		}
		if got := onHost(t, l, h, "grep -h '^vm' /etc/sysctl.d/90-sparkform-loading.conf | tr '\\n' ' '"); got != "vm.dirty_ratio = 10 vm.swappiness = 10" {
			t.Errorf("%s: sysctl.d file = %q", h, got)
		}
		if got := onHost(t, l, h, "grep -c 'ATTR{queue/read_ahead_kb}=\"8192\"' /etc/udev/rules.d/60-sparkform-readahead-nvme.rules"); got != "1" {
			t.Errorf("%s: udev rule missing", h)
		}
	}
	st := loadDirState(t, dir, "")
	for _, h := range labHosts {
		hs := st.Hosts[h]
		if hs == nil || hs.Resources["sysctl.loading"] == nil || hs.Resources["readahead.nvme"] == nil || hs.HostKey == "" {
			t.Fatalf("state for %s incomplete: %+v", h, hs)
		}
		orig := hs.Resources["sysctl.loading"].Original.Value
		if orig.Index(ctyStr("vm.swappiness")).AsString() != "60" {
			t.Errorf("%s: original swappiness not recorded: %#v", h, orig)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "sparkform.state.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", fi.Mode(), err)
	}

	code, out, _ = cli(t, "plan", dir, "-detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan after apply: exit %d, want 0 and No changes\n%s", code, out)
	}

	// Drift: a value changed by hand shows as changed outside sparkform, and apply repairs it.
	onHost(t, l, "spark-02", "sysctl -q -w vm.swappiness=33")
	code, out, _ = cli(t, "plan", dir, "-detailed-exitcode")
	if code != 2 || !strings.Contains(out, "changed outside sparkform") || !containsSpaced(out, `values["vm.swappiness"] = 33 -> 10`) {
		t.Fatalf("drift plan: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "spark-01 (") {
		t.Errorf("drift plan shows an unchanged host:\n%s", out)
	}
	if code, out, stderr = cli(t, "apply", dir, "-auto-approve"); code != 0 {
		t.Fatalf("repair apply: %d\n%s\n%s", code, out, stderr)
	}
	if got := onHost(t, l, "spark-02", "sysctl -n vm.swappiness"); got != "10" {
		t.Fatalf("drift not repaired: %s", got)
	}

	// Destroy: removing the sysctl block restores originals and removes the file.
	noSysctl := strings.Replace(tuning, `sysctl "loading" {
  values = { "vm.swappiness" = var.swappiness, "vm.dirty_ratio" = 10 }
}`, "", 1)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(noSysctl), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = cli(t, "plan", dir, "-detailed-exitcode")
	if code != 2 || !strings.Contains(out, "# sysctl.loading will be destroyed") || !strings.Contains(out, "3 to destroy") {
		t.Fatalf("destroy plan: exit %d\n%s", code, out)
	}
	if code, out, stderr = cli(t, "apply", dir, "-auto-approve"); code != 0 {
		t.Fatalf("destroy apply: %d\n%s\n%s", code, out, stderr)
	}
	for _, h := range labHosts {
		if got := onHost(t, l, h, "sysctl -n vm.swappiness vm.dirty_ratio | tr '\\n' ' '"); got != "60 20" {
			t.Errorf("%s: originals not restored: %q", h, got)
		}
		if got := onHost(t, l, h, "test -e /etc/sysctl.d/90-sparkform-loading.conf && echo present || echo gone"); got != "gone" {
			t.Errorf("%s: sysctl.d file not removed", h)
		}
	}
	code, _, _ = cli(t, "state", "list", "-state", filepath.Join(dir, "sparkform.state.json"))
	if code != 0 {
		t.Fatal("state list failed")
	}
}

func TestSavedPlanAppliesExactlyAndIsRefusedWhenStale(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, "spark-01")
	planFile := filepath.Join(dir, "p.plan")
	if code, out, stderr := cli(t, "plan", dir, "-host", "spark-01", "-out", planFile); code != 0 {
		t.Fatalf("plan -out: %d\n%s\n%s", code, out, stderr)
	}
	// A second plan file made now is applied first, so the first becomes stale.
	second := filepath.Join(dir, "p2.plan")
	if code, _, _ := cli(t, "plan", dir, "-host", "spark-01", "-out", second); code != 0 {
		t.Fatal("second plan failed")
	}
	if code, out, stderr := cli(t, "apply", second); code != 0 {
		t.Fatalf("apply saved plan: %d\n%s\n%s", code, out, stderr)
	}
	if got := onHost(t, l, "spark-01", "sysctl -n vm.swappiness"); got != "10" {
		t.Fatalf("saved plan not applied: %s", got)
	}
	code, _, stderr := cli(t, "apply", planFile)
	if code != 1 || !strings.Contains(stderr, "stale") {
		t.Fatalf("stale plan: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := cli(t, "apply", second, "-var", "swappiness=5"); code != 1 || !strings.Contains(stderr, "saved plan") {
		t.Fatalf("-var with a saved plan must be refused: %d %q", code, stderr)
	}
}

func TestHostileValuesAreRejectedBeforeAnyConnection(t *testing.T) {
	hosts := `host "h1" {
  address = "127.0.0.1"
  port    = 1
}
`
	cases := []struct{ name, body, want string }{
		{"shell in sysctl value", `sysctl "s" { values = { "vm.swappiness" = "10; touch /tmp/pwned" } }`, "main.hcl:1:"},
		{"newline in sysctl key", `sysctl "s" { values = { "vm.swappiness\nkernel.x" = "1" } }`, "main.hcl:1:"},
		{"path traversal in device", `readahead "r" {
  device = "../sda"
  kb     = 8192
}`, "main.hcl:2:"},
		{"unknown attribute", `readahead "r" {
  device = "sda"
  kb     = 8192
  speed  = 1
}`, "main.hcl:4:"},
		{"missing host", `sysctl "s" {
  values = { "vm.swappiness" = 1 }
  hosts  = ["nope"]
}`, "main.hcl:3:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte(hosts), 0o644)
			os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(c.body+"\n"), 0o644)
			code, out, stderr := cli(t, "plan", dir)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, want 1 with %q in stderr:\n%s\n%s", code, c.want, stderr, out)
			}
			// Nothing connected: a connection attempt to port 1 would have produced a host error.
			if strings.Contains(stderr+out, "connection refused") || strings.Contains(out, "could not be planned") {
				t.Fatalf("a connection was attempted:\n%s\n%s", out, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "sparkform.state.json")); err == nil {
				t.Fatal("state written for an invalid configuration")
			}
		})
	}
}

func TestChangedHostKeyIsRefusedAndOtherHostsProceed(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, labHosts...)
	// A known_hosts where spark-03's line carries spark-01's key: what a reinstalled or
	// impostor host looks like.
	kh, err := os.ReadFile(l.KnownHostsPath())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	var k1 string
	for _, ln := range lines {
		if strings.Contains(ln, hostAddr(t, l, "spark-01")+" ") {
			k1 = strings.SplitN(ln, " ", 2)[1]
		}
	}
	badLine := 0
	for i, ln := range lines {
		if strings.HasPrefix(ln, hostAddr(t, l, "spark-03")+" ") {
			lines[i] = hostAddr(t, l, "spark-03") + " " + k1
			badLine = i + 1
		}
	}
	if k1 == "" || badLine == 0 {
		t.Fatalf("known_hosts layout unexpected:\n%s", kh)
	}
	bad := filepath.Join(dir, "known_hosts")
	os.WriteFile(bad, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	hostsHCL, _ := os.ReadFile(filepath.Join(dir, "hosts.hcl"))
	os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte(strings.ReplaceAll(string(hostsHCL), l.KnownHostsPath(), bad)), 0o644)

	code, out, stderr := cli(t, "apply", dir, "-auto-approve")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	wantRef := bad + ":" + itoa(badLine)
	if !strings.Contains(stderr, "spark-03") || !strings.Contains(stderr, wantRef) {
		t.Fatalf("error must name spark-03 and %s:\n%s", wantRef, stderr)
	}
	for _, h := range []string{"spark-01", "spark-02"} {
		if got := onHost(t, l, h, "sysctl -n vm.swappiness"); got != "10" {
			t.Errorf("%s not applied while spark-03 was refused: %s", h, got)
		}
	}
	if got := onHost(t, l, "spark-03", "sysctl -n vm.swappiness"); got != "60" {
		t.Errorf("spark-03 changed despite the key mismatch: %s", got)
	}
}

func TestPartitionedHostFailsAloneWithinTimeouts(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, labHosts...)
	ctx := context.Background()
	if err := l.Partition(ctx, "spark-02"); err != nil {
		t.Fatal(err)
	}
	defer l.Heal(ctx, "spark-02")
	start := time.Now()
	code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-connect-timeout", "3s")
	took := time.Since(start)
	if code != 1 || !strings.Contains(stderr, "spark-02") {
		t.Fatalf("exit %d, want 1 naming spark-02\n%s\n%s", code, out, stderr)
	}
	if took > 30*time.Second {
		t.Errorf("partitioned host held the run for %s", took)
	}
	for _, h := range []string{"spark-01", "spark-03"} {
		if got := onHost(t, l, h, "sysctl -n vm.swappiness"); got != "10" {
			t.Errorf("%s not applied: %s", h, got)
		}
	}
}

func TestSecondApplyWaitsForTheLockOrFailsNamingTheHolder(t *testing.T) {
	_, dir := freshLab(t, map[string]string{"main.hcl": tuning}, "spark-01")
	// The first apply holds the lock while it waits at the confirmation prompt.
	first, stdinW := applyAtPrompt(t, dir, "-host", "spark-01")

	code, _, stderr := cli(t, "apply", dir, "-auto-approve", "-lock-timeout", "1s")
	if code != 1 || !strings.Contains(stderr, "locked by") || !strings.Contains(stderr, "(apply,") {
		t.Fatalf("second apply: exit %d, stderr %q", code, stderr)
	}
	stdinW.Write([]byte("yes\n"))
	stdinW.Close()
	if err := first.Wait(); err != nil {
		t.Fatalf("first apply: %v", err)
	}
	loadDirState(t, dir, "state invalid after concurrent applies")
	// With the lock free again, a waiting apply goes through.
	if code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-lock-timeout", "5s", "-host", "spark-01"); code != 0 {
		t.Fatalf("apply after release: %d\n%s\n%s", code, out, stderr)
	}
}

// waitFor reads lines until one contains want (or fails after 60 s).
func waitFor(t *testing.T, r interface{ Read([]byte) (int, error) }, want string) {
	t.Helper()
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Split(scanUntilColonOrLine)
		var seen strings.Builder
		for sc.Scan() {
			seen.WriteString(sc.Text())
			if strings.Contains(seen.String(), want) {
				found <- true
				// Keep draining so the child never blocks on a full pipe.
				for sc.Scan() {
				}
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("output ended without %q", want)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %q", want)
	}
}

// scanUntilColonOrLine splits on newlines but also hands out a trailing prompt without one.
func scanUntilColonOrLine(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\n' || b == ':' {
			return i + 1, data[:i+1], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func ctyStr(s string) cty.Value { return cty.StringVal(s) }

func itoa(i int) string { return strconv.Itoa(i) }

func hostAddr(t *testing.T, l *lab.Lab, name string) string {
	t.Helper()
	h, err := l.Host(name)
	if err != nil {
		t.Fatal(err)
	}
	return h.Address
}

// containsSpaced is strings.Contains with runs of blanks equal, since plans align columns.
func containsSpaced(s, sub string) bool {
	norm := func(x string) string {
		lines := strings.Split(x, "\n")
		for i, l := range lines {
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
		return strings.Join(lines, "\n")
	}
	return strings.Contains(norm(s), norm(sub))
}

func TestHistoryAndRollbackAcrossTwoGenerations(t *testing.T) {
	historyAndRollback(t, needLab(t), map[string]string{"main.hcl": tuning})
}

// historyAndRollback applies two generations to spark-01 and spark-02 and rolls back and forth
// (in the state files give: the local file, or a backend block).
func historyAndRollback(t *testing.T, l *lab.Lab, files map[string]string) string {
	resetHosts(t, "spark-01", "spark-02")
	dir := configDir(t, l, files)
	apply := func(args ...string) {
		t.Helper()
		if code, out, stderr := cli(t, append([]string{"apply", dir, "-auto-approve", "-host", "spark-01", "-host", "spark-02"}, args...)...); code != 0 {
			t.Fatalf("apply %v: %d\n%s\n%s", args, code, out, stderr)
		}
	}
	apply()                        // generation 1: swappiness 10
	apply("-var", "swappiness=25") // generation 2: swappiness 25
	code, out, _ := cli(t, "history", dir, "-host", "spark-01")
	if code != 0 || !strings.Contains(out, "  1  ") || !strings.Contains(out, "  2  ") || strings.Contains(out, "spark-02") {
		t.Fatalf("history: %d\n%s", code, out)
	}

	code, out, stderr := cli(t, "rollback", dir, "-auto-approve", "-host", "spark-01", "-host", "spark-02")
	if code != 0 || !strings.HasPrefix(out, "Rollback to generation 1.\n") || !containsSpaced(out, `values["vm.swappiness"] = 25 -> 10`) {
		t.Fatalf("rollback: %d\n%s\n%s", code, out, stderr)
	}
	if strings.Contains(out+stderr, "no host block") || strings.Contains(out+stderr, "state rm") {
		t.Errorf("rollback of some hosts calls the others unconfigured:\n%s\n%s", out, stderr)
	}
	for _, h := range []string{"spark-01", "spark-02"} {
		if got := onHost(t, l, h, "sysctl -n vm.swappiness"); got != "10" {
			t.Errorf("%s after rollback: swappiness %s, want 10", h, got)
		}
	}
	if code, out, stderr := cli(t, "rollback", dir, "-auto-approve", "-to", "2", "-host", "spark-01"); code != 0 {
		t.Fatalf("rollback -to 2: %d\n%s\n%s", code, out, stderr)
	}
	if got := onHost(t, l, "spark-01", "sysctl -n vm.swappiness"); got != "25" {
		t.Errorf("rollback -to 2: swappiness %s, want 25", got)
	}
	code, out, _ = cli(t, "history", dir, "-host", "spark-01")
	if code != 0 || !strings.Contains(out, "(rollback to generation 1)") || !strings.Contains(out, "(rollback to generation 2)") {
		t.Fatalf("history does not show the rollbacks:\n%s", out)
	}
	if code, _, stderr := cli(t, "rollback", dir, "-auto-approve", "-to", "99", "-host", "spark-01"); code != 1 || !strings.Contains(stderr, "no generation 99") {
		t.Fatalf("rollback to a missing generation: %d %s", code, stderr)
	}
	// Declarative rollback is just the old configuration again.
	if code, _, _ := cli(t, "plan", dir, "-detailed-exitcode", "-host", "spark-02"); code != 0 {
		t.Fatalf("spark-02 (back on generation 1's values) must match the configuration")
	}
	return dir
}

func TestDriftNamesHostAndAttributeAndExitsTwo(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, labHosts...)
	mustApply(t, dir, "apply")
	if code, out, _ := cli(t, "drift", dir); code != 0 || !strings.Contains(out, "0 of 3 hosts drifted") {
		t.Fatalf("drift on a converged fleet: %d\n%s", code, out)
	}
	onHost(t, l, "spark-03", "echo 512 > /sys/block/nvme0n1/queue/read_ahead_kb")
	code, out, _ := cli(t, "drift", dir)
	if code != 2 || !strings.Contains(out, `spark-03: 1 attribute drifted`) || !strings.Contains(out, `readahead.nvme read_ahead_kb["nvme0n1"]: live 512, wanted 8192 (changed outside sparkform)`) ||
		!strings.Contains(out, "spark-[01-02]: in sync") {
		t.Fatalf("drift: %d\n%s", code, out)
	}
	code, out, _ = cli(t, "drift", dir, "-json")
	items := ofType(checkJSONUI(t, out), "drift")
	if code != 2 || len(items) != 1 {
		t.Fatalf("drift -json: exit %d, want 2 and one drift message\n%s", code, out)
	}
	d := items[0]["drift"].(map[string]any)
	if items[0]["host"].(map[string]any)["name"] != "spark-03" || items[0]["resource"].(map[string]any)["addr"] != "readahead.nvme" || d["outside"] != true || d["live"] != "512" {
		t.Errorf("drift message: %v", items[0])
	}
	if got := onHost(t, l, "spark-03", "cat /sys/block/nvme0n1/queue/read_ahead_kb"); got != "512" {
		t.Fatalf("drift changed the host: %s", got)
	}
}

func TestNonRootUserAppliesThroughSudo(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, "spark-02")
	hostsHCL := readFile(t, filepath.Join(dir, "hosts.hcl"))
	hostsHCL = strings.ReplaceAll(hostsHCL, `user            = "root"`, `user            = "deploy"
  sudo            = true`)
	if !strings.Contains(hostsHCL, `"deploy"`) {
		t.Fatalf("hosts.hcl layout unexpected:\n%s", hostsHCL)
	}
	os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte(hostsHCL), 0o644)
	if code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-host", "spark-02"); code != 0 {
		t.Fatalf("apply as deploy with sudo: %d\n%s\n%s", code, out, stderr)
	}
	if got := onHost(t, l, "spark-02", "stat -c '%U %a' /etc/sysctl.d/90-sparkform-loading.conf; sysctl -n vm.swappiness; ls -a /home/deploy | grep -c sparkform || true"); got != "root 644\n10\n0" {
		t.Fatalf("after a sudo apply: %q (want a root-owned 0644 file, live value 10, no temp left in the home)", got)
	}
	if code, out, _ := cli(t, "plan", dir, "-detailed-exitcode", "-host", "spark-02"); code != 0 {
		t.Fatalf("plan as deploy: %d\n%s", code, out)
	}
}

func TestFirstInterruptOrSIGTERMFinishesTheStepInFlightAndStartsNoOther(t *testing.T) {
	l := needLab(t)
	// SIGTERM (what systemd, kill and CI runners send) is the first Ctrl-C, not an abort.
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			resetHosts(t, labHosts...)
			dir := configDir(t, l, map[string]string{"main.hcl": tuning})
			p, stdout, stderr := startCLI(t, "apply", dir, "-auto-approve", "-parallelism", "1")
			waitFor(t, stdout, ": created (")
			p.Process.Signal(sig)
			err := p.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("apply after %v: %v, want exit 1\n%s", sig, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "finishing the steps in flight") {
				t.Errorf("no word about the %v:\n%s", sig, stderr.String())
			}
			// Hosts run one at a time here: the third had not started and must be untouched.
			if got := onHost(t, l, "spark-03", "sysctl -n vm.swappiness"); got != "60" {
				t.Errorf("spark-03 was changed after the %v: swappiness %s", sig, got)
			}
			if _, err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Load(); err != nil {
				t.Fatalf("state after the %v: %v", sig, err)
			}
			if code, out, stderr := cli(t, "apply", dir, "-auto-approve"); code != 0 {
				t.Fatalf("rerun after the %v: %d\n%s\n%s", sig, code, out, stderr)
			}
			if code, out, _ := cli(t, "plan", dir, "-detailed-exitcode"); code != 0 {
				t.Fatalf("not converged after the rerun:\n%s", out)
			}
		})
	}
}

func TestApplyUsesOneConnectionPerHostForPlanAndApply(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, "spark-01")
	count := func() int {
		n, err := strconv.Atoi(onHost(t, l, "spark-01", "grep -c 'Accepted publickey' /var/log/sshd.log || true"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count() // this very check is one login too
	if code, out, stderr := cli(t, "apply", dir, "-auto-approve", "-host", "spark-01"); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, stderr)
	}
	if got := count() - before - 1; got != 1 {
		t.Fatalf("apply (plan + changes) logged in %d times, want 1", got)
	}
}
