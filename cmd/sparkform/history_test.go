package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/state"
)

func TestHistoryLinesStayShort(t *testing.T) {
	dir := t.TempDir()
	st := state.New()
	long := map[string]string{}
	for i := 0; i < 30; i++ {
		long[fmt.Sprintf("vm.key_number_%02d", i)] = "1234567"
	}
	st.Set("spark-01", sysctlLoading(long))
	st.Set("spark-01", readaheadNVMe(8192))
	st.Host("spark-01").AddGeneration(time.Now(), "abcdef0123456789", "rollback to generation 1")
	saveState(t, dir, st)
	code, out, _ := cli(t, "history", dir)
	if code != 0 || !strings.Contains(out, "readahead.nvme") || !strings.Contains(out, "kb=8192") || !strings.Contains(out, "(rollback to generation 1)") {
		t.Fatalf("history: %d\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^ +1  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  config abcdef012345`).MatchString(out) {
		t.Errorf("a generation's time is not in UTC, named:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > historyWidth {
			t.Errorf("a history line of %d characters:\n%s", n, l)
		}
	}
}

func TestHistoryListsWhatEachGenerationChanged(t *testing.T) {
	dir := t.TempDir()
	st := state.New()
	st.Set("spark-01", sysctlLoading(map[string]string{"vm.swappiness": "10"}))
	st.Set("spark-01", readaheadNVMe(8192))
	st.Host("spark-01").AddGeneration(time.Now(), "aaaa", "")
	st.Set("spark-01", sysctlLoading(map[string]string{"vm.swappiness": "7"}))
	st.Host("spark-01").AddGeneration(time.Now(), "bbbb", "")
	delete(st.Host("spark-01").Resources, "readahead.nvme")
	st.Host("spark-01").AddGeneration(time.Now(), "cccc", "")
	saveState(t, dir, st)
	code, out, _ := cli(t, "history", dir)
	_, gen2, _ := strings.Cut(out, "config bbbb")
	gen2, gen3, _ := strings.Cut(gen2, "config cccc")
	if code != 0 || !strings.Contains(gen2, "sysctl.loading  vm.swappiness=7\n         (1 other resource as in generation 1)\n") || strings.Contains(gen2, "kb=8192") ||
		!strings.Contains(gen3, "readahead.nvme  (removed)\n") || strings.Contains(gen3, "swappiness") {
		t.Errorf("history: %d\n%s", code, out)
	}
}

// At fleet scale an apply to every host writes the same history on each, seconds apart: history
// shows it once under the hosts' compact list, from the first host's time to the last (as show
// does), and a host whose history differs gets its own block.
func TestHistoryShowsHostsWithTheSameHistoryOnce(t *testing.T) {
	dir := t.TempDir()
	st := state.New()
	at := time.Date(2026, 12, 1, 10, 4, 7, 0, time.UTC)
	for i := 1; i <= 12; i++ {
		h := fmt.Sprintf("spark-%02d", i)
		st.Set(h, sysctlLoading(map[string]string{"vm.swappiness": "10"}))
		st.Host(h).AddGeneration(at.Add(time.Duration(i%3)*time.Second), "aaaa", "")
	}
	st.Set("spark-09", sysctlLoading(map[string]string{"vm.swappiness": "7"}))
	st.Host("spark-09").AddGeneration(at.Add(time.Minute), "bbbb", "")
	saveState(t, dir, st)
	code, out, _ := cli(t, "history", dir)
	if code != 0 || !strings.HasPrefix(out, "spark-[01-08,10-12] (11 hosts)\n    1  2026-12-01 10:04:07 UTC to 2026-12-01 10:04:09 UTC  config aaaa\n") ||
		!strings.Contains(out, "\nspark-09\n    1  2026-12-01 10:04:07 UTC  config aaaa") || !strings.Contains(out, "vm.swappiness=7") {
		t.Errorf("history: %d\n%s", code, out)
	}
	if n := strings.Count(out, "config aaaa"); n != 2 {
		t.Errorf("generation 1 written %d times, want once per group:\n%s", n, out)
	}
}
