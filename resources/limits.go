package resources

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/english"
)

// Bounds of the durations a block may set. A duration is added to others (a step timeout plus a
// margin, a deadline from now), so an unbounded one such as "2562047h47m" overflows into the past
// and fails at once; nothing sparkform waits for takes longer than a day.
const (
	minDuration = time.Second
	MaxDuration = 24 * time.Hour
)

// ParseDuration reads a duration between lo and hi (inclusive), saying what is wrong otherwise.
// The configuration uses it too, so every duration is checked by one rule.
func ParseDuration(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration such as \"90s\", \"10m\" or \"1h30m\"", s)
	case d < lo || d > hi:
		return 0, fmt.Errorf("%q is out of range: give a duration from %s to %s", s, english.Setting(lo), english.Setting(hi))
	}
	return d, nil
}

// finiteIn reports whether f is a real number (not NaN or ±Inf) in [lo, hi].
func finiteIn(f, lo, hi float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0) && f >= lo && f <= hi
}

// HasControl reports whether s holds a control character (C0, DEL or C1): newlines, tabs, ESC.
// No value sparkform passes to a program or writes into a file needs one.
func HasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return true
		}
	}
	return false
}

// urlCredsRe finds the user information of a URL ("https://user:token@host").
var urlCredsRe = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)([^/@\s]*@)`)

// redactURL hides the user information of every URL in s: https://user:token@host becomes
// https://***@host. Messages that quote a source use it, so a credential written by mistake
// (or read with file()) is not echoed to a terminal or a log.
func redactURL(s string) string {
	return urlCredsRe.ReplaceAllString(s, "${1}***@")
}

// sourceProblem explains why a git source URL is refused, or returns "": a password or token in
// it (it would be stored in state, plan files and the clone's .git/config on every host), or a
// user or host that starts with '-' (ssh and git would read it as an option).
func sourceProblem(s string) string {
	if strings.HasPrefix(s, "-") {
		return "starts with '-', which git would read as an option"
	}
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil {
			return "is not a URL: " + err.Error()
		}
		if strings.HasPrefix(u.Host, "-") || strings.HasPrefix(u.Hostname(), "-") {
			return "has a host that starts with '-', which ssh would read as an option"
		}
		if u.User != nil {
			if _, hasPass := u.User.Password(); hasPass {
				return "holds a password or token (user:secret@): it would be stored in state, in plan files and in the clone's .git/config on every host; give the hosts a git credential helper or ~/.netrc, or use an ssh:// source with a deploy key"
			}
			if u.Scheme != "ssh" {
				return "holds a user name or token before '@': over " + u.Scheme + " that is a credential, which would be stored in state, in plan files and on every host; give the hosts a git credential helper or ~/.netrc instead"
			}
			if strings.HasPrefix(u.User.Username(), "-") {
				return "has a user that starts with '-', which ssh would read as an option"
			}
		}
		return ""
	}
	// user@host:path
	user, rest, _ := strings.Cut(s, "@")
	host, _, _ := strings.Cut(rest, ":")
	if strings.HasPrefix(user, "-") || strings.HasPrefix(host, "-") {
		return "has a user or host that starts with '-', which ssh would read as an option"
	}
	return ""
}
