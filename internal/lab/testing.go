package lab

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SkipUnlessAvailable skips a lab test where the lab cannot run (not root, a tool missing),
// saying why. Under CI (the CI variable set) as root, a lab that cannot run is a failure:
// a broken CI machine must not pass by skipping every integration test.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("lab tests skipped in -short mode")
	}
	if err := Preflight(); err != nil {
		if os.Getenv("CI") != "" && os.Geteuid() == 0 {
			t.Fatalf("the lab is required under CI: %v", err)
		}
		t.Skipf("lab unavailable: %v", err)
	}
}

var (
	heldMu    sync.Mutex
	heldLocks = map[int]*os.File{}
)

// ReserveSubnet takes the first subnet in [from, to) that no other test process holds (a flock
// on /tmp/sparkform-lab-subnet-N.lock kept until ReleaseSubnet or the process ends) and no lab
// uses: test binaries of several packages, or of several people on one machine, run labs at once.
func ReserveSubnet(from, to int) (int, error) {
	return reserveFreeSubnet(from, to, nil)
}

// ReserveSubnetIn is ReserveSubnet for a test lab kept in a directory named after its subnet,
// dir(subnet): a lab found in the directory of a subnet no process holds was left running by a
// test process that died (a panic skips teardown); it is taken down and its directory removed
// before the subnet is considered. A lab in use is never touched: its process holds the subnet.
func ReserveSubnetIn(ctx context.Context, from, to int, dir func(subnet int) string) (int, error) {
	return reserveFreeSubnet(from, to, func(s int) error {
		old, err := Open(dir(s))
		if err != nil {
			return nil // no lab there
		}
		if err := old.Down(ctx); err != nil {
			return fmt.Errorf("taking down the lab a dead test process left in %s: %w", dir(s), err)
		}
		return os.RemoveAll(dir(s))
	})
}

func reserveFreeSubnet(from, to int, reclaim func(subnet int) error) (int, error) {
	heldMu.Lock()
	defer heldMu.Unlock()
	for s := from; s < to; s++ {
		f, err := os.OpenFile(fmt.Sprintf("/tmp/sparkform-lab-subnet-%d.lock", s), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return 0, err
		}
		if heldLocks[s] != nil || syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue
		}
		if reclaim != nil {
			if err := reclaim(s); err != nil {
				f.Close()
				return 0, err
			}
		}
		if SubnetInUse(s) {
			f.Close()
			continue
		}
		heldLocks[s] = f
		return s, nil
	}
	return 0, fmt.Errorf("no free lab subnet in %d-%d", from, to-1)
}

// ReleaseSubnet gives back a subnet ReserveSubnet took (once its lab is down).
func ReleaseSubnet(subnet int) {
	heldMu.Lock()
	defer heldMu.Unlock()
	if f := heldLocks[subnet]; f != nil {
		f.Close()
		delete(heldLocks, subnet)
	}
}

// UpForTest brings up an n-host lab of the test's own on a subnet reserved in [from, to), in a
// temporary directory, and takes it down when the test ends, releasing the subnet. A lab that
// fails to come up is taken down before the test fails; one that fails to go down fails the
// test and keeps its subnet reserved, so no other test lands on it. Skips where the lab cannot run.
func UpForTest(t testing.TB, from, to, n int) *Lab {
	t.Helper()
	SkipUnlessAvailable(t)
	subnet, err := ReserveSubnet(from, to)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := Up(ctx, Options{Dir: dir, N: n, Subnet: subnet})
	if err != nil {
		if half, oerr := Open(dir); oerr == nil {
			half.Down(context.Background())
		}
		ReleaseSubnet(subnet)
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := l.Down(ctx); err != nil {
			t.Errorf("lab down: %v", err)
			return
		}
		ReleaseSubnet(subnet)
	})
	return l
}
