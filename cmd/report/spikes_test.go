package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"
)

// The curve figure marks the loss spikes of the runs it draws at their
// steps and losses, in the loss panel only, and says so in its legend and
// caption; a setting without spikes gets no marks.
func TestCurveSpikeMarks(t *testing.T) {
	spike := func(r reporttest.Run, step int, loss float64) reporttest.Run {
		r.Steps[step-1].Spike = true
		r.Steps[step-1].Loss = loss
		return r
	}
	runs := []reporttest.Run{
		handRun("none", 0, 1, 0.50, 0.80, 0.85, record.Done),
		handRun("none", 0, 2, 0.60, 0.82, 0.86, record.Done),
		spike(spike(handRun("norm", 1, 1, 0.70, 0.85, 0.88, record.Done), 4, 3), 8, 2.5),
		spike(handRun("norm", 1, 2, 0.90, 0.86, 0.89, record.Done), 9, 4),
		handRun("norm", 1, 3, 0.75, 0.87, 0.90, record.Done),
	}
	path := reporttest.TempDB(t, "spiky", runs)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := load(context.Background(), d, "spiky", 0.9, report.Tail)
	if err != nil {
		t.Fatal(err)
	}
	var cur *figure
	for _, f := range rep.figures() {
		if f.Name == "fig-curves-mlp2-lr0.1" {
			cur = f
		}
	}
	if cur == nil {
		t.Fatal("no figure fig-curves-mlp2-lr0.1")
	}
	type pt struct{ step, loss float64 }
	marks := map[string][]pt{}
	for _, s := range rep.Settings {
		m := spikeMarks(s)
		for i := range m.Len() {
			marks[s.Method] = append(marks[s.Method], pt{m.x[i], m.y[i]})
		}
	}
	if want := []pt{{4, 3}, {8, 2.5}, {9, 4}}; !slices.Equal(marks["norm"], want) {
		t.Errorf("norm's spike marks %v, want %v", marks["norm"], want)
	}
	if len(marks["none"]) != 0 {
		t.Errorf("none has no spikes, marks %v", marks["none"])
	}
	var got []string
	for name, n := range cur.Info[0].Series {
		if strings.HasPrefix(name, "spikes: ") {
			got = append(got, name)
			if !strings.HasPrefix(name, "spikes: norm") || n != 3 {
				t.Errorf("loss panel: %q with %d marks, want only norm's 3", name, n)
			}
		}
	}
	if len(got) != 1 {
		t.Errorf("loss panel spike series %v, want norm's only", got)
	}
	for name := range cur.Info[1].Series {
		if strings.HasPrefix(name, "spikes: ") {
			t.Errorf("gradient-norm panel has %q", name)
		}
	}
	if !strings.Contains(cur.Caption, "loss spike") || !strings.Contains(cur.Caption, "z = 2.5") {
		t.Errorf("caption does not describe the spike marks: %s", cur.Caption)
	}
}
