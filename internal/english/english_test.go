package english

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPluralSaysOneHostAndTwoHosts(t *testing.T) {
	for _, c := range []struct {
		n          int
		word, want string
	}{{1, "host", "1 host"}, {0, "host", "0 hosts"}, {3, "change", "3 changes"}, {2, "pass", "2 passes"}, {1, "result", "1 result"}} {
		if got := Plural(c.n, c.word); got != c.want {
			t.Errorf("Plural(%d, %s) = %s, want %s", c.n, c.word, got, c.want)
		}
	}
}

// No message in the tree writes a count before a fixed plural noun ("%d hosts"), which says
// "1 hosts" when the count is one: counts go through Plural (or, in packages that may not
// import it, say the singular themselves). Units (bytes, seconds, KiB) and counts that are never
// below two are listed.
func TestNoMessageWritesACountBeforeAFixedPluralNoun(t *testing.T) {
	fixed := regexp.MustCompile(`"[^"\n]*%d ([a-z]+s)\b`)
	never1 := map[string]bool{"bytes": true, "ms": true, "s": true, "keepalives": true, // ServerAliveCountMax, >= 2
		"is": true, "was": true, "has": true, "holds": true} // verbs: "port 1 is ..."
	err := filepath.WalkDir(filepath.Join("..", ".."), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range fixed.FindAllStringSubmatch(line, -1) {
				if !never1[m[1]] {
					t.Errorf("%s:%d: %q says \"1 %s\" for one; use english.Plural", p, i+1, m[0], m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDurationsHaveOneFormatMeasuredAndConfigured(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 40 * time.Millisecond: "0.04s", 234 * time.Millisecond: "0.23s", 400 * time.Millisecond: "0.4s",
		9500 * time.Millisecond: "9.5s", 12 * time.Second: "12s", 104 * time.Second: "1m44s", 59600 * time.Millisecond: "1m00s", 3900 * time.Second: "1h05m",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %s, want %s", d, got, want)
		}
	}
	if got := Seconds(21.6); got != "22s" {
		t.Errorf("Seconds(21.6) = %s, want 22s (rounded, not cut)", got)
	}
	for d, want := range map[time.Duration]string{
		10 * time.Minute: "10m", 90 * time.Minute: "1h30m", 250 * time.Millisecond: "250ms", 2 * time.Second: "2s", 0: "0s",
	} {
		if got := Setting(d); got != want {
			t.Errorf("Setting(%v) = %s, want %s", d, got, want)
		}
	}
}

// The documentation's examples say "1 host" as the program does.
func TestDocumentationExamplesSayOneHostNotOneHosts(t *testing.T) {
	one := regexp.MustCompile(`\b1 (failed )?(hosts|resources|results|changes|errors|generations|lines|builds|rows|attempts|runs|blocks)\b`)
	docs, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	for _, p := range append(docs, filepath.Join("..", "..", "README.md"), filepath.Join("..", "lab", "README.md")) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := one.FindString(line); m != "" {
				t.Errorf("%s:%d: %q", p, i+1, m)
			}
		}
	}
}

func TestTimeIsWrittenToTheSecondInUTCWhateverItsZone(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 12, 1, 10, 4, 7, 0, time.UTC),
		time.Date(2026, 12, 1, 11, 4, 7, 999e6, time.FixedZone("CET", 3600)),
		time.Date(2026, 12, 1, 2, 4, 7, 1, time.FixedZone("", -8*3600)),
	} {
		if got := Time(at); got != "2026-12-01 10:04:07 UTC" {
			t.Errorf("Time(%v) = %s, want 2026-12-01 10:04:07 UTC", at, got)
		}
	}
}

// No text in the tree writes a point in time but through Time (or, in package state, which may
// not import it, with its layout), apart from -json's RFC 3339 with nanoseconds, compact stamps
// in file names (20060102T150405Z) and these, each file and layout with its reason:
var otherTimes = map[string]string{
	"internal/report/text.go time.RFC3339":        "report -format csv: first_time and last_time, for programs",
	"resources/python_venv_apply.go time.RFC3339": "the venv's creation time: a value kept in state, not shown",
	`cmd/sparkform/runlogs.go "15:04:05.000"`:     "a run log line's time of day, to the millisecond",
}

func TestTextWritesAPointInTimeOnlyAsTimeDoes(t *testing.T) {
	format := regexp.MustCompile(`\.Format\((time\.[A-Za-z0-9]+|"[^"]*")\)`)
	compact := regexp.MustCompile(`^"[0-9T.Z]+"$`) // 20060102T150405Z
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range format.FindAllStringSubmatch(line, -1) {
				layout := m[1]
				switch {
				case layout == "time.RFC3339Nano", compact.MatchString(layout), layout == `"`+timeLayout+`"`:
				case otherTimes[filepath.ToSlash(rel)+" "+layout] != "":
				case !strings.HasPrefix(layout, "time.") && !strings.Contains(layout, "2006") && !strings.Contains(layout, "15:04"):
					// not a time layout (another type's Format)
				default:
					t.Errorf("%s:%d writes a time as %s; use english.Time", rel, i+1, layout)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
