package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// A plan of examples/spark-known-good on 100 identical hosts fits in 40 lines (issue #13's
// target; README: Output at fleet scale): the plan the CLI saves for one real lab host, given to
// 100 hosts that differ only in name and address, is one group under a compact host list.
func TestPlanOfSparkKnownGoodOn100IdenticalHostsFitsInFortyLines(t *testing.T) {
	files, varFile := knownGood(t)
	_, dir := freshLab(t, files, "spark-01")
	planFile := filepath.Join(t.TempDir(), "spark-01.plan")
	if code, out, errOut := cli(t, "plan", "-var-file", varFile, "-host", "spark-01", "-out", planFile, dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	p, err := loadPlan(planFile)
	if err != nil || len(p.Hosts) != 1 || len(p.Hosts[0].Changes) < 5 {
		t.Fatalf("saved plan: %v, %+v", err, p)
	}
	one := p.Hosts[0]
	p.Hosts = nil
	for i := 1; i <= 100; i++ {
		h := *one
		h.Name, h.Address = fmt.Sprintf("spark-%03d", i), fmt.Sprintf("198.18.9.%d", i)
		p.Hosts = append(p.Hosts, &h)
	}
	var b bytes.Buffer
	renderPlan(&b, p, style{})
	out := b.String()
	n := strings.Count(out, "\n")
	t.Logf("a plan of examples/spark-known-good on 100 identical hosts: %d lines", n)
	if n > 40 || !strings.Contains(out, "spark-[001-100] (100 hosts, kernel ") || strings.Count(out, `+ kernel "nvidia" {`) != 1 ||
		!strings.Contains(out, " on 100 hosts.") {
		t.Errorf("%d lines, want <= 40, one group of 100 hosts:\n%s", n, out)
	}
}
