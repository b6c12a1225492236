package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"cliplab/internal/config"
	"cliplab/internal/db"
	"cliplab/internal/grid"
	"cliplab/internal/nn"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(siblingEnv); name != "" {
		// A child of TestRelated: are name (another child), the test
		// process (its parent) and pid 1 related to it?
		fmt.Println(Related(name), Related(os.Getenv(parentEnv)), Related(initName()))
		os.Exit(0)
	}
	// The tests and benchmarks train: OpenBLAS on the CPU's kernels, one thread.
	if err := nn.EnsureBLAS(); err != nil {
		fmt.Fprintf(os.Stderr, "worker test: WARNING: %v\n", err)
	}
	os.Exit(m.Run())
}

// tinyGrid is 6 runs of the addition task of a few milliseconds each: no
// MNIST files needed.
const tinyGrid = `name: tiny
dataset: addition
data: {train_size: 64, test_size: 16, train_eval_size: 16, seq_len: 10}
train: {batch_size: 16, epochs: 2, log_every: 1}
archs:
  rnn: {type: rnn, hidden: 4}
grid:
  arch: rnn
  seed: [1, 2]
  clip: [none, {method: norm, threshold: 1}]
  lr: [0.01, 0.1]
`

// configs parses and expands an experiment given as YAML.
func configs(t testing.TB, src string) (*grid.Experiment, []config.Config) {
	t.Helper()
	exp, err := grid.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := exp.Expand()
	if err != nil {
		t.Fatal(err)
	}
	return exp, cfgs
}

// newDB opens a fresh database in t's temporary folder holding the grid of
// src, and returns it with the experiment's name and size.
func newDB(t testing.TB, src string) (d *db.DB, experiment string, n int) {
	t.Helper()
	exp, cfgs := configs(t, src)
	d, err := db.Open(filepath.Join(t.TempDir(), "runs.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	g := db.Grid{Experiment: exp.Name, Hash: config.GridHash(cfgs), Source: exp.Source}
	for _, c := range cfgs {
		g.Runs = append(g.Runs, db.NewRun{Key: c.Key(), ConfigJSON: c.Canonical(), Arch: c.ArchName, Dataset: c.Dataset,
			Optimizer: c.Optimizer.Name, Method: c.Clip.Method, LR: c.LR, BatchSize: c.BatchSize, Epochs: c.Epochs, Seed: c.Seed})
	}
	if _, err := d.AddGrid(context.Background(), g, false); err != nil {
		t.Fatal(err)
	}
	return d, exp.Name, len(cfgs)
}
