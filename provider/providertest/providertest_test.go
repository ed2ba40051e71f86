package providertest

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestLocalRunsTheWholeScriptEvenWhenACommandReadsStdin(t *testing.T) {
	res, err := NewLocal(t).Run(context.Background(), "cat; echo after-cat; exit 3")
	if err != nil || string(res.Stdout) != "after-cat\n" || res.ExitCode != 3 {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestLocalFileMethodsActOnTheLocalFileSystem(t *testing.T) {
	ctx, h := context.Background(), NewLocal(t)
	p := filepath.Join(t.TempDir(), "f")
	if err := h.WriteFile(ctx, p, []byte("x"), 0o600, ""); err != nil {
		t.Fatal(err)
	}
	if b, err := h.ReadFile(ctx, p); err != nil || string(b) != "x" {
		t.Fatalf("read back %q %v", b, err)
	}
	if err := h.Remove(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadFile(ctx, p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Remove: %v", err)
	}
}

func TestScriptedAnswersInOrderThenFails(t *testing.T) {
	h := &Scripted{Replies: []Reply{{Stdout: "one"}, {Err: errors.New("down")}, {ExitCode: 2}}}
	ctx := context.Background()
	if r, err := h.Run(ctx, "a"); err != nil || string(r.Stdout) != "one" {
		t.Fatalf("first: %+v %v", r, err)
	}
	if _, err := h.Run(ctx, "b"); err == nil || err.Error() != "down" {
		t.Fatalf("second: %v", err)
	}
	if r, err := h.Run(ctx, "c"); err != nil || r.ExitCode != 2 {
		t.Fatalf("third: %+v %v", r, err)
	}
	if _, err := h.Run(ctx, "d"); err == nil {
		t.Fatal("a run past the last reply must fail")
	}
	if got := h.Scripts(); len(got) != 4 || got[0] != "a" || got[3] != "d" {
		t.Fatalf("scripts %q", got)
	}
}
