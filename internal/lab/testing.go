package lab

import (
	"os"
	"testing"
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
