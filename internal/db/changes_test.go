package db

import (
	"context"
	"testing"
	"time"
)

// TestChanges: a reader's Changes reports a commit of another handle (a
// grid added, a heartbeat, a claim) once, and nothing where nothing was
// committed (its own reads included).
func TestChanges(t *testing.T) {
	ctx := context.Background()
	w := mustOpen(t)
	if _, err := w.AddGrid(ctx, testGrid("e", 2), false); err != nil {
		t.Fatal(err)
	}
	r, err := Open(w.Path(), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	changed := func(want bool, what string) {
		t.Helper()
		got, err := c.Changed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("after %s: Changed %v, want %v", what, got, want)
		}
	}
	changed(false, "nothing")
	if _, err := r.Experiments(ctx); err != nil {
		t.Fatal(err)
	}
	changed(false, "a read")
	cl, err := w.Claim(ctx, "e", ClaimOptions{Worker: "test", StaleAfter: time.Hour})
	if err != nil || cl == nil {
		t.Fatalf("claim: %v %v", cl, err)
	}
	changed(true, "a claim")
	changed(false, "nothing more")
	if err := w.Heartbeat(ctx, map[int64]int{cl.ID: cl.Attempt}); err != nil {
		t.Fatal(err)
	}
	changed(true, "a heartbeat")
	if _, err := w.AddGrid(ctx, testGrid("f", 1), false); err != nil {
		t.Fatal(err)
	}
	changed(true, "another grid")
}
