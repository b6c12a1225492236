package nn

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkStep is one training step at batch 64 on MNIST-shaped random
// data: forward, softmax cross-entropy, backward, plain SGD. Run it with
// OPENBLAS_CORETYPE unset (or right for the CPU); `runner bench` compares
// the same steps with PyTorch.
func BenchmarkStep(b *testing.B) {
	for _, tc := range []struct {
		name string
		spec ArchSpec
	}{{"mlp2", mlp2}, {"cnn", cnn}, {"rnn", rnn}, {"lstm", lstmRNN}} {
		b.Run(tc.name, func(b *testing.B) {
			const batch = 64
			rng := rand.New(rand.NewPCG(1, 2))
			m, err := Build(tc.spec, mnist, rng)
			if err != nil {
				b.Fatal(err)
			}
			opt, _ := NewOptimizer(OptimSpec{Name: "sgd"}, m.Params())
			x, labels, d := benchBatch(rng, batch)
			b.ReportAllocs()
			for b.Loop() {
				out := m.Forward(x, batch, 0)
				SoftmaxCrossEntropy(d, out, labels, batch, 10)
				m.Backward(d)
				opt.Step(0.01)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
			b.ReportMetric(float64(m.FLOPs(batch, 0))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// benchBatch is a random MNIST-shaped batch: pixels, labels and room for
// the loss's gradient.
func benchBatch(rng *rand.Rand, batch int) (x []float32, labels []int, d []float32) {
	x = randu(rng, batch*784, 1)
	labels = make([]int, batch)
	for i := range labels {
		labels[i] = rng.IntN(10)
	}
	return x, labels, make([]float32, batch*10)
}

// BenchmarkOptimizer is one optimizer step over mlp2's 269,322 parameters.
func BenchmarkOptimizer(b *testing.B) {
	for _, name := range []string{"sgd", "momentum", "adam", "adamw"} {
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			m, _ := Build(mlp2, mnist, rng)
			for _, p := range m.Params() {
				copy(p.G, randu(rng, len(p.G), 1))
			}
			opt, _ := NewOptimizer(OptimSpec{Name: name}, m.Params())
			b.ReportAllocs()
			for b.Loop() {
				opt.Step(1e-4)
			}
		})
	}
}

// BenchmarkTransformerStep is one AdamW step of the gpt-tiny (2
// layers, d_model 128, 4 heads) on batch 32 of full 64-token contexts.
func BenchmarkTransformerStep(b *testing.B) {
	const batch, T = 32, 64
	in := Input{Steps: T, Feature: 1, Vocab: 99, Outputs: 97}
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := Build(gptTiny, in, rng)
	if err != nil {
		b.Fatal(err)
	}
	opt, _ := NewOptimizer(OptimSpec{Name: "adamw"}, m.Params())
	x := randTokens(rng, batch*T, in.Vocab)
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.IntN(in.Outputs)
	}
	d := make([]float32, batch*in.Outputs)
	b.ReportAllocs()
	for b.Loop() {
		SoftmaxCrossEntropy(d, m.Forward(x, batch, T), labels, batch, in.Outputs)
		m.Backward(d)
		opt.Step(1e-3)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(m.FLOPs(batch, T))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
