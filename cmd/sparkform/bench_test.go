package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/engine"
	"github.com/sparkform/sparkform/internal/lab"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
)

// BenchmarkPlanNoop20Hosts plans a configuration that 20 lab hosts already match (sysctl and
// read-ahead applied once before the timer) and reports the wall time per plan, the exec round
// trips and the controller's CPU per host, and the process's peak RSS. Run: go test -bench PlanNoop20Hosts -run '^$' ./cmd/sparkform
// (as root; bench/plan-noop.sh wraps it).
func BenchmarkPlanNoop20Hosts(b *testing.B) {
	lab.SkipUnlessAvailable(b)
	dir := b.TempDir()
	ctx := context.Background()
	subnet, err := lab.ReserveSubnet(ownLabSubnets, ownLabSubnets+30)
	if err != nil {
		b.Fatal(err)
	}
	l, err := lab.Up(ctx, lab.Options{Dir: filepath.Join(dir, "lab"), N: 20, Subnet: subnet})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Down(context.Background())
	cfgDir := filepath.Join(dir, "cfg")
	os.MkdirAll(cfgDir, 0o755)
	hosts, _ := os.ReadFile(l.HostsHCLPath())
	os.WriteFile(filepath.Join(cfgDir, "hosts.hcl"), hosts, 0o644)
	os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(tuning), 0o644)
	var out, errb nopWriter
	if code := run([]string{"apply", cfgDir, "-auto-approve"}, &out, &errb); code != 0 {
		b.Fatalf("setup apply failed: %d", code)
	}
	cfg, diags := config.Load(cfgDir, config.Vars{})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	st := loadDirState(b, cfgDir, "")
	var calls atomic.Int64
	var dials sync.Map
	base := dialer(10 * time.Second)
	opts := engine.Options{Parallelism: 20, Dial: func(ctx context.Context, h *config.Host, pinned string) (provider.Host, error) {
		dials.Store(h.Name, true)
		ph, err := base(ctx, h, pinned)
		if err != nil {
			return nil, err
		}
		return providertest.Counting{Host: ph, N: &calls}, nil
	}}
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plan, err := engine.MakePlan(ctx, cfg, st, opts)
		if err != nil {
			b.Fatal(err)
		}
		if plan.HasChanges() || len(plan.Failed()) > 0 {
			b.Fatalf("plan is not a no-op: changes %v, failed %d", plan.HasChanges(), len(plan.Failed()))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(calls.Load())/float64(b.N*20), "roundtrips/host")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/plan")
	// The controller's cost of a host: CPU of this process (SSH, probe parsing, diffs) per host
	// planned, and the process's peak RSS (set-up apply included, so an upper bound).
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N*20), "ms-CPU/host")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "MiB-maxRSS")
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
