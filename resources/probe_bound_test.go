package resources

import (
	"strings"
	"testing"
)

// A sysctl.d file with a line longer than bufio.Scanner's 16 MiB limit used to end parsing
// silently: the files after it were dropped and the plan changed. Every report counts.
func TestSysctlReadKeepsReportsAfterAVeryLongLine(t *testing.T) {
	in := Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(map[string]string{"vm.swappiness": "10"})}
	huge := "# " + strings.Repeat("x", 17<<20) + "\n"
	out := "haskey vm.swappiness\n/proc/sys/vm/swappiness:10\nnofile conf\n" +
		dropInsOut("sysctld", "", "/etc/sysctl.d/10-huge.conf", huge, "/usr/lib/sysctl.d/50-x.conf", "vm.swappiness = 60\n")
	obs, err := sysctl{}.Read(in, []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if b := stringMap(obs.GetAttr("boot")); b["vm.swappiness"] != "60" {
		t.Fatalf("boot values %v: the file after the long line was dropped", b)
	}
}

// A key the probe did not report at all (output cut short) is an error, not an absent key: read
// as absent, the plan would "create" a value the host may well have.
func TestSysctlReadOfAProbeCutShortIsAnError(t *testing.T) {
	in := Instance{Type: "sysctl", Name: "loading", Desired: sysctlBody(map[string]string{"vm.swappiness": "10", "vm.dirty_ratio": "10"})}
	out := "haskey vm.swappiness\n/proc/sys/vm/swappiness:60\nnofile conf\n"
	if _, err := (sysctl{}).Read(in, []byte(out)); err == nil || !strings.Contains(err.Error(), "no report for vm.dirty_ratio") {
		t.Fatalf("err = %v, want a missing report for vm.dirty_ratio", err)
	}
	out = "haskey vm.swappiness\n/proc/sys/vm/swappiness:60\nnokey vm.dirty_ratio\nnofile conf\n"
	if _, err := (sysctl{}).Read(in, []byte(out)); err != nil {
		t.Fatalf("a key the kernel lacks is not an error: %v", err)
	}
}
