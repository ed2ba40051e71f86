package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/sparkform/sparkform/internal/config"
	"github.com/sparkform/sparkform/internal/suggest"
	"github.com/sparkform/sparkform/state"
	"github.com/sparkform/sparkform/state/pgstate"
)

// stateFlags say where the state is: -state FILE, or -backend local|pg; without them the
// configuration's backend block decides, else the file DIR/sparkform.state.json.
type stateFlags struct {
	path, backend string
}

const backendUsage = "state backend: local (a file) or pg (PostgreSQL; connection from SPARKFORM_PG_CONN and PG*); default: DIR's backend block, else local"

func (f *stateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.path, "state", "", "state file (default DIR/sparkform.state.json; DIR is the current directory for a command that takes none)")
	fs.StringVar(&f.backend, "backend", "", backendUsage)
}

// openState opens the state of the configuration in dir (nothing is locked).
func openState(ctx context.Context, dir string, f stateFlags) (state.Backend, error) {
	block, diags := config.LoadBackend(dir)
	if diags.HasErrors() {
		return nil, fmt.Errorf("backend block: %s", diagText(diags))
	}
	kind := f.backend
	if kind == "" && block != nil {
		kind = block.Type
	}
	switch kind {
	case "", "local":
		path := f.path
		if path == "" {
			path = filepath.Join(dir, "sparkform.state.json")
			if block != nil && block.Type == "local" && block.Path != "" {
				path = block.Path
				if !filepath.IsAbs(path) {
					path = filepath.Join(dir, path)
				}
			}
		}
		return state.NewStore(path), nil
	case "pg":
		if f.path != "" {
			return nil, fmt.Errorf("-state names a state file, but the backend is pg (from %s); use -backend local to read a file", backendSource(f, block))
		}
		var schema, name string
		if block != nil && block.Type == "pg" {
			schema, name = block.Schema, block.Name
		}
		return pgstate.OpenEnv(ctx, schema, name)
	}
	return nil, fmt.Errorf("-backend %q: use local or pg", f.backend)
}

func backendSource(f stateFlags, block *config.Backend) string {
	if f.backend != "" {
		return "-backend"
	}
	return fmt.Sprintf("the backend block at %s", block.DeclRange)
}

// diagText is diagnostics on one line, for a command that reports them as one error.
func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		s := d.Summary + ": " + d.Detail
		if d.Subject != nil {
			s = d.Subject.String() + ": " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// loadExistingState loads the state for a command that only reads it (show, state, history,
// report): Load treats a missing state as a fresh one, which is right for apply, but reading
// nothing from a mistyped directory would only mislead.
func loadExistingState(b state.Backend) (*state.State, error) {
	ok, err := b.Exists()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no state at %s: nothing has been applied from this directory. Give the configuration directory (sparkform CMD DIR, or sparkform -chdir=DIR CMD), -state FILE or -backend", b)
	}
	return b.Load()
}

// stateHosts reads the state of the commands that only read it (history, report) and names its
// hosts: those of hosts, in that order, each of which must be in the state, else all, sorted.
func stateHosts(dir string, f stateFlags, hosts []string) (*state.State, []string, error) {
	store, st, err := readState(dir, f)
	if err != nil {
		return nil, nil, err
	}
	store.Close()
	names, err := stateHostNames(st, store, hosts)
	if err != nil {
		return nil, nil, err
	}
	return st, names, nil
}

// stateHostNames are the hosts of st named in hosts, in that order, each of which must be in
// it (store names the state in the error), else all, sorted.
func stateHostNames(st *state.State, store state.Backend, hosts []string) ([]string, error) {
	if len(hosts) == 0 {
		return slices.Sorted(maps.Keys(st.Hosts)), nil
	}
	for _, h := range hosts {
		if st.Hosts[h] == nil {
			return nil, fmt.Errorf("no host %q in the state %s.%s", h, store, suggest.Hint(h, slices.Sorted(maps.Keys(st.Hosts))))
		}
	}
	return hosts, nil
}

// readState opens the state of dir and loads it when it exists, for read-only commands.
func readState(dir string, f stateFlags) (state.Backend, *state.State, error) {
	b, err := openState(context.Background(), dir, f)
	if err != nil {
		return nil, nil, err
	}
	st, err := loadExistingState(b)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, st, nil
}
