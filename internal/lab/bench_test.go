package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLabImageFromNothing builds the host image and artifacts from nothing (mmdebstrap,
// artifacts, customisation) into a fresh temporary cache directory, so the shared DefaultCacheDir
// other labs use is neither read nor touched. Downloads come from the Debian mirror. Run with
// bench/lab-figures.sh or:
//
//	go test -run '^$' -bench LabImageFromNothing -benchtime 1x ./internal/lab
func BenchmarkLabImageFromNothing(b *testing.B) {
	if err := Preflight(); err != nil {
		b.Skipf("lab benchmark needs root and the lab's tools: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		t0 := time.Now()
		if _, err := ensureCache(ctx, dir, io.Discard); err != nil {
			b.Fatal(err)
		}
		built := time.Since(t0)
		b.ReportMetric(built.Seconds(), "s-image")
		fmt.Fprintf(os.Stderr, "image from nothing in %s (load average %s)\n", built.Round(time.Second), loadAverage())
	}
}

// BenchmarkLabUp3 boots 3 hosts from the cached image (built first, outside the timer) and
// reboots one of them (reboot delay 1 s), timing the reboot until sshd answers with a new
// boot_id. Run with bench/lab-figures.sh or:
//
//	go test -run '^$' -bench LabUp3 -benchtime 1x ./internal/lab
func BenchmarkLabUp3(b *testing.B) {
	ctx, subnet := labBench(b)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		t0 := time.Now()
		l, err := Up(ctx, Options{Dir: dir, N: 3, Subnet: subnet, RebootDelay: time.Second, Log: os.Stderr})
		if err != nil {
			b.Fatal(err)
		}
		up := time.Since(t0)
		rebooted, err := timeReboot(ctx, l, "spark-02")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(up.Seconds(), "s-up")
		b.ReportMetric(rebooted.Seconds(), "s-reboot")
		fmt.Fprintf(os.Stderr, "3 hosts up in %s; one reboot (delay 1 s) in %s until sshd answers with a new boot_id (load average %s)\n",
			up.Round(10*time.Millisecond), rebooted.Round(10*time.Millisecond), loadAverage())
		if err := l.Down(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForkExec times starting /bin/true and waiting for it: what every process a host or
// the lab starts costs on this machine, the unit the lab's figures are read in.
func BenchmarkForkExec(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/exec")
}

// labBench prepares a benchmark that boots a lab from the shared cache: it skips without root and
// the lab's tools, builds the image if missing (before the timer) and reserves a subnet, released
// when the benchmark ends. The context ends after 15 minutes.
func labBench(b *testing.B) (context.Context, int) {
	b.Helper()
	if err := Preflight(); err != nil {
		b.Skipf("lab benchmark needs root and the lab's tools: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	b.Cleanup(cancel)
	if _, err := ensureCache(ctx, DefaultCacheDir, os.Stderr); err != nil {
		b.Fatal(err)
	}
	subnet, err := reserveSubnet(60, 70)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ReleaseSubnet(subnet) })
	b.ResetTimer()
	return ctx, subnet
}

// timeReboot reboots host and returns how long it took until its sshd answered with a new boot_id.
func timeReboot(ctx context.Context, l *Lab, host string) (time.Duration, error) {
	const cmd = "cat /proc/sys/kernel/random/boot_id"
	before, _, err := l.SSH(ctx, host, "root", cmd)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := l.Reboot(ctx, host); err != nil {
		return 0, err
	}
	if err := l.WaitUp(ctx, host); err != nil {
		return 0, err
	}
	after, _, err := l.SSH(ctx, host, "root", cmd)
	if err != nil {
		return 0, err
	}
	if after == before {
		return 0, fmt.Errorf("%s: boot_id unchanged across reboot: %s", host, before)
	}
	return time.Since(t0), nil
}

// loadAverage is the 1, 5 and 15 minute load averages, so a figure says how busy the machine was.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// BenchmarkLabUp20 boots 20 hosts from the cached image (built first, outside the timer), then
// reports the idle memory of everything the lab runs: supervisors, unshare, and every process in
// the hosts' pid namespaces (PSS, so shared pages are split fairly). Run with:
//
//	go test -run '^$' -bench LabUp20 -benchtime 1x ./internal/lab
func BenchmarkLabUp20(b *testing.B) {
	ctx, subnet := labBench(b)
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
		fmt.Fprintf(os.Stderr, "20 hosts up in %s; idle: %d processes, PSS %.1f MiB, RSS %.1f MiB (load average %s)\n",
			up.Round(10*time.Millisecond), n, float64(pss)/1024, float64(rss)/1024, loadAverage())
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
