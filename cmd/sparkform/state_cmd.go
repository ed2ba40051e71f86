package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/suggest"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/state"
)

const stateUsage = `usage: sparkform state <subcommand> [-state FILE | -backend local|pg]

  list [ADDR...]       resources in the state
  show ADDR            one resource's attributes and originals
  rm ADDR...           forget resources (nothing changes on the host)
  pull                 the whole state as JSON on standard output
  push FILE|-          replace the state with FILE's (same lineage, newer serial; backs up the old)
  migrate -to pg|local copy the state between the local file and PostgreSQL (backs up what it replaces)
  versions [-n N]      the write history: which serial wrote what, when, by whom (pg backend)

ADDR is HOST/TYPE.NAME (e.g. spark-01/sysctl.loading) or TYPE.NAME for every host.
The pg backend connects with SPARKFORM_PG_CONN and the PG* variables.
`

func runState(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, stateUsage)
		return 1
	}
	if isHelpFlag(args[0]) || args[0] == "help" {
		fmt.Fprint(stdout, stateUsage)
		return 0
	}
	sub, ok := stateSubcommand(args[0])
	if !ok {
		hint := suggest.Hint(args[0], []string{"list", "show", "rm", "pull", "push", "migrate", "versions"})
		fmt.Fprintf(stderr, "Error: unknown state subcommand %q.%s\n\n%s", args[0], hint, stateUsage)
		return 1
	}
	return sub(args[1:], stdout, stderr)
}

// stateSubcommand is the state subcommand named sub (a switch, not a table: the command table
// refers to runState, which refers to these).
func stateSubcommand(sub string) (command, bool) {
	var make func(string) command
	switch sub {
	case "list":
		make = newCommand(flagState|flagLockTimeout, anyArgs, runStateList)
	case "show":
		make = newCommand(flagState|flagLockTimeout, anyArgs, runStateShow)
	case "rm":
		make = newCommand(flagState|flagLockTimeout, anyArgs, runStateRm)
	case "pull":
		make = newCommand(flagState, anyArgs, runStatePull)
	case "push":
		make = newCommand(flagState|flagLockTimeout, anyArgs, runStatePush)
	case "migrate":
		make = newCommand(flagLockTimeout, anyArgs, runStateMigrate)
	case "versions":
		make = newCommand(flagState|flagJSON, anyArgs, runStateVersions)
	default:
		return nil, false
	}
	return make("state " + sub), true
}

// openExisting opens the state the state subcommands work on (-state or -backend, else the
// current directory's) and loads it, failing when there is none.
func (in *invocation) openExisting() (state.Backend, *state.State, bool) {
	store, st, err := readState(".", in.state)
	if err != nil {
		errorf(in.stderr, "%v", err)
		return nil, nil, false
	}
	return store, st, true
}

// state list [HOST | ADDR | HOST/ADDR ...]: the resources in the state.
func runStateList(in *invocation, _ *noFlags) int {
	store, st, ok := in.openExisting()
	if !ok {
		return 1
	}
	defer store.Close()
	found := matching(st, in.args)
	for _, a := range found {
		fmt.Fprintln(in.stdout, termsafe.Line(a))
	}
	// A filter that matches nothing is a mistake to name (a typo, a host never applied), not an
	// empty list; a host in state that has no resources is not.
	code := 0
	for _, f := range in.args {
		if _, known := st.Hosts[f]; known || len(matching(st, []string{f})) > 0 {
			continue
		}
		code = errorf(in.stderr, "no host or resource %s in %s.%s", f, store, stateHint(st, []string{f}))
	}
	return code
}

// state show HOST/ADDR | ADDR: one resource's attributes and originals (on every host for ADDR).
func runStateShow(in *invocation, _ *noFlags) int {
	if len(in.args) != 1 {
		return errorf(in.stderr, "state show needs one address, e.g. spark-01/sysctl.loading")
	}
	store, st, ok := in.openExisting()
	if !ok {
		return 1
	}
	defer store.Close()
	found := matching(st, in.args)
	if len(found) == 0 {
		return errorf(in.stderr, "no resource %s in %s.%s", in.args[0], store, stateHint(st, in.args))
	}
	// The same resource alike on many hosts is one block, as show groups hosts.
	resource := func(a string) (string, *state.Resource) {
		host, addr, _ := strings.Cut(a, "/")
		return addr, st.Hosts[host].Resources[addr]
	}
	for _, g := range groupBy(found, func(a string) string { return resourceKey(resource(a)) }) {
		addr, r := resource(g.items[0])
		label, hosts, times := g.items[0], []string{}, []time.Time{}
		for _, a := range g.items {
			host, _, _ := strings.Cut(a, "/")
			_, r := resource(a)
			hosts, times = append(hosts, host), append(times, r.AppliedAt)
		}
		if len(hosts) > 1 {
			label = compactHosts(hosts) + "/" + addr
		}
		renderStateBlock(in.stdout, "", label, r, appliedSpan(times))
	}
	return 0
}

// state rm ADDR...: forget resources, under the state lock; nothing changes on the hosts.
func runStateRm(in *invocation, _ *noFlags) int {
	if len(in.args) == 0 {
		return errorf(in.stderr, "state rm needs at least one address")
	}
	store, err := openState(context.Background(), ".", in.state)
	if err != nil {
		return errorf(in.stderr, "%v", err)
	}
	defer store.Close()
	release, err := store.Lock(context.Background(), "state rm", in.lockTimeout)
	if err != nil {
		return errorf(in.stderr, "%v", err)
	}
	defer release()
	st, err := loadExistingState(store)
	if err != nil {
		return errorf(in.stderr, "%v", err)
	}
	found := matching(st, in.args)
	if len(found) == 0 {
		return errorf(in.stderr, "no resource matches %s.%s", strings.Join(in.args, " "), stateHint(st, in.args))
	}
	for _, a := range found {
		host, addr, _ := strings.Cut(a, "/")
		delete(st.Hosts[host].Resources, addr)
	}
	if err := store.Persist(st); err != nil {
		return errorf(in.stderr, "%v", err)
	}
	for _, a := range found {
		fmt.Fprintf(in.stdout, "Removed %s\n", termsafe.Line(a))
	}
	fmt.Fprintf(in.stdout, "Successfully removed %d resource instance(s).\n", len(found))
	return 0
}

// matching lists HOST/ADDR entries matching any filter (HOST/TYPE.NAME, TYPE.NAME or HOST); all without filters.
// stateHint is "Did you mean ...?" for the first filter that is close to a host, an address or
// a HOST/ADDR of the state.
func stateHint(st *state.State, filters []string) string {
	var names []string
	seen := map[string]bool{}
	for _, host := range slices.Sorted(maps.Keys(st.Hosts)) {
		names = append(names, host)
		for _, addr := range slices.Sorted(maps.Keys(st.Hosts[host].Resources)) {
			names = append(names, host+"/"+addr)
			if !seen[addr] {
				seen[addr] = true
				names = append(names, addr)
			}
		}
	}
	for _, f := range filters {
		if h := suggest.Hint(f, names); h != "" {
			return h
		}
	}
	return ""
}

func matching(st *state.State, filters []string) []string {
	var out []string
	for _, host := range slices.Sorted(maps.Keys(st.Hosts)) {
		for _, addr := range slices.Sorted(maps.Keys(st.Hosts[host].Resources)) {
			full := host + "/" + addr
			ok := len(filters) == 0
			for _, f := range filters {
				if f == full || f == addr || f == host {
					ok = true
				}
			}
			if ok {
				out = append(out, full)
			}
		}
	}
	return out
}
