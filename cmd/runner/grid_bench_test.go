package main

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/db"
	"cliplab/internal/grid"
)

// benchGrid is a small grid: 8 runs of about 0.15 s each (mlp2, 94 steps
// on 6,000 images), where a worker process's start is a visible share.
const benchGrid = `
name: bench
dataset: mnist
data: {train_size: 6000, test_size: 1000, train_eval_size: 500}
train: {epochs: 1, batch_size: 64, eval_every: 0, log_every: 1}
archs:
  mlp2: {type: mlp, hidden: [256, 256]}
grid:
  arch: [mlp2]
  lr: [0.05, 0.1]
  seed: [1, 2]
  clip: [none, {method: norm, threshold: 1}]
`

func benchMNIST(b *testing.B) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "data", "mnist")
	if _, err := data.LoadMNIST(dir); err != nil {
		b.Skipf("MNIST not available (%v): run make data", err)
	}
	return dir
}

// benchGridLong is benchGrid with runs of realistic length: the whole
// training set, 938 steps, about 1.5 s a run on a quiet machine.
var benchGridLong = strings.Replace(benchGrid, "train_size: 6000", "train_size: 60000", 1)

// benchConfigs parses and expands the grid src.
func benchConfigs(b *testing.B, src string) (*grid.Experiment, []config.Config) {
	exp, err := grid.Parse("bench.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	cfgs, err := exp.Expand()
	if err != nil {
		b.Fatal(err)
	}
	return exp, cfgs
}

// BenchmarkGrid trains benchGrid as runner run does (trainAll) on 1 worker,
// on 2 workers (workers of this process, runner run's default), and on 2
// with -worker-procs (the runner's worker and one worker process), each
// iteration on a fresh database (issue 4 and issue 13 section 6: the goal
// is a speed-up of at least 1.9 on two cores). Compare them with benchstat
// or by their ns/op, from one run on one machine.
func BenchmarkGrid(b *testing.B) { benchmarkGrid(b, benchGrid) }

// BenchmarkGridLong is BenchmarkGrid on benchGridLong: runs ten times as
// long, as real grids have (experiments/demo.yaml), so that what a worker
// costs once (its process's start, the last runs' imbalance) weighs as it
// does there.
func BenchmarkGridLong(b *testing.B) { benchmarkGrid(b, benchGridLong) }

func benchmarkGrid(b *testing.B, src string) {
	dir := benchMNIST(b)
	exp, cfgs := benchConfigs(b, src)
	for _, v := range []struct {
		name    string
		workers int
		procs   bool
	}{{"workers=1", 1, false}, {"workers=2", 2, false}, {"procs=2", 2, true}} {
		b.Run(v.name, func(b *testing.B) {
			// worker.Run raises GOMAXPROCS for its workers; each variant
			// starts from the same.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
			for b.Loop() {
				b.StopTimer()
				d, err := db.Open(filepath.Join(b.TempDir(), "runs.db"), db.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.AddGrid(context.Background(), gridOf(exp, cfgs), false); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				f := runFlags{workers: v.workers, procs: v.procs, dataDir: dir, progress: "none"}
				if err := trainAll(context.Background(), d, exp.Name, f, io.Discard, io.Discard); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				d.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(cfgs))*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}
