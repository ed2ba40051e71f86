package main

import (
	"context"
	"testing"
)

// A plan reads a host with shell builtins: the processes it starts there (counted by the host's
// pid namespace: ns_last_pid before and after, so the connection's sshd processes count too)
// stay within a budget that does not grow with the number of keys or files.
func TestPlanStartsFewProcessesOnAHost(t *testing.T) {
	l := needLab(t)
	for _, tc := range []struct {
		name, config string
		args         []string
		budget       int
	}{
		{"sysctl and read-ahead", tuning, nil, 10},
		// spark-known-good (budget 25) follows once the kernel, venv and llama.cpp probes are cheap
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := configDir(t, l, map[string]string{"main.hcl": tc.config})
			before, err := l.LastPID(context.Background(), "spark-01")
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut := cli(t, append(append([]string{"plan"}, tc.args...), "-host", "spark-01", dir)...)
			if code != 0 && code != 2 {
				t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
			}
			after, err := l.LastPID(context.Background(), "spark-01")
			if err != nil {
				t.Fatal(err)
			}
			n := after - before - 1 // the second reading takes a pid itself
			t.Logf("%s: plan started %d processes on spark-01", tc.name, n)
			if n > tc.budget {
				t.Errorf("%s: plan started %d processes on the host, budget %d", tc.name, n, tc.budget)
			}
		})
	}
}
