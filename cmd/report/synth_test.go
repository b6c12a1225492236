// Test databases: runs written through db.AddGrid, db.Claim, db.Append and
// db.Finish as the runner writes them, with synthetic but plausible curves
// until the trainer fills real ones.

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"cliplab/internal/db"
	"cliplab/internal/record"
)

// fakeRun is one run to write: its configuration and what it logs.
type fakeRun struct {
	Arch, Dataset, Method string
	Threshold             float64 // ignored for none
	LR                    float64
	Seed                  uint64
	Extra                 map[string]any // more config fields (e.g. batch_size)

	// What happened. Status "" leaves the run running (claimed, never
	// finished); Pending leaves it unclaimed (pending runs must come last).
	Status  record.Status
	Pending bool
	Error   string
	Steps   []record.Step
	Evals   []record.Eval
	Wall    float64
	FLOPs   float64
}

// config returns the run's canonical config JSON, shaped like config.Config.
func (f fakeRun) config() []byte {
	clip := map[string]any{"method": f.Method}
	switch f.Method {
	case "none":
	case "norm":
		clip["threshold"], clip["norm_type"], clip["variant"] = f.Threshold, "2", "torch"
	case "agc":
		clip["threshold"], clip["eps"] = f.Threshold, 0.001
	case "zclip":
		clip["threshold"], clip["variant"], clip["alpha"], clip["warmup_steps"], clip["max_grad_norm"] = f.Threshold, "torch", 0.97, 25, 1.0
	case "autoclip":
		clip["threshold"], clip["variant"] = f.Threshold, "torch"
	default:
		clip["threshold"] = f.Threshold
	}
	cfg := map[string]any{
		"dataset": f.Dataset, "data": map[string]any{"train_size": 5000, "test_size": 1000},
		"arch": f.Arch, "arch_spec": map[string]any{"type": "mlp", "hidden": []int{64}},
		"optimizer": map[string]any{"name": "sgd"}, "lr": f.LR, "batch_size": 64, "epochs": 1,
		"eval_every": 0, "log_every": 1, "divergence_loss": 1e4, "clip": clip, "seed": f.Seed,
	}
	for k, v := range f.Extra {
		cfg[k] = v
	}
	b, _ := json.Marshal(cfg)
	return b
}

// writeDB writes runs as experiment into a new database at path.
func writeDB(tb testing.TB, path, experiment string, runs []fakeRun) {
	tb.Helper()
	ctx := context.Background()
	d, err := db.Open(path, db.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	g := db.Grid{Experiment: experiment, Source: []byte("name: " + experiment)}
	byKey := map[string]fakeRun{}
	h := sha256.New()
	for _, r := range runs {
		cfg := r.config()
		sum := sha256.Sum256(cfg)
		key := hex.EncodeToString(sum[:])
		h.Write(sum[:])
		byKey[key] = r
		g.Runs = append(g.Runs, db.NewRun{Key: key, ConfigJSON: cfg, Arch: r.Arch, Dataset: r.Dataset, Optimizer: "sgd", Method: r.Method,
			Threshold: r.Threshold, HasThreshold: r.Method != "none", LR: r.LR, BatchSize: 64, Epochs: 1, Seed: r.Seed})
	}
	g.Hash = hex.EncodeToString(h.Sum(nil))
	if _, err := d.AddGrid(ctx, g, false); err != nil {
		tb.Fatal(err)
	}
	claims := 0
	for _, r := range runs {
		if !r.Pending {
			claims++
		}
	}
	for range claims {
		c, err := d.Claim(ctx, experiment, db.ClaimOptions{Worker: "test", StaleAfter: time.Hour})
		if err != nil || c == nil {
			tb.Fatalf("claim: %v, %v", c, err)
		}
		r := byKey[c.Key]
		if r.Pending {
			tb.Fatalf("claimed pending run %s: pending runs must come last", c.Key[:12])
		}
		if r.Status == "" {
			continue // left running
		}
		// Batches of 500 steps, as the runner appends them.
		for i := 0; i < len(r.Steps); i += 500 {
			if err := d.Append(ctx, c.ID, c.Attempt, r.Steps[i:min(i+500, len(r.Steps))], nil); err != nil {
				tb.Fatal(err)
			}
		}
		if err := d.Finish(ctx, c.ID, c.Attempt, nil, r.Evals, record.Result{Status: r.Status, Error: r.Error, WallSeconds: r.Wall, TrainFLOPs: r.FLOPs, Steps: len(r.Steps)}); err != nil {
			tb.Fatal(err)
		}
	}
}

// synth fills in what a run logs from a simple model of clipped SGD: the
// learning rate sets the speed and the risk of divergence, clipping damps
// the risk at some cost in speed. Randomness is seeded by the config, so a
// database is the same every time.
func synth(r fakeRun, steps int, status record.Status) fakeRun {
	h := fnv.New64a()
	h.Write(r.config())
	rng := rand.New(rand.NewPCG(h.Sum64(), 2))
	strength := 0.0 // how hard the method clips, in [0, 1)
	switch r.Method {
	case "none":
	case "value":
		strength = 1 / (1 + 10*r.Threshold)
	case "agc":
		strength = 1 / (1 + 50*r.Threshold)
	case "autoclip":
		strength = 1 - r.Threshold/100
	case "zclip":
		strength = 1 / (1 + r.Threshold/2)
	default:
		strength = 1 / (1 + r.Threshold)
	}
	risk := r.LR * (1 - 0.8*strength)
	k := math.Min(r.LR, 1) * (1 - 0.5*strength) * 6 / float64(steps)
	flopsPerStep := 1e6
	if r.Arch == "cnn" {
		flopsPerStep = 4e6
	}
	divergeAt := steps + 1
	collapse := false
	if status == "" {
		r.Status = record.Done
		if u := rng.Float64(); risk > 1.2+0.6*u {
			r.Status = record.Diverged
			divergeAt = int(float64(steps) * (0.2 + 0.6*rng.Float64()))
		} else if risk > 1.0+0.6*u {
			collapse = true
		}
	} else {
		r.Status = status
	}
	if r.Status == record.Failed {
		r.Error = "train: synthetic failure"
		divergeAt = steps / 3
	}
	acc := func(t int) float64 {
		if collapse {
			return 0.1 + 0.02*rng.Float64()
		}
		return 0.1 + 0.88*(1-math.Exp(-k*float64(t)))
	}
	evalEvery := max(1, steps/5)
	for t := 1; t <= steps && t <= divergeAt; t++ {
		loss := 2.3*math.Exp(-k*float64(t)) + 0.05 + 0.05*rng.Float64()
		norm := (1 + 4*risk) * math.Exp(-k*float64(t)/2) * (0.8 + 0.4*rng.Float64())
		if collapse {
			loss = 2.3 + 0.1*rng.Float64()
		}
		if r.Status == record.Diverged && t > divergeAt-10 {
			grow := math.Pow(10, float64(t-divergeAt+10)/2)
			loss *= grow
			norm *= grow
		}
		frac := 0.0
		th := r.Threshold
		if r.Method == "none" {
			th = math.NaN()
		} else if norm*strength > 0.3 {
			frac = 1
		}
		s := record.Step{Step: t, Loss: loss, GradNorm: norm, ClippedNorm: math.Min(norm, 1), ClipFraction: frac, Threshold: th, LR: r.LR, ElapsedS: float64(t) * flopsPerStep / 1e8}
		if t == divergeAt && r.Status == record.Diverged {
			s.Loss, s.GradNorm = math.Inf(1), math.NaN()
		}
		r.Steps = append(r.Steps, s)
		if t%evalEvery == 0 && t < divergeAt {
			a := acc(t)
			gap := 0.01 + 0.03*(1-strength)
			r.Evals = append(r.Evals,
				record.Eval{Step: t, Split: "test", Acc: a, Loss: loss * 1.1, ElapsedS: float64(t) * flopsPerStep / 1e8},
				record.Eval{Step: t, Split: "train", Acc: math.Min(1, a+gap), Loss: loss, ElapsedS: float64(t) * flopsPerStep / 1e8})
		}
	}
	n := len(r.Steps)
	r.FLOPs = float64(n) * flopsPerStep * (1 + 0.02*strength)
	r.Wall = r.FLOPs / 1e8 * (0.9 + 0.2*rng.Float64())
	return r
}

// fakeGrid is the grid of the figure tests: archs × lrs × clips × seeds,
// each logging steps steps; the last run is left pending (never claimed)
// and the run before it running, and one run fails.
func fakeGrid(archs []string, lrs []float64, seeds int, steps int) []fakeRun {
	type clip struct {
		m  string
		th float64
	}
	clips := []clip{{"none", 0}, {"value", 0.1}, {"norm", 0.5}, {"norm", 5}, {"agc", 0.01}}
	var runs []fakeRun
	for _, a := range archs {
		for _, lr := range lrs {
			for _, c := range clips {
				for s := 1; s <= seeds; s++ {
					runs = append(runs, fakeRun{Arch: a, Dataset: "mnist", Method: c.m, Threshold: c.th, LR: lr, Seed: uint64(s)})
				}
			}
		}
	}
	for i := range runs {
		switch i {
		case len(runs) - 1:
			runs[i].Pending = true
		case len(runs) - 2: // running
		case 7:
			runs[i] = synth(runs[i], steps, record.Failed)
		default:
			runs[i] = synth(runs[i], steps, "")
		}
	}
	return runs
}

// tempDB writes runs into a database in t.TempDir and returns its path.
func tempDB(t testing.TB, experiment string, runs []fakeRun) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runs.db")
	writeDB(t, path, experiment, runs)
	return path
}
