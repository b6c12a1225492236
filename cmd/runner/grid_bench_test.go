package main

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/db"
	"cliplab/internal/grid"
)

// benchGrid is a small grid: 8 runs of about 0.1 s each (mlp2, 94 steps on 6,000 images).
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

// benchConfigs parses and expands benchGrid.
func benchConfigs(b *testing.B) (*grid.Experiment, []config.Config) {
	exp, err := grid.Parse("bench.yaml", []byte(benchGrid))
	if err != nil {
		b.Fatal(err)
	}
	cfgs, err := exp.Expand()
	if err != nil {
		b.Fatal(err)
	}
	return exp, cfgs
}

// BenchmarkGrid trains benchGrid on 1 and on 2 workers, each iteration on
// a fresh database (issue 4: the goal is a speed-up of at least 1.9 on two
// cores). Compare the two with benchstat or by their ns/op.
func BenchmarkGrid(b *testing.B) {
	dir := benchMNIST(b)
	exp, cfgs := benchConfigs(b)
	for _, workers := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[workers], func(b *testing.B) {
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
				f := runFlags{workers: workers, dataDir: dir, progress: "none"}
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
