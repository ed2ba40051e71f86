package main

import (
	"context"
	"fmt"
	"io"
	"strings"

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
	sub := args[0]
	if move, ok := stateMove(sub); ok {
		return move(args[1:], stdout, stderr)
	}
	var rf runFlags
	pos, ok := rf.parse("state "+sub, args[1:], stderr, flagState|flagLockTimeout, nil)
	if !ok {
		return 1
	}
	store, err := openState(context.Background(), ".", rf.state)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	defer store.Close()
	switch sub {
	case "list":
		st, err := loadExistingState(store)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		for _, a := range matching(st, pos) {
			fmt.Fprintln(stdout, termsafe.Line(a))
		}
		return 0
	case "show":
		if len(pos) != 1 {
			return errorf(stderr, "state show needs one address, e.g. spark-01/sysctl.loading")
		}
		st, err := loadExistingState(store)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		found := matching(st, pos)
		if len(found) == 0 {
			return errorf(stderr, "no resource %s in %s", pos[0], store)
		}
		for _, a := range found {
			host, addr, _ := strings.Cut(a, "/")
			renderStateResource(stdout, "", a, st.Hosts[host].Resources[addr])
		}
		return 0
	case "rm":
		if len(pos) == 0 {
			return errorf(stderr, "state rm needs at least one address")
		}
		release, err := store.Lock(context.Background(), "state rm", rf.lockTimeout)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		defer release()
		st, err := loadExistingState(store)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		found := matching(st, pos)
		if len(found) == 0 {
			return errorf(stderr, "no resource matches %s", strings.Join(pos, " "))
		}
		for _, a := range found {
			host, addr, _ := strings.Cut(a, "/")
			delete(st.Hosts[host].Resources, addr)
		}
		if err := store.Persist(st); err != nil {
			return errorf(stderr, "%v", err)
		}
		for _, a := range found {
			fmt.Fprintf(stdout, "Removed %s\n", termsafe.Line(a))
		}
		fmt.Fprintf(stdout, "Successfully removed %d resource instance(s).\n", len(found))
		return 0
	}
	fmt.Fprint(stderr, stateUsage)
	return 1
}

// matching lists HOST/ADDR entries matching any filter (HOST/TYPE.NAME, TYPE.NAME or HOST); all without filters.
func matching(st *state.State, filters []string) []string {
	var out []string
	for _, host := range sortedKeysOf(st.Hosts) {
		for _, addr := range sortedKeysOf(st.Hosts[host].Resources) {
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
