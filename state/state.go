// Package state is sparkform's memory of what it applied: the JSON format (version, serial,
// lineage, hosts → resources → attributes and originals, history), its lock, and atomic persistence.
package state

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// FormatVersion is the version of the state file format this build writes.
const FormatVersion = 1

// State is the whole state file.
type State struct {
	Version int              `json:"version"`
	Serial  uint64           `json:"serial"`
	Lineage string           `json:"lineage"`
	Hosts   map[string]*Host `json:"hosts"`
}

// Host is what state remembers of one host.
type Host struct {
	// HostKey pinned for the host (authorized_keys format), recorded on first contact.
	HostKey   string               `json:"host_key,omitempty"`
	Resources map[string]*Resource `json:"resources"` // keyed by address "type.name"
	// Generations, Incidents and Tests are history: a record is never modified once it is in
	// the state (Clone shares them, and backends reuse their encodings by pointer).
	//
	// Generations are the host's successful applies, oldest first: what rollback returns to.
	Generations []*Generation `json:"generations,omitempty"`
	// Incidents are failures worth remembering after the run's output is gone (rollbacks).
	Incidents []*Incident `json:"incidents,omitempty"`
	// Tests are smoke-test results, oldest first, each with the context it ran in.
	Tests []*TestRun `json:"tests,omitempty"`
}

// TestRun is one smoke test in one mode on one host: the median of its repeats and what the
// host looked like, so results can be compared across kernels and settings later.
type TestRun struct {
	Time       time.Time `json:"time"`
	Test       string    `json:"test"` // address, e.g. "smoke_test.gpt-oss"
	Mode       string    `json:"mode"` // e.g. "mmap", "no-mmap"
	Generation int       `json:"generation,omitempty"`
	Seconds    float64   `json:"seconds"` // median of Runs; 0 when no run became ready
	Runs       []float64 `json:"runs"`
	Passed     bool      `json:"passed"`
	Message    string    `json:"message,omitempty"` // why it failed
	// Kernel is the running kernel; Context summarises the host's applied resources
	// (address → "attr=value ..."), e.g. "readahead.nvme" → "device=nvme0n1 kb=8192".
	Kernel  string            `json:"kernel"`
	Context map[string]string `json:"context,omitempty"`
	// Server is the kind of server the test ran ("llama.cpp", "vllm"); Build its version as it
	// reported it ("6800 (19a5a3ed)", "0.11.0"), "" when unknown.
	Server string `json:"server,omitempty"`
	Build  string `json:"build,omitempty"`
	// Before marks a result measured before an apply changed the host (the host had no result
	// for the test yet): the "before" of the report's before/after. Generation is the one the
	// host was at then (0: none).
	Before bool `json:"before,omitempty"`
	// MaxSeconds is the test's max_seconds for the mode when it ran (0: none): reports draw it.
	MaxSeconds float64 `json:"max_seconds,omitempty"`
	// Setup is the same context as data (results recorded before it existed have none).
	Setup *TestSetup `json:"setup,omitempty"`
}

// TestSetup is what a test ran with besides the kernel, as reported by the host's resources.
type TestSetup struct {
	ReadAheadKB map[string]int64  `json:"read_ahead_kb,omitempty"` // block device → KB
	Sysctl      map[string]string `json:"sysctl,omitempty"`        // key → value
	Builds      map[string]string `json:"builds,omitempty"`        // resource address → build id
}

// maxTestRuns bounds the test results kept per host.
const maxTestRuns = 500

// AddTestRun appends a result, dropping the oldest past maxTestRuns.
func (h *Host) AddTestRun(r *TestRun) {
	h.Tests = append(h.Tests, r)
	if len(h.Tests) > maxTestRuns {
		h.Tests = h.Tests[len(h.Tests)-maxTestRuns:]
	}
}

// LastTestRun is the latest result of test in mode that passed (nil when none).
func (h *Host) LastTestRun(test, mode string) *TestRun {
	for i := len(h.Tests) - 1; i >= 0; i-- {
		if r := h.Tests[i]; r.Test == test && r.Mode == mode && r.Passed {
			return r
		}
	}
	return nil
}

// BaselineRuns are how many passing results a regression check takes the median of.
const BaselineRuns = 5

// BaselineResults are the reference for a regression check of test in mode: the latest passing
// result and up to n-1 earlier passing ones measured in the same context as it (kernel, server,
// build and the applied resources), newest first. One result is noise; results from another
// kernel or setting measure something else.
func (h *Host) BaselineResults(test, mode string, n int) []*TestRun {
	last := h.LastTestRun(test, mode)
	if last == nil {
		return nil
	}
	var out []*TestRun
	for i := len(h.Tests) - 1; i >= 0 && len(out) < n; i-- {
		if r := h.Tests[i]; r.Test == test && r.Mode == mode && r.Passed && r.SameContext(last) {
			out = append(out, r)
		}
	}
	return out
}

// SameContext reports whether two results ran on the same kernel, server build and applied
// resources.
func (r *TestRun) SameContext(o *TestRun) bool {
	if r.Kernel != o.Kernel || r.Server != o.Server || r.Build != o.Build || len(r.Context) != len(o.Context) {
		return false
	}
	for k, v := range r.Context {
		if ov, ok := o.Context[k]; !ok || ov != v {
			return false
		}
	}
	return true
}

// Generation is one successful apply on a host: the configuration it came from and every
// resource as applied at that moment (kernel included).
type Generation struct {
	N          int                  `json:"n"`
	Time       time.Time            `json:"time"`
	ConfigHash string               `json:"config_hash"`
	Resources  map[string]*Resource `json:"resources"`
	// Note says how the generation came about, e.g. "rollback to generation 2".
	Note string `json:"note,omitempty"`
}

// Incident is a failure recorded for a host, e.g. an automatic kernel rollback.
type Incident struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // "rolled_back", "reboot_timeout"
	Message string    `json:"message"`
}

// MaxGenerations bounds the history kept per host; older generations are dropped.
const MaxGenerations = 20

// AddGeneration records the host's current resources as a new generation.
func (h *Host) AddGeneration(at time.Time, configHash, note string) *Generation {
	n := 1
	if len(h.Generations) > 0 {
		n = h.Generations[len(h.Generations)-1].N + 1
	}
	g := &Generation{N: n, Time: at.UTC(), ConfigHash: configHash, Note: note, Resources: map[string]*Resource{}}
	for a, r := range h.Resources {
		c := *r
		g.Resources[a] = &c
	}
	h.Generations = append(h.Generations, g)
	if len(h.Generations) > MaxGenerations {
		h.Generations = h.Generations[len(h.Generations)-MaxGenerations:]
	}
	return g
}

// Generation returns generation n, or nil.
func (h *Host) Generation(n int) *Generation {
	for _, g := range h.Generations {
		if g.N == n {
			return g
		}
	}
	return nil
}

// Resource is one applied resource on one host.
type Resource struct {
	Type       string    `json:"type"`
	Name       string    `json:"name"`
	Attributes Value     `json:"attributes"` // what sparkform applied
	Original   Value     `json:"original"`   // live values before sparkform first changed them
	AppliedAt  time.Time `json:"applied_at"`
}

// Value is a cty.Value that round-trips through JSON with its type.
type Value struct{ cty.Value }

// New returns an empty state with a fresh lineage. The lineage identifies this state's history:
// a saved plan or a write from another lineage is refused rather than merged.
func New() *State {
	return &State{Version: FormatVersion, Lineage: newUUID(), Hosts: map[string]*Host{}}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (it panics itself since Go 1.24).
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// address is a resource's key within its host: "type.name".
func address(typ, name string) string { return typ + "." + name }

// Clone returns a deep copy: the engine plans against a snapshot while apply mutates the live
// state. cty values are immutable, so sharing them is safe.
func (st *State) Clone() *State {
	c := &State{Version: st.Version, Serial: st.Serial, Lineage: st.Lineage, Hosts: make(map[string]*Host, len(st.Hosts))}
	for name, h := range st.Hosts {
		if h == nil {
			continue
		}
		// Generations and incidents are never modified once recorded, so sharing them is safe.
		ch := &Host{HostKey: h.HostKey, Resources: make(map[string]*Resource, len(h.Resources)),
			Generations: append([]*Generation(nil), h.Generations...), Incidents: append([]*Incident(nil), h.Incidents...),
			Tests: append([]*TestRun(nil), h.Tests...)}
		for addr, r := range h.Resources {
			if r == nil {
				continue
			}
			cr := *r
			ch.Resources[addr] = &cr
		}
		c.Hosts[name] = ch
	}
	return c
}

// Host returns the named host's record, creating it if absent.
func (st *State) Host(name string) *Host {
	if st.Hosts == nil {
		st.Hosts = map[string]*Host{}
	}
	h := st.Hosts[name]
	if h == nil {
		h = &Host{Resources: map[string]*Resource{}}
		st.Hosts[name] = h
	}
	if h.Resources == nil {
		h.Resources = map[string]*Resource{}
	}
	return h
}

// Lookup returns the resource at addr ("type.name") on host, or nil.
func (st *State) Lookup(host, addr string) *Resource {
	h := st.Hosts[host]
	if h == nil {
		return nil
	}
	return h.Resources[addr]
}

// Set records r on host under its address, replacing any previous record.
func (st *State) Set(host string, r *Resource) {
	st.Host(host).Resources[address(r.Type, r.Name)] = r
}

// Remove forgets the resource at addr on host and reports whether it was there. The host record
// (and its pinned key) is kept: forgetting a resource must not forget who the host is.
func (st *State) Remove(host, addr string) bool {
	h := st.Hosts[host]
	if h == nil || h.Resources[addr] == nil {
		return false
	}
	delete(h.Resources, addr)
	return true
}

// Addresses lists every resource as "host/type.name", sorted (for `state list`).
func (st *State) Addresses() []string {
	var out []string
	for host, h := range st.Hosts {
		if h == nil {
			continue
		}
		for addr := range h.Resources {
			out = append(out, host+"/"+addr)
		}
	}
	sort.Strings(out)
	return out
}

// MarshalJSON writes {"type": <cty type JSON>, "value": <cty value JSON>}; a missing value
// (cty.NilVal) is written as JSON null. The type is stored because JSON alone cannot tell a
// map from an object or a list from a set.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.Value == cty.NilVal {
		return []byte("null"), nil
	}
	ty, err := ctyjson.MarshalType(v.Type())
	if err != nil {
		return nil, err
	}
	val, err := ctyjson.Marshal(v.Value, v.Type())
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Type  json.RawMessage `json:"type"`
		Value json.RawMessage `json:"value"`
	}{ty, val})
}

// UnmarshalJSON reads what MarshalJSON wrote; JSON null becomes cty.NilVal.
func (v *Value) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		v.Value = cty.NilVal
		return nil
	}
	var raw struct {
		Type  json.RawMessage `json:"type"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Type == nil {
		return fmt.Errorf("value without a type")
	}
	ty, err := ctyjson.UnmarshalType(raw.Type)
	if err != nil {
		return fmt.Errorf("value type: %w", err)
	}
	if raw.Value == nil {
		raw.Value = json.RawMessage("null")
	}
	val, err := ctyjson.Unmarshal(raw.Value, ty)
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	v.Value = val
	return nil
}
