package db

import (
	"cliplab/internal/record"

	"context"
	"testing"
)

// BenchmarkAppend writes 1,000 logged steps of a held run in one
// transaction, as the runner's sink does; ns/op ÷ 1,000 is the cost of
// logging one step.
func BenchmarkAppend(b *testing.B) {
	d := mustOpen(b)
	ctx := context.Background()
	if _, err := d.AddGrid(ctx, testGrid("e", 1), false); err != nil {
		b.Fatal(err)
	}
	c, err := d.Claim(ctx, "e", ClaimOptions{Worker: "w"})
	if err != nil {
		b.Fatal(err)
	}
	steps := make([]record.Step, 1000)
	next := 1
	b.ReportAllocs()
	for b.Loop() {
		for i := range steps {
			steps[i] = record.Step{Step: next, Loss: 2.3, GradNorm: 1.5, ClippedNorm: 1, ClipFraction: 1, Threshold: 1, LR: 0.1, ElapsedS: float64(next) / 1000}
			next++
		}
		if err := d.Append(ctx, c.ID, c.Attempt, steps, nil); err != nil {
			b.Fatal(err)
		}
	}
}
