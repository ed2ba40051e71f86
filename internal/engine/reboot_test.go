package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sparkform/sparkform/provider"
	"github.com/sparkform/sparkform/provider/providertest"
)

const oldID = "11111111-2222-3333-4444-555555555555"
const newID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

func facts(kernel, id string) string { return "kernel " + kernel + "\nboot_id " + id + "\n" }

func fastPolling(t *testing.T) {
	first, max := rebootPollFirst, rebootPollMax
	rebootPollFirst, rebootPollMax = 10*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { rebootPollFirst, rebootPollMax = first, max })
}

func TestRebootWaitIsNotFooledByFailedOrGarbageBootIDReads(t *testing.T) {
	fastPolling(t)
	h := &providertest.Scripted{Replies: []providertest.Reply{
		{Err: errors.New("connection refused")},
		{Stdout: facts("6.11.0-1016-nvidia", "sudo: a password is required")},
		{Stdout: facts("6.11.0-1016-nvidia", "")},
		{Stdout: "kernel 6.17.0-1014-nvidia\n"},
		{Stdout: facts("6.11.0-1016-nvidia", oldID)}, // not gone down yet
		{Stdout: facts("6.17.0-1014-nvidia", newID)},
	}}
	var log []string
	f, err := waitForNewBoot(context.Background(), h, oldID, time.Minute, func(s string) { log = append(log, s) })
	if err != nil {
		t.Fatal(err)
	}
	if f.BootID != newID || f.Kernel != "6.17.0-1014-nvidia" {
		t.Fatalf("accepted %+v", f)
	}
	if h.Reconnects() != 6 {
		t.Errorf("every attempt must use a fresh connection: %d reconnects for 6 attempts", h.Reconnects())
	}
	if len(log) != 1 || !strings.Contains(log[0], "back after 6 attempts") {
		t.Errorf("progress: %v", log)
	}
}

func TestRebootWaitTimesOutWhenTheHostNeverReturnsANewBoot(t *testing.T) {
	fastPolling(t)
	var replies []providertest.Reply
	for i := 0; i < 500; i++ {
		replies = append(replies, providertest.Reply{Stdout: facts("6.11.0-1016-nvidia", oldID)})
	}
	h := &providertest.Scripted{Replies: replies}
	start := time.Now()
	_, err := waitForNewBoot(context.Background(), h, oldID, time.Second, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "still the boot from before") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Errorf("gave up after %s, want about the 1s timeout", d)
	}
}

func TestRolloutBatchesAndFailureLimit(t *testing.T) {
	pct := func(n int) *configAmount { return &configAmount{N: n, Percent: true} }
	cases := []struct {
		name      string
		n         int
		rollout   *configRollout
		override  *configAmount
		want      string
		wantLimit int
	}{
		{"no rollout block: one batch, no limit", 5, nil, nil, "5", -1},
		{"batch of 2", 5, &configRollout{BatchSize: configAmount{N: 2}, MaxFailures: &configAmount{N: 1}}, nil, "2 2 1", 1},
		{"25% of 3 rounds up to 1", 3, &configRollout{BatchSize: configAmount{N: 25, Percent: true}}, nil, "1 1 1", -1},
		{"command line overrides", 4, &configRollout{BatchSize: configAmount{N: 1}}, &configAmount{N: 3}, "3 1", -1},
		{"10% failures of 15 is 1", 15, &configRollout{MaxFailures: pct(10)}, nil, "15", 1},
		{"max_failures 0", 3, &configRollout{BatchSize: configAmount{N: 1}, MaxFailures: &configAmount{N: 0}}, nil, "1 1 1", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sizes, limit := rolloutBatches(c.n, c.rollout, c.override)
			var got []string
			for _, s := range sizes {
				got = append(got, itoa(s))
			}
			if strings.Join(got, " ") != c.want || limit != c.wantLimit {
				t.Fatalf("batches %v limit %d, want %s limit %d", got, limit, c.want, c.wantLimit)
			}
		})
	}
}

func TestRebootWaitStopsAtOnceWhenTheHostComesBackWithAnotherHostKey(t *testing.T) {
	fastPolling(t)
	for _, unknown := range []bool{false, true} {
		msg := "spark-01 (10.0.0.1:22): host key mismatch: known_hosts /root/.ssh/known_hosts:3 has SHA256:old, server presented SHA256:new; if the host was reinstalled, remove line 3 of /root/.ssh/known_hosts and run again"
		if unknown {
			msg = "spark-01 (10.0.0.1:22): host is not in known_hosts /root/.ssh/known_hosts (server presented ssh-ed25519 SHA256:new); verify that fingerprint, then add the key"
		}
		h := &providertest.Scripted{
			ReconnectErrs: []error{
				errors.New("spark-01: connecting: connection refused"), // still down: retried
				fmt.Errorf("via jump: %w", &provider.HostKeyError{Unknown: unknown, Message: msg}),
			},
			Replies: []providertest.Reply{{Stdout: facts("6.17.0-1014-nvidia", newID)}}, // never reached
		}
		start := time.Now()
		_, err := waitForNewBoot(context.Background(), h, oldID, time.Minute, func(string) {})
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Fatalf("unknown=%v: err = %v, want the host key error", unknown, err)
		}
		if h.Reconnects() != 2 || len(h.Scripts()) != 0 {
			t.Errorf("unknown=%v: %d reconnects, %d runs; want the wait to end at the refused key (2, 0)", unknown, h.Reconnects(), len(h.Scripts()))
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("unknown=%v: gave up after %s, not at once", unknown, d)
		}
	}
}
