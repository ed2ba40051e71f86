package resources

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparkform/sparkform/internal/lab"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/state"
	"github.com/zclconf/go-cty/cty"
)

// The python_venv and llama_cpp lab tests share one 3-host lab on a subnet in 50-59 (kernel
// tests run their own in 40-49); spark-03 has no nvcc. It starts on first use and TestMain takes
// it down, whatever the tests did. Subnets are reserved by flock (lab.ReserveSubnetIn): several
// people on one machine run this package's tests at once, and a second test process must never
// take down the lab of a first one that is still using it.

const resLabSubnets, kernelLabSubnets = 50, 40

// resLabDirFor is the shared lab's directory on a subnet: fixed per subnet, so a lab left running
// by a test process that died (a panic skips TestMain's teardown) is found and taken down by the
// next process that reserves the subnet.
func resLabDirFor(subnet int) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("sparkform-resources-lab-%d", subnet))
}

var (
	resLabOnce sync.Once
	resLab     *lab.Lab
	resLabDir  string
	resLabErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if resLabDir != "" {
		l := resLab
		if l == nil {
			l, _ = lab.Open(resLabDir)
		}
		if l != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if err := l.Down(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "lab down:", err)
			}
			cancel()
		}
		os.RemoveAll(resLabDir)
	}
	os.Exit(code)
}

// needResLab returns the shared lab, or skips the test saying why there is none.
func needResLab(t *testing.T) *lab.Lab {
	t.Helper()
	lab.SkipUnlessAvailable(t)
	resLabOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		subnet, err := lab.ReserveSubnetIn(ctx, resLabSubnets, resLabSubnets+10, resLabDirFor)
		if err != nil {
			resLabErr = err
			return
		}
		resLabDir = resLabDirFor(subnet)
		if err := os.RemoveAll(resLabDir); err != nil {
			resLabErr = err
			return
		}
		resLab, resLabErr = lab.Up(ctx, lab.Options{Dir: resLabDir, N: 3, Subnet: subnet, NoNvcc: []string{"spark-03"}})
	})
	if resLabErr != nil {
		t.Fatalf("lab: %v", resLabErr)
	}
	return resLab
}

// labHost is one lab host reached the way the engine reaches it.
type labHost struct {
	provider.Host
}

func dialLabHost(t *testing.T, l *lab.Lab, name string) labHost {
	t.Helper()
	hi, err := l.Host(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := provider.Dial(ctx, provider.Config{Name: name, Address: hi.Address, Port: hi.Port, User: "root",
		IdentityFile: l.KeyPath(), KnownHosts: l.KnownHostsPath(), SSHConfig: "none", ProxyJump: "none"})
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	return labHost{Host: h}
}

// sh runs a command on the host as root and returns its stdout; a non-zero exit fails the test.
func (h labHost) sh(t *testing.T, script string) string {
	t.Helper()
	res, err := h.Run(context.Background(), script)
	if err != nil {
		t.Fatalf("%s: %v", h.Name(), err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("%s: %q exited %d: %s%s", h.Name(), script, res.ExitCode, res.Stdout, res.Stderr)
	}
	return strings.TrimSpace(string(res.Stdout))
}

// roundTrip passes a value through the state file's JSON encoding, as a saved plan and the state do.
func roundTrip(t *testing.T, v cty.Value) cty.Value {
	t.Helper()
	b, err := json.Marshal(state.Value{Value: v})
	if err != nil {
		t.Fatalf("state encoding: %v", err)
	}
	var back state.Value
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("state decoding: %v", err)
	}
	return back.Value
}

// plan runs the instance's probe the way the engine does (in a subshell, stdin from /dev/null,
// LC_ALL=C, a non-zero status is a failed probe), then Read and Diff.
func plan(t *testing.T, h labHost, r Resource, in Instance) (cty.Value, Diff, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := h.Run(ctx, "export LC_ALL=C\n(\n"+r.Probe(in)+"\n) </dev/null\n")
	if err != nil {
		t.Fatalf("%s: probe: %v", h.Name(), err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("%s: %s: probe failed (exit %d): %s %s", h.Name(), in.Addr(), res.ExitCode, res.Stdout, res.Stderr)
	}
	obs, err := r.Read(in, res.Stdout)
	if err != nil {
		t.Fatalf("%s: %s: read: %v", h.Name(), in.Addr(), err)
	}
	obs = roundTrip(t, obs)
	d, err := r.Diff(in, obs)
	return obs, d, err
}

// applied is the outcome of one plan+apply of an instance on a host.
type applied struct {
	Diff    Diff
	Prior   Prior // what state would remember (in.Prior when nothing changed)
	Err     error
	Log     []string
	Elapsed time.Duration
}

// planApply plans the instance and, unless the plan says no-op, applies it, as the engine does.
// A plan error is fatal: tests expecting one call plan directly.
func planApply(t *testing.T, h labHost, r Resource, in Instance, timeout time.Duration) applied {
	t.Helper()
	obs, d, err := plan(t, h, r, in)
	if err != nil {
		t.Fatalf("%s: %s: plan: %v", h.Name(), in.Addr(), err)
	}
	a := applied{Diff: d, Prior: in.Prior}
	if d.Action == NoOp {
		return a
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var mu sync.Mutex
	start := time.Now()
	pr, err := r.Apply(ctx, h, in, obs, d, func(line string) { mu.Lock(); a.Log = append(a.Log, line); mu.Unlock() })
	a.Elapsed = time.Since(start)
	a.Err = err
	if pr.Attributes != cty.NilVal || pr.Original != cty.NilVal {
		pr.Attributes, pr.Original = roundTrip(t, pr.Attributes), roundTrip(t, pr.Original)
		a.Prior = pr
	}
	return a
}

// onEveryHost runs f for every host at once, each in its own subtest (the engine applies hosts in
// parallel too), and returns when all are done.
func onEveryHost(t *testing.T, hosts []labHost, f func(t *testing.T, h labHost)) {
	t.Helper()
	t.Run("hosts", func(t *testing.T) {
		for _, h := range hosts {
			t.Run(h.Name(), func(t *testing.T) {
				t.Parallel()
				f(t, h)
			})
		}
	})
}

// labInstance is one resource block across a lab scenario's hosts, with what state remembers of
// it on each host as the steps go (hosts run in parallel).
type labInstance struct {
	typ, name string
	mu        sync.Mutex
	priors    map[string]Prior
}

func newLabInstance(typ, name string) *labInstance {
	return &labInstance{typ: typ, name: name, priors: map[string]Prior{}}
}

// with is the instance with body as its block on h.
func (li *labInstance) with(h labHost, body cty.Value) Instance {
	li.mu.Lock()
	defer li.mu.Unlock()
	return Instance{Type: li.typ, Name: li.name, Desired: body, Prior: li.priors[h.Name()]}
}

// removed is the instance with its block gone from h's configuration.
func (li *labInstance) removed(h labHost) Instance {
	return li.with(h, cty.NullVal(cty.DynamicPseudoType))
}

// remember records what state keeps of the instance on h after an apply.
func (li *labInstance) remember(h labHost, p Prior) {
	li.mu.Lock()
	defer li.mu.Unlock()
	li.priors[h.Name()] = p
}
