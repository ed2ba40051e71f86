package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/resources"
)

// defaultRebootTimeout bounds the wait for a host to come back when its resource sets none.
const defaultRebootTimeout = 10 * time.Minute

// Backoff of the wait for a rebooting host: the first poll comes quickly (a lab host is back
// in seconds), later ones spread out so a slow BIOS is not hammered. Tests shorten them.
var (
	rebootPollFirst = 500 * time.Millisecond
	rebootPollMax   = 5 * time.Second
)

// errNotBack marks a host that did not come back from a reboot in time.
var errNotBack = errors.New("host did not come back")

// rebootCommand asks the host to reboot a moment after the command returns, so the session
// that asked ends cleanly instead of being cut (a cut session looks like any other failure).
const rebootCommand = `if command -v setsid >/dev/null 2>&1; then s=setsid; else s=; fi
$s nohup sh -c 'sleep 1; if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl reboot; else reboot; fi' >/dev/null 2>&1 </dev/null &
echo rebooting`

// bootFactsScript reads what proves which boot a host is in.
const bootFactsScript = factsProbe

// bootApplied is one change that needed a reboot, as applied and booted.
type bootApplied struct {
	c  *Change
	pr resources.Prior
	rb resources.Rebooter
	bp resources.BootPlan
}

// applyWithReboot applies the changes that need a reboot and runs the try-once sequence of
// resources.Rebooter: prepare (next boot only), reboot, wait over a fresh connection for a
// new well-formed boot_id, verify the kernel, and only then confirm (make it the default).
// It returns what was booted, the facts of the new boot, the host status to report and the error.
func applyWithReboot(ctx context.Context, h provider.Host, hp *HostPlan, changes []*Change, opts Options, em *emitter, rec *recorder) ([]bootApplied, hostFacts, string, error) {
	var done []bootApplied
	for _, c := range changes {
		pr, err := applyChange(ctx, h, hp, c, opts, em, rec, true)
		if err != nil {
			return nil, hostFacts{}, StatusFailed, err
		}
		r, _ := resources.Lookup(c.Type)
		rb, ok := r.(resources.Rebooter)
		if !ok {
			return nil, hostFacts{}, StatusFailed, fmt.Errorf("%s requires a reboot but its type does not implement the boot sequence", c.Addr)
		}
		done = append(done, bootApplied{c: c, pr: pr, rb: rb})
	}
	var last resources.BootPlan
	for i := range done {
		bp, err := done[i].rb.PrepareBoot(ctx, h, done[i].c.instance(), done[i].pr)
		if err != nil {
			return nil, hostFacts{}, StatusFailed, fmt.Errorf("%s: preparing the boot: %w", done[i].c.Addr, err)
		}
		done[i].bp, last = bp, bp
	}
	if last.Timeout <= 0 {
		last.Timeout = defaultRebootTimeout
	}
	progress := bootProgress(em, hp.Name, done[len(done)-1].c.Addr)
	started := bootEvent(em, hp.Name, done[len(done)-1].c.Addr, "reboot_start", fmt.Sprintf("rebooting into %s once (default stays %s)", last.ExpectKernel, last.PreviousKernel), 0)
	facts, err := rebootAndWait(ctx, h, last.Timeout, progress)
	if err != nil {
		return nil, hostFacts{}, StatusFailed, fmt.Errorf("%w after reboot into %s within %s: %v; GRUB's saved default is still %s, so a power cycle boots the previous kernel",
			errNotBack, last.ExpectKernel, english.Setting(last.Timeout), err, last.PreviousKernel)
	}
	if facts.Kernel != last.ExpectKernel {
		return nil, facts, StatusRolledBack, fmt.Errorf("rolled back: back on %s after %s failed to boot", facts.Kernel, last.ExpectKernel)
	}
	for _, d := range done {
		if err := d.rb.ConfirmBoot(ctx, h, d.c.instance(), d.pr, d.bp); err != nil {
			return nil, facts, StatusFailed, fmt.Errorf("%s: booted %s but could not make it the default: %w", d.c.Addr, facts.Kernel, err)
		}
		if err := rec.resource(hp.Name, h.HostKey(), d.c, d.pr); err != nil {
			return nil, facts, StatusFailed, fmt.Errorf("%s: state could not be saved: %w", d.c.Addr, err)
		}
	}
	bootEvent(em, hp.Name, done[len(done)-1].c.Addr, "reboot_done", fmt.Sprintf("now running %s, the default boot entry", facts.Kernel), time.Since(started))
	return done, facts, StatusApplied, nil
}

// revertBoot undoes confirmed boots (a smoke test failed after a kernel change): the previous
// kernel becomes the default again, the host reboots into it, and state gets the previous
// attributes back (keeping the originals).
func revertBoot(ctx context.Context, h provider.Host, hp *HostPlan, done []bootApplied, em *emitter, rec *recorder) (hostFacts, error) {
	first := done[0].bp
	for i := len(done) - 1; i >= 0; i-- {
		d := done[i]
		rv, ok := d.rb.(resources.BootReverter)
		if !ok {
			return hostFacts{}, fmt.Errorf("%s cannot undo its boot change", d.c.Addr)
		}
		if err := rv.RevertBoot(ctx, h, d.c.instance(), d.pr, d.bp); err != nil {
			return hostFacts{}, fmt.Errorf("%s: making %s the default again: %w", d.c.Addr, d.bp.PreviousKernel, err)
		}
	}
	timeout := first.Timeout
	if timeout <= 0 {
		timeout = defaultRebootTimeout
	}
	progress := bootProgress(em, hp.Name, done[0].c.Addr)
	started := bootEvent(em, hp.Name, done[0].c.Addr, "reboot_start", fmt.Sprintf("rolling back: rebooting into %s", first.PreviousKernel), 0)
	facts, err := rebootAndWait(ctx, h, timeout, progress)
	if err != nil {
		return hostFacts{}, fmt.Errorf("%w after the rollback reboot into %s: %v", errNotBack, first.PreviousKernel, err)
	}
	if facts.Kernel != first.PreviousKernel {
		return facts, fmt.Errorf("rollback reboot: expected %s, the host runs %s", first.PreviousKernel, facts.Kernel)
	}
	for _, d := range done {
		back := resources.Prior{Attributes: d.c.PriorAttributes.Value, Original: d.pr.Original}
		if err := rec.resource(hp.Name, h.HostKey(), d.c, back); err != nil {
			return facts, err
		}
	}
	bootEvent(em, hp.Name, done[0].c.Addr, "reboot_done", fmt.Sprintf("rolled back: running %s again, the default boot entry", facts.Kernel), time.Since(started))
	return facts, nil
}

// bootEvent emits the start or end of a reboot and returns when it did.
func bootEvent(em *emitter, host, addr, kind, msg string, elapsed time.Duration) time.Time {
	now := time.Now()
	em.emit(Event{Time: now.UTC(), Host: host, Addr: addr, Kind: kind, Message: msg, Elapsed: elapsed})
	return now
}

func bootProgress(em *emitter, host, addr string) func(string) {
	return func(msg string) { em.emit(Event{Host: host, Addr: addr, Kind: "progress", Message: msg}) }
}

// rebootAndWait reboots the host and waits until it answers from a NEW boot: a fresh
// connection (never the old one), a well-formed boot_id different from the one before. A read
// that fails or returns anything but a boot id never counts as rebooted.
func rebootAndWait(ctx context.Context, h provider.Host, timeout time.Duration, progress func(string)) (hostFacts, error) {
	before, err := readBootFacts(ctx, h, 30*time.Second)
	if err != nil {
		return hostFacts{}, fmt.Errorf("reading boot_id before the reboot: %w", err)
	}
	if res, err := h.Run(ctx, rebootCommand); err == nil && res.ExitCode != 0 {
		return hostFacts{}, fmt.Errorf("reboot command failed (exit %d): %s", res.ExitCode, res.Stderr)
	}
	// A transport error here is expected: the host may go down before the command returns.
	progress(fmt.Sprintf("waiting for the host to come back (up to %s)", english.Setting(timeout)))
	return waitForNewBoot(ctx, h, before.BootID, timeout, progress)
}

// waitForNewBoot polls with backoff over fresh connections until the host reports a boot_id
// other than oldBootID, or the timeout passes. A refused host key ends the wait at once.
func waitForNewBoot(ctx context.Context, h provider.Host, oldBootID string, timeout time.Duration, progress func(string)) (hostFacts, error) {
	deadline := time.Now().Add(timeout)
	wait := rebootPollFirst
	var lastErr error = errors.New("no answer yet")
	attempts := 0
	for {
		select {
		case <-ctx.Done():
			return hostFacts{}, ctx.Err()
		case <-time.After(min(wait, max(time.Until(deadline), 0))):
		}
		if time.Now().After(deadline) {
			return hostFacts{}, fmt.Errorf("last attempt: %v", lastErr)
		}
		wait = min(wait*2, rebootPollMax)
		attempts++
		attemptTimeout := min(time.Until(deadline), 20*time.Second)
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := h.Reconnect(actx)
		var f hostFacts
		if err == nil {
			f, err = readBootFacts(actx, h, attemptTimeout)
		}
		cancel()
		var hke *provider.HostKeyError
		switch {
		case errors.As(err, &hke):
			// A refused host key is a verdict, not a host still booting (OpenSSH does not retry
			// "REMOTE HOST IDENTIFICATION HAS CHANGED" either): stop now, not at the timeout.
			return hostFacts{}, err
		case err != nil:
			lastErr = err
		case f.BootID == oldBootID:
			lastErr = errors.New("still the boot from before the reboot")
		default:
			progress(fmt.Sprintf("back after %s: kernel %s, boot_id %s", english.Plural(attempts, "attempt"), f.Kernel, f.BootID))
			return f, nil
		}
	}
}

func readBootFacts(ctx context.Context, h provider.Host, timeout time.Duration) (hostFacts, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := h.Run(ctx, bootFactsScript)
	if err != nil {
		return hostFacts{}, err
	}
	if res.ExitCode != 0 {
		return hostFacts{}, fmt.Errorf("reading boot facts: exit %d: %s", res.ExitCode, res.Stderr)
	}
	return parseFacts(section{stdout: res.Stdout})
}
