package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/state"
)

// show, state show and history write a point in time one way (english.Time), in UTC whatever
// zone it was recorded in; -json keeps RFC 3339.
func TestTextViewsWriteAPointInTimeOneWayAndJSONKeepsRFC3339(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 1, 11, 4, 7, 250e6, time.FixedZone("CET", 3600)) // 10:04:07.25 UTC
	st := state.New()
	r := sysctlLoading(map[string]string{"vm.swappiness": "10"})
	r.AppliedAt = at
	st.Set("spark-01", r)
	h := st.Host("spark-01")
	h.AddGeneration(at, "abcdef0123456789", "")
	h.Incidents = append(h.Incidents, &state.Incident{Time: at, Kind: "rolled_back", Message: "rolled back: back on 6.11"})
	saveState(t, dir, st)

	const want = "2026-12-01 10:04:07 UTC"
	otherForm := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d|\d\d:\d\d:\d\d [^U]|CET`)
	for _, args := range [][]string{{"show", dir}, {"history", dir}, {"-chdir", dir, "state", "show", "sysctl.loading"}} {
		code, out, errOut := cli(t, args...)
		if code != 0 || !strings.Contains(out, want) || otherForm.MatchString(out) {
			t.Errorf("%s: exit %d, stderr %q; want every time as %s:\n%s", strings.Join(args, " "), code, errOut, want, out)
		}
	}
	if code, out, _ := cli(t, "history", dir, "-json"); code != 0 || !strings.Contains(out, `"time":"2026-12-01T10:04:07.25Z"`) || strings.Contains(out, want) {
		t.Errorf("history -json: exit %d; want RFC 3339 times:\n%s", code, out)
	}
}
