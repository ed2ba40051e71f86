package main

import (
	"strings"
	"testing"
)

// Two of three real hosts partitioned away fail the same way, each naming its own address: the
// plan shows them as one group, and stderr as one error naming both.
func TestHostsPartitionedAwayAreOneErrorOnLab(t *testing.T) {
	l := ownLab(t, 3)
	dir := configDir(t, l, map[string]string{"main.hcl": tuning})
	for _, h := range []string{"spark-02", "spark-03"} {
		if err := l.Partition(bg, h); err != nil {
			t.Fatal(err)
		}
		defer l.Heal(bg, h)
	}
	code, out, stderr := cli(t, "plan", dir, "-connect-timeout", "2s")
	if code != 1 || !strings.Contains(out, "spark-[02-03] (2 hosts): could not be planned") {
		t.Fatalf("exit %d, plan:\n%s\n%s", code, out, stderr)
	}
	if strings.Count(stderr, "Error: ") != 1 || !strings.HasPrefix(stderr, "Error: spark-[02-03] (2 hosts): spark-02 (") ||
		!strings.Contains(stderr, "\n  (as spark-02 reported it; the others' messages name their own host)\n") {
		t.Errorf("want one error for both hosts:\n%s", stderr)
	}
}
