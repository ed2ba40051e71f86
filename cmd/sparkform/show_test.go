package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/state"
	"github.com/sparkform/sparkform/state/statetest"
	"github.com/zclconf/go-cty/cty"
)

// showFleet is a state of n hosts applied a second apart (a rollout), the hosts named in
// touched with a read-ahead of their own.
func showFleet(n int, touched ...string) (*state.State, []string) {
	st := state.New()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("spark-%03d", i)
		statetest.AddHost(st, name, at.Add(time.Duration(i)*time.Second))
		names = append(names, name)
	}
	for _, h := range touched {
		statetest.Touch(st, h, 1)
	}
	return st, names
}

func TestShowOfIdenticalHostsIsOneBlockWithACompactHostListAndTheirApplyTimes(t *testing.T) {
	st, names := showFleet(100)
	var b bytes.Buffer
	renderState(&b, st, names)
	out := b.String()
	var one bytes.Buffer
	renderState(&one, st, names[:1])
	if n, want := strings.Count(out, "\n"), strings.Count(one.String(), "\n"); n != want {
		t.Errorf("100 identical hosts take %d lines, one host %d:\n%s", n, want, out)
	}
	first, last := "2026-12-01 10:00:01 UTC", "2026-12-01 10:01:40 UTC"
	wantAll(t, "show", out, "spark-[001-100] (100 hosts)\n", "# sysctl.loading (applied "+first+" to "+last+")", `"vm.swappiness" = "10"`)
	if strings.Count(out, `sysctl "loading"`) != 1 {
		t.Errorf("identical hosts not shown once:\n%s", out)
	}
}

func TestShowGroupsDifferVisiblyAndOneHostKeepsItsOwnDetail(t *testing.T) {
	st, names := showFleet(20, "spark-007")
	var b bytes.Buffer
	renderState(&b, st, names)
	out := b.String()
	wantAll(t, "show", out, "spark-[001-006,008-020] (19 hosts)\n", "spark-007\n", "kb     = 4097", "kb     = 8192")
	if n := strings.Count(out, `readahead "nvme"`); n != 2 {
		t.Errorf("two groups, %d read-ahead blocks:\n%s", n, out)
	}
	b.Reset()
	renderState(&b, st, []string{"spark-003"})
	one := "2026-12-01 10:00:03 UTC"
	if out := b.String(); !strings.HasPrefix(out, "spark-003\n") || !strings.Contains(out, "# sysctl.loading (applied "+one+")\n") {
		t.Errorf("one host's show:\n%s", out)
	}
}

func TestShowHostPicksHostsOfTheStateAndNamesOneItDoesNotHold(t *testing.T) {
	dir := t.TempDir()
	st, _ := showFleet(20)
	if err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Persist(st); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "show", dir, "-host", "spark-003")
	if code != 0 || !strings.HasPrefix(out, "spark-003\n") || strings.Contains(out, "spark-004") {
		t.Errorf("show -host spark-003: exit %d, stdout:\n%s\nstderr %q", code, out, errOut)
	}
	code, out, _ = cli(t, "show", dir)
	if code != 0 || !strings.HasPrefix(out, "spark-[001-020] (20 hosts)\n") {
		t.Errorf("show: exit %d, stdout:\n%s", code, out)
	}
	code, _, errOut = cli(t, "show", dir, "-host", "spark-21")
	if code != 1 || !strings.Contains(errOut, `no host "spark-21" in the state`) {
		t.Errorf("show -host spark-21: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = cli(t, "show", dir, "-json", "-host", "spark-003", "-host", "spark-004")
	if code != 0 || strings.Count(out, `"type":"state_resource"`) != 4 || !strings.Contains(out, `"hosts":2`) {
		t.Errorf("show -json with two hosts: exit %d:\n%s", code, out)
	}
}

// state show ADDR on 100 hosts holding it alike is one block; a host whose copy differs has its own.
func TestStateShowOfOneResourceOnManyHostsIsOneBlockPerVariant(t *testing.T) {
	dir := t.TempDir()
	st, _ := showFleet(100, "spark-042")
	if err := state.NewStore(filepath.Join(dir, "sparkform.state.json")).Persist(st); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, out, errOut := cli(t, "state", "show", "readahead.nvme")
	if code != 0 || strings.Count(out, `readahead "nvme" {`) != 2 {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	wantAll(t, "state show", out, "# spark-[001-041,043-100]/readahead.nvme (applied ", "# spark-042/readahead.nvme (applied ", "kb     = 4097")
	if code, out, _ := cli(t, "state", "show", "spark-003/readahead.nvme"); code != 0 || !strings.HasPrefix(out, "# spark-003/readahead.nvme (applied ") {
		t.Errorf("one host's resource: exit %d:\n%s", code, out)
	}
}

// show PLANFILE -host H shows those hosts of the saved plan; a host the plan lacks is an error.
func TestShowPlanHostKeepsTheNamedHostsOfThePlan(t *testing.T) {
	p := fleetPlan(20)
	if err := onlyPlanHosts(p, "tfplan", []string{"spark-003", "spark-011"}); err != nil || len(p.Hosts) != 2 || p.Hosts[0].Name != "spark-003" || p.Hosts[1].Name != "spark-011" {
		t.Errorf("err %v, hosts %d", err, len(p.Hosts))
	}
	if err := onlyPlanHosts(fleetPlan(3), "tfplan", []string{"spark-04"}); err == nil || !strings.Contains(err.Error(), `no host "spark-04" in the plan tfplan`) {
		t.Errorf("a host the plan lacks: %v", err)
	}
}

// An original too long for one line (a kernel's held packages: ~170 characters in the lab) is
// written one key a line; a short one stays on one line.
func TestShowWritesALongOriginalOneKeyALine(t *testing.T) {
	held := cty.ListVal([]cty.Value{cty.StringVal("linux-image-6.17.0-1014-nvidia"), cty.StringVal("linux-image-nvidia-6.17"), cty.StringVal("linux-nvidia-6.17")})
	r := &state.Resource{Type: "kernel", Name: "nvidia", AppliedAt: time.Now(),
		Attributes: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"line": cty.StringVal("6.17")})},
		Original: state.Value{Value: cty.ObjectVal(map[string]cty.Value{"held": held, "holds_before": cty.ListValEmpty(cty.String),
			"release": cty.StringVal("6.11.0-1016-nvidia-64k-generic-long-name")})}}
	short := sysctlLoading(map[string]string{"vm.swappiness": "10"})
	short.Original = state.Value{Value: cty.ObjectVal(map[string]cty.Value{"vm.swappiness": cty.StringVal("60")})}
	st := state.New()
	st.Set("spark-01", r)
	st.Set("spark-01", short)
	var b bytes.Buffer
	renderState(&b, st, []string{"spark-01"})
	out := b.String()
	wantAll(t, "show", out, "    # original = {\n", "    #   \"release\" = \"6.11.0-1016-nvidia-64k-generic-long-name\"\n", "    # }\n",
		`    # original = { "vm.swappiness" = "60" }`+"\n")
	for _, l := range strings.Split(out, "\n") {
		if len(l) > stateLineWidth {
			t.Errorf("a line of %d characters: %s", len(l), l)
		}
	}
}
