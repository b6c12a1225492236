package worker

import (
	"database/sql"
	"path/filepath"
	"runtime"
	"testing"

	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/train"
)

// collapseGrid is one MNIST run of 100 steps with eval_every 0: train
// evaluates at the end of the epoch and five times in the tail window, the
// last ⌈0.05·100⌉ = 5 steps (96 to 100).
const collapseGrid = `name: collapse
dataset: mnist
data: {train_size: 2000, test_size: 1000, train_eval_size: 200}
train: {batch_size: 20, epochs: 1, eval_every: 0}
archs:
  m: {type: mlp, hidden: [32]}
grid:
  arch: m
  seed: [1]
  clip: [none]
  lr: [0.1]
`

// collapsing is a Dataset whose last training batch is made to set the model
// back: every label moved to the next class, so that the last step costs
// as much as the partial batch of issue 17 did at lr 0.3 (0.952 → 0.847).
type collapsing struct {
	data.Dataset
	epochs int
}

func (c collapsing) TrainBatch(dst *data.Batch, epoch, i, b int) {
	c.Dataset.TrainBatch(dst, epoch, i, b)
	if epoch != c.epochs-1 || i != c.NumTrainBatches(b)-1 {
		return
	}
	for j := range dst.Labels {
		dst.Labels[j] = (dst.Labels[j] + 1) % 10
	}
}

// TestTailMetricCollapse trains collapseGrid twice through the database,
// once as it is and once with its last step made to collapse (issue 17):
// run_summary's test_acc, the last evaluation, drops by more than 10 points
// (18 when written); its test_acc_tail, the mean of the five tail
// evaluations, moves by a fifth of that, since the four before the last
// step are the same bit for bit, and by less than 5 points. Likewise
// train_acc and train_acc_tail.
func TestTailMetricCollapse(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "data", "mnist")
	if _, err := data.LoadMNIST(dir); err != nil {
		t.Skipf("MNIST not available (%v): run make data", err)
	}
	type summary struct {
		last, tail, trainLast, trainTail float64
		n                                int
		evals                            []record.Eval
	}
	trainOnce := func(collapse bool) summary {
		d, exp, _ := newDB(t, collapseGrid)
		ctx := t.Context()
		cl, err := d.Claim(ctx, exp, db.ClaimOptions{Worker: "w"})
		if err != nil || cl == nil {
			t.Fatal(cl, err)
		}
		cfg, err := config.DecodeConfig(cl.ConfigJSON)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := data.Load(cfg.Dataset, train.DataOptions(cfg, dir))
		if err != nil {
			t.Fatal(err)
		}
		if collapse {
			ds = collapsing{ds, cfg.Epochs}
		}
		sink := newSink(ctx, d, cl)
		res, err := train.Run(ctx, cfg, ds, sink)
		if err != nil || res.Status != record.Done || res.Steps != 100 {
			t.Fatalf("collapse %v: %s after %d steps, %v", collapse, res.Status, res.Steps, err)
		}
		s := summary{evals: append([]record.Eval(nil), sink.evals...)}
		if err := d.Finish(ctx, cl.ID, cl.Attempt, sink.steps, sink.evals, res); err != nil {
			t.Fatal(err)
		}
		r, err := sql.Open("sqlite3", "file:"+d.Path()+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.QueryRow("SELECT test_acc, test_acc_tail, train_acc, train_acc_tail, tail_evals FROM run_summary").
			Scan(&s.last, &s.tail, &s.trainLast, &s.trainTail, &s.n); err != nil {
			t.Fatal(err)
		}
		if s.n != 5 {
			t.Fatalf("collapse %v: %d tail evaluations, want 5 (steps 96 to 100)", collapse, s.n)
		}
		return s
	}
	clean, wrecked := trainOnce(false), trainOnce(true)
	t.Logf("last step as trained: test_acc %.4f, test_acc_tail %.4f, train_acc %.4f, train_acc_tail %.4f", clean.last, clean.tail, clean.trainLast, clean.trainTail)
	t.Logf("last step collapsed:  test_acc %.4f, test_acc_tail %.4f, train_acc %.4f, train_acc_tail %.4f", wrecked.last, wrecked.tail, wrecked.trainLast, wrecked.trainTail)

	// The runs are the same up to their last step.
	for i, e := range clean.evals {
		w := wrecked.evals[i]
		if e.Step < 100 && (e.Acc != w.Acc || e.Loss != w.Loss) {
			t.Errorf("evaluation at step %d (%s) differs before the collapsed step: %v, %v", e.Step, e.Split, e.Acc, w.Acc)
		}
	}
	if clean.last < 0.7 {
		t.Fatalf("test accuracy %.4f without the collapse: the run did not learn, so there is nothing to collapse", clean.last)
	}
	// Four of the five tail evaluations are untouched: the tail moves by a
	// fifth of the last evaluation's drop.
	for _, m := range []struct {
		name, tailName           string
		last, wLast, tail, wTail float64
	}{
		{"test_acc", "test_acc_tail", clean.last, wrecked.last, clean.tail, wrecked.tail},
		{"train_acc", "train_acc_tail", clean.trainLast, wrecked.trainLast, clean.trainTail, wrecked.trainTail},
	} {
		drop, moved := m.last-m.wLast, m.tail-m.wTail
		if drop < 0.1 {
			t.Errorf("%s %.4f → %.4f: the collapsed step should cost at least 10 points", m.name, m.last, m.wLast)
		}
		if abs(moved-drop/5) > 1e-9 || moved > 0.05 {
			t.Errorf("%s %.4f → %.4f (moved %.4f): want it to move by a fifth of %s's drop %.4f, and by less than 0.05", m.tailName, m.tail, m.wTail, moved, m.name, drop)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
