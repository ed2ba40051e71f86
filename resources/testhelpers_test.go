package resources

import (
	"testing"
	"time"
)

// fieldLines renders a diff's fields one per line ("path before->after", " drift" when changed
// outside sparkform), for table tests to compare.
func fieldLines(fields []FieldChange) []string {
	var got []string
	for _, f := range fields {
		after := f.After
		if f.AfterNull {
			after = "(null)"
		}
		s := f.Path + " " + f.Before + "->" + after
		if f.Drift {
			s += " drift"
		}
		got = append(got, s)
	}
	return got
}

// labSteps runs the steps of a lab scenario as subtests, in order, skipping the rest once one
// failed (later steps build on earlier ones), and logs how long each took.
func labSteps(t *testing.T) func(name string, f func(t *testing.T)) {
	return func(name string, f func(t *testing.T)) {
		if t.Failed() {
			t.Logf("skipping %s: an earlier step failed", name)
			return
		}
		start := time.Now()
		t.Run(name, f)
		t.Logf("%s: %s", name, time.Since(start).Round(10*time.Millisecond))
	}
}
