package main

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cliplab/internal/db"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"
)

// benchDB returns a database of 1,000 runs × 2,000 logged steps (2 archs ×
// 5 learning rates × 20 clip settings × 5 seeds), built once and kept in
// the temporary folder across benchmark runs (bump the version in the name
// when the generator changes).
func benchDB(b *testing.B) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), "cliplab-report-bench-v3.db")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	type clip struct {
		m  string
		th float64
	}
	clips := []clip{{"none", 0},
		{"value", 0.01}, {"value", 0.1}, {"value", 1},
		{"norm", 0.1}, {"norm", 0.5}, {"norm", 1}, {"norm", 5},
		{"layer_norm", 0.5}, {"layer_norm", 5},
		{"block_rms", 0.1}, {"block_rms", 1},
		{"agc", 0.01}, {"agc", 0.05}, {"agc", 0.2},
		{"autoclip", 10}, {"autoclip", 90},
		{"zclip", 1.5}, {"zclip", 2.5}, {"zclip", 4}}
	var runs []reporttest.Run
	for _, a := range []string{"cnn", "mlp2"} {
		for _, lr := range []float64{0.03, 0.1, 0.3, 1, 3} {
			for _, c := range clips {
				for s := uint64(1); s <= 5; s++ {
					runs = append(runs, reporttest.Synth(reporttest.Run{Arch: a, Dataset: "mnist", Method: c.m, Threshold: c.th, LR: lr, Seed: s}, 2000, ""))
				}
			}
		}
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	reporttest.WriteDB(b, tmp, "bench", runs)
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkReport times the whole report of a 1,000-run × 2,000-step
// database: queries, figures in three formats, tables and index.
func BenchmarkReport(b *testing.B) {
	benchReport(b, benchDB(b))
}

// benchReport times the report of the database at path.
func benchReport(b *testing.B, path string) {
	out := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		var so, se bytes.Buffer
		if err := run(context.Background(), []string{"-db", path, "-out", out}, &so, &se); err != nil {
			b.Fatalf("%v\n%s", err, se.String())
		}
	}
}

// BenchmarkLoad times the queries and the model alone.
func BenchmarkLoad(b *testing.B) {
	path := benchDB(b)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := load(context.Background(), d, "bench", 0.9, report.Tail); err != nil {
			b.Fatal(err)
		}
	}
}

// scaleShapes are the grids of the scale benchmark (issue 14, point 7),
// 10,000 runs × 2,000 logged steps (20 M step rows) each:
//
//   - grid: 2 archs × 5 clip settings × 40 learning rates × 25 seeds (400
//     settings over 40 learning rates);
//   - lrs: 2 archs × 5 clip settings × 1,000 learning rates drawn
//     log-uniformly from [1e-3, 10] × 1 seed (10,000 settings over 1,000
//     learning rates), a random search.
var scaleShapes = []string{"grid", "lrs"}

func scaleRuns(shape string) []reporttest.Run {
	type clip struct {
		m  string
		th float64
	}
	clips := []clip{{"none", 0}, {"value", 0.1}, {"norm", 1}, {"agc", 0.05}, {"zclip", 2.5}}
	var lrs []float64
	seeds := 1
	switch shape {
	case "grid":
		for i := range 40 {
			lrs = append(lrs, math.Pow(10, -3+4*float64(i)/39))
		}
		seeds = 25
	case "lrs":
		rng := rand.New(rand.NewPCG(14, 7))
		for range 1000 {
			lrs = append(lrs, math.Pow(10, -3+4*rng.Float64()))
		}
	default:
		panic("unknown shape " + shape)
	}
	var runs []reporttest.Run
	for _, a := range []string{"cnn", "mlp2"} {
		for _, c := range clips {
			for _, lr := range lrs {
				for s := 1; s <= seeds; s++ {
					runs = append(runs, reporttest.Run{Arch: a, Dataset: "mnist", Method: c.m, Threshold: c.th, LR: lr, Seed: uint64(s)})
				}
			}
		}
	}
	return runs
}

// scaleDB returns the path of shape's database in dir, building it first
// if it is not there (bump the version in the name when the generator
// changes).
func scaleDB(tb testing.TB, dir, shape string) string {
	tb.Helper()
	path := filepath.Join(dir, "cliplab-report-scale-"+shape+"-v1.db")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	start := time.Now()
	reporttest.WriteSynth(tb, tmp, "scale-"+shape, scaleRuns(shape), 2000)
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("built %s in %.1f s", path, time.Since(start).Seconds())
	return path
}

// TestScaleDB builds the scale benchmark's databases into
// $CLIPLAB_SCALE_DIR (about 2 GB each), for scripts/report-scale.sh to time
// the report on; skipped without it.
func TestScaleDB(t *testing.T) {
	dir := os.Getenv("CLIPLAB_SCALE_DIR")
	if dir == "" {
		t.Skip("CLIPLAB_SCALE_DIR not set")
	}
	for _, shape := range scaleShapes {
		scaleDB(t, dir, shape)
	}
}

// BenchmarkReportScale times the whole report of each scale shape (10,000
// runs × 2,000 steps; the databases are built once into the temporary
// folder, which takes minutes).
func BenchmarkReportScale(b *testing.B) {
	for _, shape := range scaleShapes {
		b.Run(shape, func(b *testing.B) { benchReport(b, scaleDB(b, os.TempDir(), shape)) })
	}
}
