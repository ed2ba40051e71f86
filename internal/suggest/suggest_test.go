package suggest

import "testing"

func TestClosestSuggestsTyposOnly(t *testing.T) {
	names := []string{"plan", "apply", "validate", "rollback", "spark-01", "spark-02"}
	for given, want := range map[string]string{
		"paln":       "plan",
		"aply":       "apply",
		"validat":    "validate",
		"rolback":    "rollback",
		"spark-1":    "spark-01",
		"frobnicate": "",
		"x":          "",
	} {
		if got := Closest(given, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", given, got, want)
		}
	}
}
