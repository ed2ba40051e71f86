package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"testing"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
	"github.com/sparkform/sparkform/state"
)

// A plan reads a host with shell builtins: the processes it starts there (counted by the host's
// pid namespace: ns_last_pid before and after, so the connection's sshd processes count too)
// stay within a budget that does not grow with the number of keys or files.
func TestPlanStartsFewProcessesOnAHost(t *testing.T) {
	l := needLab(t)
	known, varFile := knownGood(t)
	for _, tc := range []struct {
		name, config string
		args         []string
		budget       int
	}{
		{"sysctl and read-ahead", tuning, nil, 10},
		{"spark-known-good", known["main.hcl"], []string{"-var-file", varFile}, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := configDir(t, l, map[string]string{"main.hcl": tc.config})
			before, err := l.LastPID(context.Background(), "spark-01")
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut := cli(t, append(append([]string{"plan"}, tc.args...), "-host", "spark-01", dir)...)
			if code != 0 && code != 2 {
				t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
			}
			after, err := l.LastPID(context.Background(), "spark-01")
			if err != nil {
				t.Fatal(err)
			}
			n := after - before - 1 // the second reading takes a pid itself
			t.Logf("%s: plan started %d processes on spark-01", tc.name, n)
			if n > tc.budget {
				t.Errorf("%s: plan started %d processes on the host, budget %d", tc.name, n, tc.budget)
			}
		})
	}
}

// A cold sysctl + read-ahead apply (persistence files written, live values set) costs the plan's
// one exec plus one: every change of the host goes in one script that writes its files itself
// (temp + rename), so nothing goes over SFTP and no change waits for another's round trip. The
// state is written once (the changes of that exec and the generation), and the exec starts few
// processes on the host (its subshells, and a sync and a mv per file written).
func TestColdApplyCostsThePlanPlusOneExec(t *testing.T) {
	l, dir := freshLab(t, map[string]string{"main.hcl": tuning}, "spark-01")
	cfg, diags := config.Load(dir, config.Vars{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sel := &config.Config{}
	*sel = *cfg
	sel.Hosts = nil
	for _, h := range cfg.Hosts {
		if h.Name == "spark-01" {
			sel.Hosts = append(sel.Hosts, h)
		}
	}
	var calls atomic.Int64
	base := dialer(10 * time.Second)
	opts := engine.Options{Dial: func(ctx context.Context, h *config.Host, pinned string) (provider.Host, error) {
		ph, err := base(ctx, h, pinned)
		if err != nil {
			return nil, err
		}
		return providertest.Counting{Host: ph, N: &calls}, nil
	}}
	ctx := context.Background()
	st := state.New()
	plan, err := engine.MakePlan(ctx, sel, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	planCalls := calls.Load()
	if c := plan.Hosts[0].Counts(); c.Add != 2 {
		t.Fatalf("cold plan: %+v, want 2 creates", c)
	}
	store := &countingStore{Store: state.NewStore(filepath.Join(t.TempDir(), "state.json"))}
	pidBefore, err := l.LastPID(ctx, "spark-01")
	if err != nil {
		t.Fatal(err)
	}
	res := engine.Apply(ctx, plan, st, store, opts)
	if f := res.Failed(); len(f) > 0 {
		t.Fatalf("apply failed: %s", f[0].Error)
	}
	pidAfter, err := l.LastPID(ctx, "spark-01")
	if err != nil {
		t.Fatal(err)
	}
	applyCalls := calls.Load() - planCalls
	procs := pidAfter - pidBefore - 1 // the second reading takes a pid itself
	t.Logf("plan: %d requests; apply after it: %d, %d state writes, %d processes on the host", planCalls, applyCalls, store.n.Load(), procs)
	if planCalls != 1 || applyCalls != 1 {
		t.Errorf("plan took %d requests and the cold apply %d more; want 1 and 1 (one exec each)", planCalls, applyCalls)
	}
	if n := store.n.Load(); n != 1 {
		t.Errorf("the cold apply wrote the state %d times, want 1 (the exec's changes and the generation)", n)
	}
	if procs > 10 {
		t.Errorf("the cold apply started %d processes on the host, budget 10", procs)
	}
	got := onHost(t, l, "spark-01", "sysctl -n vm.swappiness vm.dirty_ratio; cat /sys/block/nvme0n1/queue/read_ahead_kb; cat /etc/sysctl.d/90-sparkform-loading.conf /etc/udev/rules.d/60-sparkform-readahead-nvme.rules | grep -v '^#'; stat -c '%a %U' /etc/sysctl.d/90-sparkform-loading.conf; ls -a /etc/sysctl.d /etc/udev/rules.d | grep -c sparkform-")
	want := "10\n10\n8192\nvm.dirty_ratio = 10\nvm.swappiness = 10\nACTION==\"add|change\", SUBSYSTEM==\"block\", KERNEL==\"nvme0n1\", ATTR{queue/read_ahead_kb}=\"8192\"\n644 root\n2"
	if strings.TrimSpace(got) != want {
		t.Errorf("host after apply:\n%s\nwant:\n%s", got, want)
	}
	again, err := engine.MakePlan(ctx, sel, st, opts)
	if err != nil || again.HasChanges() {
		t.Errorf("plan after apply: changes %v, err %v", again != nil && again.HasChanges(), err)
	}
	resetHosts(t, "spark-01")
}

// countingStore counts the persists apply asks of a Store.
type countingStore struct {
	*state.Store
	n atomic.Int64
}

func (s *countingStore) Persist(st *state.State) error {
	s.n.Add(1)
	return s.Store.Persist(st)
}
