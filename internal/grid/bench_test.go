package grid

import (
	"os"
	"testing"
)

// BenchmarkLoadMnistClipping parses and expands the overnight grid (168
// configurations), as `runner plan` and `runner run` do once per call.
func BenchmarkLoadMnistClipping(b *testing.B) {
	src, err := os.ReadFile("../../experiments/mnist-clipping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := Parse("mnist-clipping.yaml", src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Expand(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKey is the canonical JSON and SHA-256 of one configuration.
func BenchmarkKey(b *testing.B) {
	_, cfgs, err := Load("../../experiments/mnist-clipping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = cfgs[0].Key()
	}
}
