package worker

import (
	"context"
	"path/filepath"
	"testing"

	"cliplab/internal/data"
	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/train"
)

// loggingGrid is one mlp2 run of 94 steps on 6,000 MNIST images, logging
// every step.
const loggingGrid = `
name: bench
dataset: mnist
data: {train_size: 6000, test_size: 1000, train_eval_size: 500}
train: {epochs: 1, batch_size: 64, eval_every: 0, log_every: 1}
archs:
  mlp2: {type: mlp, hidden: [256, 256]}
grid:
  arch: [mlp2]
  lr: [0.05]
  seed: [1]
  clip: [none]
`

// nopSink drops every metric.
type nopSink struct{}

func (nopSink) Step(record.Step) error { return nil }
func (nopSink) Eval(record.Eval) error { return nil }

// BenchmarkLogging trains one configuration logging every step into a real
// database (sink=db) and into nothing (sink=none): the difference is the
// cost of logging (issue 4: under 2% of the training time).
func BenchmarkLogging(b *testing.B) {
	dir := filepath.Join("..", "..", "data", "mnist")
	if _, err := data.LoadMNIST(dir); err != nil {
		b.Skipf("MNIST not available (%v): run make data", err)
	}
	_, cfgs := configs(b, loggingGrid)
	c := cfgs[0]
	c.EvalEvery = 1 << 30 // evaluations only at the end, as cheap as possible
	ds, err := data.Load(c.Dataset, train.DataOptions(c, dir))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sink=none", func(b *testing.B) {
		for b.Loop() {
			if _, err := train.Run(context.Background(), c, ds, nopSink{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sink=db", func(b *testing.B) {
		d, exp, _ := newDB(b, loggingGrid)
		ctx := context.Background()
		for b.Loop() {
			b.StopTimer()
			if _, err := d.RetryFailed(ctx, exp); err != nil {
				b.Fatal(err)
			}
			cl, err := d.Claim(ctx, exp, db.ClaimOptions{Worker: "bench"})
			if err != nil || cl == nil {
				b.Fatal("no run to claim", err)
			}
			b.StartTimer()
			sink := newSink(ctx, d, cl)
			res, err := train.Run(ctx, c, ds, sink)
			if err != nil {
				b.Fatal(err)
			}
			// Finish with status failed so RetryFailed hands it back.
			if err := d.Finish(ctx, cl.ID, cl.Attempt, sink.steps, sink.evals, record.Result{Status: record.Failed, Steps: res.Steps}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
