package main

import (
	"bytes"
	"strings"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/worker"
)

// lastFrame is the last state the bar drew into b: the text after the last
// carriage return.
func lastFrame(b *bytes.Buffer) string {
	s := b.String()
	return s[strings.LastIndex(s, "\r")+1:]
}

// TestProgressBarRunning: the bar shows the runs finished before this
// process from the start, and the number of runs in flight as soon as one
// starts (issue 13: it said "running 0" with one worker, and nothing on a
// resume until the first run ended).
func TestProgressBarRunning(t *testing.T) {
	ctx := t.Context()
	d, exp := statusDB(t)
	co := db.ClaimOptions{Worker: "earlier"}
	for range 3 { // an earlier process finished three runs
		c, err := d.Claim(ctx, exp, co)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Finish(ctx, c.ID, c.Attempt, nil, nil, record.Result{Status: record.Done}); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	p, err := newProgress(ctx, d, exp, "bar", &b)
	if err != nil {
		t.Fatal(err)
	}
	if f := lastFrame(&b); !strings.Contains(f, "3/12") || !strings.Contains(f, "running 0") {
		t.Errorf("the bar at the start shows %q, want 3/12 runs and running 0", f)
	}
	var held []*db.Claim
	for i := 1; i <= 2; i++ {
		c, err := d.Claim(ctx, exp, db.ClaimOptions{Worker: "me"})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		p.Started(c)
		if f, want := lastFrame(&b), "running "+string(rune('0'+i)); !strings.Contains(f, want) {
			t.Errorf("after %d runs started the bar shows %q, want %q", i, f, want)
		}
	}
	p.Finished(held[0], worker.Outcome{Status: record.Done, Acc: 0.5})
	if f := lastFrame(&b); !strings.Contains(f, "4/12") || !strings.Contains(f, "running 1") {
		t.Errorf("after one of two runs ended the bar shows %q, want 4/12 and running 1", f)
	}
	p.close()
}
