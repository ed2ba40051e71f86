// Package resources holds each resource type in its own file or siblings (sysctl.go, kernel_grub.go,
// …) and the registry the configuration and the engine find them in. A resource reads facts with a
// shell probe, diffs them against the desired value and applies changes through a provider.Host.
package resources

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/sparkform/sparkform/provider"
	"github.com/zclconf/go-cty/cty"
)

// Prior is what state remembers of one resource on one host.
type Prior struct {
	// Attributes is what sparkform last applied (cty.NilVal or null when never applied).
	Attributes cty.Value
	// Original holds the live values from before sparkform first changed them, so a destroy
	// can put them back. A resource decides its shape.
	Original cty.Value
}

// Exists reports whether state holds anything for the resource.
func (p Prior) Exists() bool { return p.Attributes != cty.NilVal && !p.Attributes.IsNull() }

// Action is what a plan will do to one resource on one host.
type Action string

const (
	NoOp    Action = "no-op"
	Create  Action = "create"
	Update  Action = "update"
	Delete  Action = "delete"
	Replace Action = "replace"
)

// Symbol is the Terraform-style plan symbol of an action.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	case Replace:
		return "-/+"
	}
	return " "
}

// FieldChange is one attribute (or one map key) that differs between the host and the configuration.
type FieldChange struct {
	Path       string `json:"path"` // e.g. `values["vm.swappiness"]`, `kb`, `file`
	Before     string `json:"before,omitempty"`
	After      string `json:"after,omitempty"`
	BeforeNull bool   `json:"before_null,omitempty"` // absent on the host
	AfterNull  bool   `json:"after_null,omitempty"`  // will be absent
	// Drift is true when the live value no longer matches what sparkform last applied:
	// it was changed outside sparkform.
	Drift bool `json:"drift,omitempty"`
}

// Diff is a resource's verdict for one host.
type Diff struct {
	Action         Action        `json:"action"`
	Fields         []FieldChange `json:"fields,omitempty"`
	RequiresReboot bool          `json:"requires_reboot,omitempty"`
	// Summary is an optional one-line headline, e.g. "6.11.0-1016-nvidia → 6.17.0-1014-nvidia".
	Summary string `json:"summary,omitempty"`
	// StateOnly (with Action Update) says the host already matches: apply only records the
	// resource in state, changing nothing on the host. Plans count it apart from changes.
	StateOnly bool `json:"state_only,omitempty"`
}

// AttrError is a validation failure of one attribute of a block; the configuration turns it
// into a diagnostic at that attribute's file:line:column.
type AttrError struct {
	Attr string // top-level attribute name in the block
	Msg  string
}

func (e AttrError) Error() string { return fmt.Sprintf("%s: %s", e.Attr, e.Msg) }

// Instance is one resource block as it applies to one host.
type Instance struct {
	Type string // block type, e.g. "sysctl"
	Name string // block label, e.g. "loading"
	// Desired is the decoded body; null when the block was removed from the configuration or
	// no longer selects this host (a destroy is being planned or applied).
	Desired cty.Value
	Prior   Prior
}

// Addr is the instance's address, "type.name".
func (in Instance) Addr() string { return in.Type + "." + in.Name }

// Destroying reports whether the instance is planned for removal.
func (in Instance) Destroying() bool { return in.Desired == cty.NilVal || in.Desired.IsNull() }

// Resource is one resource type. Implementations are stateless; every method may run
// concurrently for many hosts.
type Resource interface {
	// Type is the block type name in HCL ("sysctl").
	Type() string
	// Spec decodes the block body (meta-arguments hosts/labels/depends_on removed) into a cty.Value.
	Spec() hcldec.Spec
	// Validate checks a decoded, fully known body. Everything that will reach a shell is checked
	// here, before any connection is made.
	Validate(desired cty.Value) []AttrError
	// Probe returns a POSIX sh fragment printing the facts Read needs on stdout. Values in the
	// fragment must go through provider.Quote. The engine runs the probes of all resources of a
	// host in one round trip, each in its own subshell with stdin from /dev/null.
	Probe(in Instance) string
	// Read parses the probe's output into the observed value.
	Read(in Instance, out []byte) (cty.Value, error)
	// Diff compares the desired value (null: destroy) with observed, and with the prior to tell drift.
	// An error means the host cannot reach the desired value (e.g. a sysctl key it does not have).
	Diff(in Instance, observed cty.Value) (Diff, error)
	// Apply makes the host match in.Desired (null: destroy, restoring in.Prior.Original). It
	// returns what state should now remember; on error it still returns what it did change (so
	// originals are never lost), or in.Prior unchanged when it changed nothing. A destroy returns
	// a Prior whose Attributes are null. log receives progress lines for long steps.
	Apply(ctx context.Context, h provider.Host, in Instance, observed cty.Value, d Diff, log func(string)) (Prior, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Resource{}
)

// Register adds a resource type; each resource file calls it from init.
func Register(r Resource) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[r.Type()]; dup {
		panic("resources: duplicate type " + r.Type())
	}
	registry[r.Type()] = r
}

// Lookup finds a resource type by its block name.
func Lookup(typ string) (Resource, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	r, ok := registry[typ]
	return r, ok
}

// Types lists registered block names, sorted.
func Types() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Exporter is implemented by resource types that offer computed attributes to other blocks,
// e.g. llama_cpp's bin_dir for a smoke test's command. Exports must be computable from the
// desired body alone (they are known at plan time, before any host is read); the configuration
// merges them into the block's value under `TYPE.NAME.attr`.
type Exporter interface {
	Exports(desired cty.Value) map[string]cty.Value
}

// BootPlan is how a host must come back from the reboot a change requires.
type BootPlan struct {
	// ExpectKernel is the `uname -r` the host must report after the reboot.
	ExpectKernel string `json:"expect_kernel"`
	// PreviousKernel is what it ran before, for the rollback report.
	PreviousKernel string `json:"previous_kernel"`
	// Entry identifies the boot entry tried once (e.g. a GRUB id), for messages and confirmation.
	Entry string `json:"entry"`
	// Timeout bounds the wait for the host to come back (0: the engine's default).
	Timeout time.Duration `json:"timeout"`
}

// Rebooter is implemented by resource types whose change takes effect only at the next boot
// (the kernel). Their Diff sets RequiresReboot; the engine applies such changes after the host's
// other changes, then runs the try-once sequence:
//
//  1. PrepareBoot: arrange that the NEXT boot only uses the new setup (grub-reboot), leaving the
//     saved default on the old one, so a boot that fails falls back by itself;
//  2. the engine reboots, waits for SSH over a fresh connection with backoff up to Timeout, and
//     requires a new well-formed boot_id and `uname -r` == ExpectKernel;
//  3. ConfirmBoot: only then make the new setup the default (grub-set-default).
//
// If the host comes back on another kernel, or not within Timeout, the engine reports it rolled
// back, keeps the resource's previous state and marks the host failed.
type Rebooter interface {
	PrepareBoot(ctx context.Context, h provider.Host, in Instance, applied Prior) (BootPlan, error)
	ConfirmBoot(ctx context.Context, h provider.Host, in Instance, applied Prior, bp BootPlan) error
}

// BootReverter is implemented by Rebooter types that can undo a confirmed boot: make
// bp.PreviousKernel the default again. The engine uses it when a smoke test with
// on_failure = "rollback" fails after a kernel change; it then reboots and verifies.
type BootReverter interface {
	RevertBoot(ctx context.Context, h provider.Host, in Instance, applied Prior, bp BootPlan) error
}

// TestContext is what the engine tells a test about the host it runs on.
type TestContext struct {
	Kernel string // running kernel
	// Baseline returns the reference for a regression check of this test in mode, if any.
	Baseline func(mode string) (Baseline, bool)
}

// TestSetup is the context a test ran in, as data (reports group results by it): the kernel is
// recorded beside it; the rest comes from the host's applied resources (SetupDescriber).
type TestSetup struct {
	ReadAheadKB map[string]int64  // block device → read-ahead in KB
	Sysctl      map[string]string // key → value
	Builds      map[string]string // resource address → build id
}

// SetupDescriber is implemented by types whose applied settings change how fast a test runs
// (read-ahead, sysctl values, a build): before recording a test result the engine asks every
// applied resource of the host to add its part to the result's TestSetup. applied is the
// resource's attributes in state (untrusted: malformed values are skipped).
type SetupDescriber interface {
	DescribeSetup(addr string, applied cty.Value, s *TestSetup)
}

// Baseline is the reference a new result is compared with: the median of the last few passing
// results measured in one context (see state.Host.BaselineResults).
type Baseline struct {
	Seconds float64
	N       int    // how many results the median is of
	Kernel  string // the kernel they ran on
}

// TestOutcome is one mode's result on one host.
type TestOutcome struct {
	Mode    string
	Seconds float64   // median of Runs (0 when none became ready)
	Runs    []float64 // seconds of each repeat that became ready
	Passed  bool
	Message string // on failure: host, mode, figure, threshold, and the tail of the output
	// Server is the kind of server ("llama.cpp", "vllm"); Build its version as it reports it
	// ("6800 (19a5a3ed)", "0.11.0"; "" when it did not say).
	Server, Build string
	// MaxSeconds is the mode's max_seconds (0: none), kept with the result for reports.
	MaxSeconds float64
}

// logOrDiscard is log, or a function that drops the lines when log is nil (Apply's log may be).
func logOrDiscard(log func(string)) func(string) {
	if log == nil {
		return func(string) {}
	}
	return log
}

// applyDecided is the Apply of a type that decides what to do once, from the block and what the
// probe saw, the same decision its Diff showed (python_venv, llama_cpp): a block being removed
// is destroyed, else apply carries out the decision, logging to log (never nil there).
func applyDecided[D any](in Instance, observed cty.Value, log func(string),
	destroy func() (Prior, error),
	decide func(Instance, cty.Value) (D, error),
	apply func(D, func(string)) (Prior, error)) (Prior, error) {
	if in.Destroying() {
		return destroy()
	}
	d, err := decide(in, observed)
	if err != nil {
		return in.Prior, err
	}
	return apply(d, logOrDiscard(log))
}

// changeAction is the action of a diff with these field changes: none is NoOp (also without
// state: a host that already has what the block asks is left alone), else Create when state
// has no prior for the instance, else Update.
func changeAction(in Instance, fields []FieldChange) Action {
	switch {
	case len(fields) == 0:
		return NoOp
	case !in.Prior.Exists():
		return Create
	}
	return Update
}

// Median of xs, the figure TestOutcome.Seconds reports for its Runs (and a report for several
// outcomes): the middle value, or the mean of the middle two for an even count; false when empty.
func Median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// Tester is implemented by check types (smoke_test) that change nothing: the engine runs them
// on a host after its changes (and reboot), and `sparkform test` runs them on demand. Their Diff
// is always NoOp. An error means the test could not run at all (e.g. the command is missing).
type Tester interface {
	Test(ctx context.Context, h provider.Host, in Instance, tc TestContext, log func(string)) ([]TestOutcome, error)
	// RollbackOnFailure reports whether a failure should undo this apply's kernel change.
	RollbackOnFailure(desired cty.Value) bool
	// BaselineBeforeChanges reports whether an apply about to change a host where this test
	// has no result yet should run it before the changes too.
	BaselineBeforeChanges(desired cty.Value) bool
}

// LongRunner is implemented by types whose apply may outlast the engine's step timeout (a
// llama.cpp build has its own build_timeout); the engine allows the longer of the two.
type LongRunner interface {
	ApplyTimeout(desired cty.Value) time.Duration
}

// CaptureOptions say what `sparkform capture` reads beyond what every Capturer reads anyway.
type CaptureOptions struct {
	SysctlKeys []string // sysctl keys to capture besides the ones that matter for model loading
	Venvs      []string // python venv directories to capture
	LlamaDirs  []string // llama.cpp directories (a sparkform dir, a checkout or a build tree)
}

// CapturedAttr is one attribute of a captured block. Value is the natural cty value (numbers as
// numbers); it converts to the attribute's type in the block's Spec.
type CapturedAttr struct {
	Name  string
	Value cty.Value
}

// CapturedBlock is a resource block read back from a host, ready to be written as HCL.
type CapturedBlock struct {
	Type, Name string
	Attrs      []CapturedAttr
	// Comment is written above the block (without '#'; may span lines): what was captured from
	// where and what could not be determined.
	Comment string
}

// Capturer is implemented by resource types whose setting can be read back from a host that
// was set up by hand, to write a configuration reproducing it (`sparkform capture`).
// CaptureProbe is a read-only POSIX sh fragment (values through provider.Quote) run in the same
// round trip as the other types' fragments; Capture parses its output into blocks (values that
// pass the type's Validate) and notes saying what was not captured and why.
type Capturer interface {
	CaptureProbe(opts CaptureOptions) string
	Capture(opts CaptureOptions, out []byte) (blocks []CapturedBlock, notes []string, err error)
}

// CaptureOrder is the order captured blocks are written in, by type: what a host boots with
// first, then what runs on it. Types not listed come last.
var CaptureOrder = []string{"kernel", "sysctl", "readahead", "python_venv", "llama_cpp"}
