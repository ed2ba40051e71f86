package engine

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sparkform/sparkform/resources"
	"github.com/sparkform/sparkform/state"
)

// recorder writes into the shared state and persists it; hosts run in parallel, so every
// change of st goes through its mutex. Persists are group commits: a change is durable before
// its caller goes on (a step is reported done only once the state holds it), but the changes
// that other hosts make while one write is in flight go together in the next write, so 20
// hosts finishing a step at once cost two writes, not twenty.
type recorder struct {
	mu    sync.Mutex
	st    *state.State
	store StatePersister
	// lost is called when a persist fails: with nowhere to record changes, no new step may
	// start (the apply stops as on an interrupt). nil: nothing to stop.
	lost func(error)

	written  *sync.Cond // signalled when a write ends
	changes  uint64     // changes made to st so far
	saved    uint64     // changes the store holds
	writing  bool       // a write is in flight (its writer does not hold mu)
	failedTo uint64     // the last failed write covered changes up to here...
	failed   error      // ...and failed with this
	writes   int        // writes made (for tests: what grouping saved)
}

func newRecorder(st *state.State, store StatePersister, lost func(error)) *recorder {
	r := &recorder{st: st, store: store, lost: lost}
	r.written = sync.NewCond(&r.mu)
	return r
}

// persist makes the changes made so far durable and returns once they are (or could not be).
// The caller holds mu; persist releases it while the store writes, and holds it again on
// return. The first caller to find no write in flight writes a snapshot of st holding every
// change made until then; callers arriving meanwhile wait, and one of them writes the next
// snapshot. A write covers a change or fails for it: it is never skipped.
func (r *recorder) persist() error {
	r.changes++
	mine := r.changes
	for r.saved < mine {
		if r.failed != nil && r.failedTo >= mine {
			return r.failed
		}
		if r.writing {
			r.written.Wait()
			continue
		}
		r.writing = true
		upTo := r.changes
		// The store reads the snapshot while other hosts go on changing st: Clone copies what
		// changes (hosts, resources, history lists) and shares what never does (recorded history).
		snap := r.st.Clone()
		r.mu.Unlock()
		err := r.store.Persist(snap)
		r.mu.Lock()
		r.writing = false
		r.writes++
		if err == nil {
			r.st.Serial = snap.Serial
			r.saved = upTo
		} else {
			r.failedTo, r.failed = upTo, err
			if r.lost != nil {
				r.lost(fmt.Errorf("%w: %v", errStateNotSaved, err))
			}
		}
		r.written.Broadcast()
	}
	return nil
}

// errStateNotSaved is why an apply stops when its state backend fails (a database gone away):
// no new step starts, since nothing it changed could be remembered.
var errStateNotSaved = errors.New("the state could not be saved")

// record is one change's outcome to remember: what apply writes into state for it.
type record struct {
	c  *Change
	pr resources.Prior
}

// generationOf is what a host's generation is recorded from (AddGeneration's arguments).
type generationOf struct{ configHash, note string }

// resource records one change's outcome and persists it.
func (r *recorder) resource(host, hostKey string, c *Change, pr resources.Prior) error {
	_, err := r.resources(host, hostKey, []record{{c, pr}}, nil)
	return err
}

// resources records the outcomes of changes that ended together (one exec) in one persist; with
// gen, the host's generation too (the last changes of an apply that has nothing left to do),
// whose number it returns.
func (r *recorder) resources(host, hostKey string, recs []record, gen *generationOf) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := r.st.Host(host)
	if hostKey != "" {
		hs.HostKey = hostKey
	}
	for _, rc := range recs {
		c, pr := rc.c, rc.pr
		// An entry goes only when nothing is left to remember: a failed first apply keeps its
		// originals with null attributes, so a later destroy can still restore them.
		if isNull(pr.Attributes) && isNull(pr.Original) {
			delete(hs.Resources, c.Addr)
		} else {
			hs.Resources[c.Addr] = &state.Resource{Type: c.Type, Name: c.Name,
				Attributes: state.Value{Value: pr.Attributes}, Original: state.Value{Value: pr.Original}, AppliedAt: time.Now().UTC()}
		}
	}
	n := 0
	if gen != nil {
		n = hs.AddGeneration(time.Now(), gen.configHash, gen.note).N
	}
	return n, r.persist()
}

func (r *recorder) generation(host, configHash, note string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.st.Host(host).AddGeneration(time.Now(), configHash, note)
	return g.N, r.persist()
}

func (r *recorder) incident(host, kind, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := r.st.Host(host)
	hs.Incidents = append(hs.Incidents, &state.Incident{Time: time.Now().UTC(), Kind: kind, Message: msg})
	if len(hs.Incidents) > state.MaxGenerations {
		hs.Incidents = hs.Incidents[len(hs.Incidents)-state.MaxGenerations:]
	}
	return r.persist()
}
