package pgstate

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/state"
)

// Holder is who holds a state's lock, from its row in the locks table.
type Holder struct {
	Who        string    // user@host of the sparkform process
	PID        int       // its process id on that host
	Operation  string    // apply, state push, ...
	Since      time.Time // when it took the lock
	BackendPID int       // the database session holding it (pg_terminate_backend ends a hung one)
}

// LockError reports a lock held by another session when the wait ran out.
type LockError struct {
	State  string
	Holder *Holder // nil when the holder has not yet written its row
	Err    error   // why the wait ended (timeout or context)
}

func (e *LockError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("%s is locked by another session; wait, or use -lock-timeout", e.State)
	}
	h := e.Holder
	return fmt.Sprintf("%s is locked by %s pid %d (%s, since %s, database session %d); wait, or use -lock-timeout",
		e.State, h.Who, h.PID, h.Operation, english.Time(h.Since), h.BackendPID)
}

func (e *LockError) Unwrap() error { return e.Err }

// Lock takes the state's lock for operation, retrying with backoff until timeout (0: one
// try). The lock is a session-level advisory lock: the server drops it when the session ends,
// so a killed sparkform (its socket closed by the kernel) never leaves a stale lock. Beside it
// a row in the locks table says who holds it; a row whose session no longer holds the advisory
// lock is stale and is never reported as the holder.
func (b *Backend) Lock(ctx context.Context, operation string, timeout time.Duration) (func() error, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := advisoryKey(b.schema, b.name)
	deadline := time.Now().Add(timeout)
	wait := 50 * time.Millisecond
	for {
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		var got bool
		err := b.conn.QueryRow(octx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got)
		cancel()
		if err != nil {
			return nil, b.wrap(fmt.Errorf("taking the lock: %w", err))
		}
		if got {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, &LockError{State: b.String(), Holder: b.holder(ctx, key), Err: context.DeadlineExceeded}
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &LockError{State: b.String(), Holder: b.holder(context.Background(), key), Err: ctx.Err()}
		case <-t.C:
		}
		wait = min(wait*2, time.Second)
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err := b.conn.Exec(octx, "INSERT INTO "+b.t("locks")+" (state, id, who, pid, operation, since, backend_pid) "+
		"VALUES ($1, $2, $3, $4, $5, now(), pg_backend_pid()) "+
		"ON CONFLICT (state) DO UPDATE SET id = excluded.id, who = excluded.who, pid = excluded.pid, "+
		"operation = excluded.operation, since = excluded.since, backend_pid = excluded.backend_pid",
		b.name, id, state.Who(), os.Getpid(), operation)
	if err != nil {
		b.conn.Exec(octx, "SELECT pg_advisory_unlock($1)", key)
		return nil, b.wrap(fmt.Errorf("recording the lock holder: %w", err))
	}
	b.op = operation
	var once sync.Once
	var rerr error
	return func() error {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.op = ""
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if b.conn.IsClosed() {
				return // the session is gone, and the lock with it
			}
			// Delete the row first so nobody reads a released lock as held.
			if _, err := b.conn.Exec(ctx, "DELETE FROM "+b.t("locks")+" WHERE state = $1 AND id = $2", b.name, id); err != nil {
				rerr = b.wrap(err)
			}
			if _, err := b.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil && rerr == nil {
				rerr = b.wrap(err)
			}
		})
		return rerr
	}, nil
}

// holder reads the lock row, trusting it only when its session holds the advisory lock now
// (pg_locks splits the 64-bit key into classid and objid).
func (b *Backend) holder(ctx context.Context, key int64) *Holder {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var h Holder
	var pid, bpid int32
	err := b.conn.QueryRow(ctx, "SELECT l.who, l.pid, l.operation, l.since, l.backend_pid FROM "+b.t("locks")+" l "+
		"WHERE l.state = $1 AND l.backend_pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "+
		"AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $2)", b.name, key).
		Scan(&h.Who, &pid, &h.Operation, &h.Since, &bpid)
	if err != nil {
		return nil // no row (the holder is between its lock and its row), or the query failed
	}
	h.PID, h.BackendPID = int(pid), int(bpid)
	if !state.LockDetailsOK(h.PID, h.Who, h.Operation) || h.BackendPID <= 0 {
		return nil // a row no sparkform wrote (anyone who can write the table can): not shown
	}
	return &h
}
