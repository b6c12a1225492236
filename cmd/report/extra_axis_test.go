package main

import (
	"context"
	"strings"
	"testing"

	"cliplab/internal/config"
	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"
)

// TestExtraAxisNotFolded: a grid over seq_len 20 and 50 (Pascanu et al.'s
// T) where every setting at T=20 beats its T=50 twin. Picking each method's
// best setting over the whole grid would draw T=20 only (the defect the
// README once named); each value of seq_len is a workload of its own, as an
// architecture is, so the curve figures and the methods table show both.
func TestExtraAxisNotFolded(t *testing.T) {
	var runs []reporttest.Run
	for _, T := range []int{20, 50} {
		for _, lr := range []float64{0.01, 0.1} {
			for _, c := range []struct {
				m  string
				th float64
			}{{"none", 0}, {"norm", 1}, {"value", 0.1}} {
				for seed := uint64(1); seed <= 2; seed++ {
					edit := func(c *config.Config) { c.Data.SeqLen = T }
					r := reporttest.Synth(reporttest.Run{Arch: "rnn", Dataset: "addition", Method: c.m, Threshold: c.th, LR: lr, Seed: seed, Edit: edit}, 20, record.Done)
					if T == 50 { // T=50 always loses
						for i := range r.Evals {
							r.Evals[i].Acc *= 0.5
						}
					}
					runs = append(runs, r)
				}
			}
		}
	}
	path := reporttest.TempDB(t, "seq", runs)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := load(context.Background(), d, "seq", 0.5, report.Tail)
	if err != nil {
		t.Fatal(err)
	}
	drawn := map[string]int{} // seq_len value -> curve figures drawing it
	for _, f := range rep.figures() {
		if !strings.HasPrefix(f.Name, "fig-curves-") {
			continue
		}
		for _, T := range []string{"20", "50"} {
			for name := range f.Info[0].Series {
				if strings.Contains(name, "seq_len="+T) {
					drawn[T]++
					break
				}
			}
		}
	}
	// Two learning rates at each of two seq_len: a curve figure each.
	if drawn["20"] != 2 || drawn["50"] != 2 {
		t.Errorf("curve figures drawing seq_len=20: %d, seq_len=50: %d; want 2 each", drawn["20"], drawn["50"])
	}
	var names []string
	for _, w := range rep.Workloads {
		names = append(names, w.Name)
	}
	if got := strings.Join(names, ", "); got != "rnn seq_len=20, rnn seq_len=50" {
		t.Errorf("workloads %q, want \"rnn seq_len=20, rnn seq_len=50\"", got)
	}
	mt := rep.methodsTable()
	rows := map[string]int{}
	for _, r := range mt.Rows {
		rows[r[0]]++
	}
	if rows["rnn seq_len=20"] != 3 || rows["rnn seq_len=50"] != 3 {
		t.Errorf("methods table rows per workload %v, want 3 methods at each seq_len", rows)
	}
}
