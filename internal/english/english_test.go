package english

import "testing"

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
