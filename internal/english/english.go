// Package english writes counts, durations and times the way people read them: "1 host",
// "3 hosts", "0.04s", "2m10s", "2026-12-01 10:04:07 UTC", and a configured duration as people
// write it: "10m", not Go's "10m0s".
package english

import (
	"fmt"
	"strings"
	"time"
)

// Plural writes n and word, with the plural -s (or -es after s and sh) unless n is 1.
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "s") || strings.HasSuffix(word, "sh") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Duration is the one way sparkform writes a duration it measured, a step's or a model load's:
// 0.04s, 0.4s, 9.5s, 12s, 2m10s, 1h05m (two significant digits under a second, where the lab's
// loads are; rounded to the second from 10 s, to the minute from an hour).
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", d.Seconds()), "0"), ".") + "s"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	if d = d.Round(time.Second); d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	} else if d < time.Hour {
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// Seconds is Duration of a number of seconds (a load time as a smoke test measures it).
func Seconds(s float64) string { return Duration(time.Duration(s * float64(time.Second))) }

// Setting writes a configured duration as people write it (a timeout, a flag's default): 10m,
// 1h30m, 250ms, not Go's 10m0s and 1h30m0s.
func Setting(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// timeLayout is how Time writes a point in time (package state, which may not import this one,
// writes its lock holder's time with the same layout).
const timeLayout = "2006-01-02 15:04:05 UTC"

// Time is the one way sparkform's text views, messages and notes write a point in time:
// 2026-12-01 10:04:07 UTC, to the second and always in UTC, so that times from operators in
// several zones, from hosts and from every view compare at a glance. -json writes RFC 3339.
func Time(t time.Time) string { return t.UTC().Format(timeLayout) }
