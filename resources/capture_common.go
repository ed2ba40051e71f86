package resources

import (
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

var (
	captureNameBadRe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
	wholeNumberRe    = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})$`)
)

// captureName turns a path or device name into a block label: letters, digits, _ and -,
// starting with a letter ("/opt/venv" → "venv", "llama.cpp" → "llama_cpp"); def when nothing is left.
func captureName(s, def string) string {
	if i := strings.LastIndexByte(strings.TrimRight(s, "/"), '/'); i >= 0 {
		s = strings.TrimRight(s, "/")[i+1:]
	}
	s = strings.Trim(captureNameBadRe.ReplaceAllString(s, "_"), "_-")
	if s == "" {
		return def
	}
	if c := s[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		s = def + "_" + s
	}
	return s
}

// numberOrString is a whole number as a cty number (written without quotes), anything else as a string.
func numberOrString(s string) cty.Value {
	if wholeNumberRe.MatchString(s) {
		return cty.NumberIntVal(mustAtoi64(s))
	}
	return cty.StringVal(s)
}

func mustAtoi64(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}
