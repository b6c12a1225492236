package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

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
	path := benchDB(b)
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
