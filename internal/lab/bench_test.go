package lab

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLabUp20 boots 20 hosts from the cached image (built first, outside the timer), then
// reports the idle memory of everything the lab runs: supervisors, unshare, and every process in
// the hosts' pid namespaces (PSS, so shared pages are split fairly). Run with:
//
//	go test -run '^$' -bench LabUp20 -benchtime 1x ./internal/lab
func BenchmarkLabUp20(b *testing.B) {
	if err := Preflight(); err != nil {
		b.Skipf("lab benchmark needs root and the lab's tools: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if _, err := ensureCache(ctx, DefaultCacheDir, os.Stderr); err != nil {
		b.Fatal(err)
	}
	subnet, err := reserveSubnet(60, 70)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		b.StartTimer()
		t0 := time.Now()
		l, err := Up(ctx, Options{Dir: dir, N: 20, Subnet: subnet, Log: os.Stderr})
		if err != nil {
			b.Fatal(err)
		}
		up := time.Since(t0)
		b.StopTimer()
		time.Sleep(2 * time.Second) // let boot-time work (sysctl --system, logging) finish
		n, pss, rss := l.memory()
		b.ReportMetric(up.Seconds(), "s-up")
		b.ReportMetric(float64(pss)/1024, "MiB-PSS")
		b.ReportMetric(float64(rss)/1024, "MiB-RSS")
		b.ReportMetric(float64(n), "processes")
		fmt.Fprintf(os.Stderr, "20 hosts up in %s; idle: %d processes, PSS %.1f MiB, RSS %.1f MiB\n", up.Round(10*time.Millisecond), n, float64(pss)/1024, float64(rss)/1024)
		if err := l.Down(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// memory sums Pss and Rss (KiB) over every process of the lab.
func (l *Lab) memory() (n int, pss, rss int) {
	var pids []int
	for _, h := range l.cfg.Hosts {
		if p := l.supervisorPID(h); p > 0 {
			pids = append(pids, p)
		}
		if u := readPID(h.Dir + "/unshare.pid"); u > 0 {
			pids = append(pids, u)
		}
		ns, _ := l.namespacePIDs(h)
		pids = append(pids, ns...)
	}
	for _, p := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		n++
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			v, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "Pss:":
				pss += v
			case "Rss:":
				rss += v
			}
		}
	}
	return n, pss, rss
}
