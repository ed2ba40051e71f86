package engine

import (
	"fmt"
	"time"

	"github.com/sparkform/sparkform/internal/atomicfile"
	"github.com/sparkform/sparkform/state"
)

// StateReplacement is what ReplaceState did, for the command to report.
type StateReplacement struct {
	Unchanged bool   // dst already held these hosts: nothing was written
	OldSerial uint64 // dst's serial before (when it held a state)
	BackedUp  string // where the replaced state was written ("" when dst held none)
	Serial    uint64 // dst's serial now
	Lineage   string
}

// ReplaceState stores incoming (read from source) in dst, whose lock the caller holds (state
// push and state migrate). An empty destination takes it as is; otherwise the lineage must
// match and the destination's serial must be older (unless force, which writes the next
// serial), and what is replaced is first written to backupPath (default
// ./sparkform.state.SERIAL.TIME.backup.json, mode 0600). A destination that does not load
// cannot be compared or backed up: it is an error, left for a human.
func ReplaceState(dst state.Backend, incoming *state.State, source string, force bool, backupPath string) (StateReplacement, error) {
	exists, err := dst.Exists()
	if err != nil {
		return StateReplacement{}, err
	}
	var r StateReplacement
	if exists {
		cur, err := dst.Load()
		if err != nil {
			return r, err
		}
		r.OldSerial = cur.Serial
		if cur.Lineage != incoming.Lineage {
			return r, fmt.Errorf("%s holds another state (lineage %s), not the one in %s (lineage %s): refusing to replace one history with another", dst, cur.Lineage, source, incoming.Lineage)
		}
		a, _ := state.Encode(&state.State{Version: cur.Version, Lineage: cur.Lineage, Hosts: cur.Hosts})
		b, _ := state.Encode(&state.State{Version: incoming.Version, Lineage: incoming.Lineage, Hosts: incoming.Hosts})
		if string(a) == string(b) {
			r.Unchanged, r.Serial, r.Lineage = true, cur.Serial, cur.Lineage
			return r, nil
		}
		if cur.Serial >= incoming.Serial {
			if !force {
				return r, fmt.Errorf("%s is at serial %d, not older than serial %d from %s: it holds writes the incoming state lacks; pull and merge by hand, or -force", dst, cur.Serial, incoming.Serial, source)
			}
			c := *incoming
			c.Serial = cur.Serial + 1
			incoming = &c
		}
		if backupPath == "" {
			backupPath = fmt.Sprintf("sparkform.state.%d.%s.backup.json", cur.Serial, time.Now().UTC().Format("20060102T150405Z"))
		}
		out, err := state.Encode(cur)
		if err != nil {
			return r, err
		}
		if err := atomicfile.Write(backupPath, out, 0o600); err != nil {
			return r, fmt.Errorf("backing up %s: %w", dst, err)
		}
		r.BackedUp = backupPath
	}
	if err := dst.Replace(incoming); err != nil {
		return r, err
	}
	r.Serial, r.Lineage = incoming.Serial, incoming.Lineage
	return r, nil
}
