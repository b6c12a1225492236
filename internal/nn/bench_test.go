package nn

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used. On a
// loaded machine it measures a benchmark better than wall time, which also
// counts the time other processes hold the cores; benchmarks report it per
// step as cpu-ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
			m, x, labels, d := benchModel(b, tc.spec, batch)
			opt, _ := NewOptimizer(OptimSpec{Name: "sgd"}, m.Params())
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				out := m.Forward(x, batch, 0)
				SoftmaxCrossEntropy(d, out, labels, batch, 10)
				m.Backward(d)
				opt.Step(0.01)
				runtime.Gosched() // as train.Run yields at every step
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
			b.ReportMetric(float64(m.FLOPs(batch, 0))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// benchModel builds spec for MNIST and a random batch for it, from a fixed
// seed.
func benchModel(b *testing.B, spec ArchSpec, batch int) (m Model, x []float32, labels []int, d []float32) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := Build(spec, mnist, rng)
	if err != nil {
		b.Fatal(err)
	}
	x, labels, d = benchBatch(rng, batch)
	return m, x, labels, d
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

// BenchmarkStepGEMMs runs only the matrix products of BenchmarkStep's cnn
// and mlp2 step, the same cblas_sgemm calls on the same buffers (after one
// real step has filled them), in the same order: the floor the step's own
// kernels (im2col, col2im, pooling, bias, activations, the loss, SGD) add
// to. BenchmarkStep/cnn over BenchmarkStepGEMMs/cnn is the step's overhead
// over its GEMMs (issue 18 asks for at most 1.15).
func BenchmarkStepGEMMs(b *testing.B) {
	for _, tc := range []struct {
		name string
		spec ArchSpec
	}{{"mlp2", mlp2}, {"cnn", cnn}} {
		b.Run(tc.name, func(b *testing.B) {
			const batch = 64
			m, x, labels, d := benchModel(b, tc.spec, batch)
			SoftmaxCrossEntropy(d, m.Forward(x, batch, 0), labels, batch, 10)
			m.Backward(d)
			layers := m.(*sequential).layers
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				for _, l := range layers {
					switch l := l.(type) {
					case *conv2d:
						l.gemmsForward(batch)
					case *dense:
						sgemm(false, true, batch, l.out, l.in, 1, l.x, l.in, l.w.W, l.in, 0, l.y, l.out)
					}
				}
				for i := len(layers) - 1; i >= 0; i-- {
					switch l := layers[i].(type) {
					case *conv2d:
						dz := l.dz
						if l.actDone {
							dz = layers[i+1].(*maxPool).dx
						}
						l.gemmsBackward(batch, i > 0, dz)
					case *dense:
						dz := l.dz
						if l.act == actNone {
							dz = d
						}
						sgemm(true, false, l.out, l.in, batch, 1, dz, l.out, l.x, l.in, 0, l.w.G, l.in)
						if i > 0 {
							sgemm(false, false, batch, l.in, l.out, 1, dz, l.out, l.w.W, l.in, 0, l.dx, l.in)
						}
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// gemmsForward and gemmsBackward are conv2d's forward and backward with
// only their GEMMs (BenchmarkStepGEMMs).
func (l *conv2d) gemmsForward(b int) {
	ckk, hw, out := l.c*l.k*l.k, l.ho*l.wo, l.outSize()
	for i := 0; i < b; i++ {
		sgemm(false, false, l.o, hw, ckk, 1, l.wt.W, ckk, l.cols, hw, 0, l.y[i*out:(i+1)*out], hw)
	}
}

func (l *conv2d) gemmsBackward(b int, needDx bool, dz []float32) {
	ckk, hw, out := l.c*l.k*l.k, l.ho*l.wo, l.outSize()
	for i := 0; i < b; i++ {
		beta := float32(1)
		if i == 0 {
			beta = 0
		}
		sgemm(false, true, l.o, ckk, hw, 1, dz[i*out:(i+1)*out], hw, l.cols, hw, beta, l.wt.G, ckk)
	}
	if needDx {
		for i := 0; i < b; i++ {
			sgemm(true, false, ckk, hw, l.o, 1, l.wt.W, ckk, dz[i*out:(i+1)*out], hw, 0, l.dcols, hw)
		}
	}
}

// BenchmarkConvKernels times the cnn's data movement for one example:
// im2col of its two conv layers and col2im of the second (the first needs
// no dx), at MNIST's shapes.
func BenchmarkConvKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name          string
		c, h, w, o, k int
	}{{"conv1", 1, 28, 28, 8, 5}, {"conv2", 8, 12, 12, 16, 5}} {
		l := &conv2d{c: tc.c, h: tc.h, w: tc.w, o: tc.o, k: tc.k, ho: tc.h - tc.k + 1, wo: tc.w - tc.k + 1}
		x := randu(rng, l.inSize(), 1)
		cols := randu(rng, l.c*l.k*l.k*l.ho*l.wo, 1)
		b.Run("im2col/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				l.im2col(cols, x)
			}
		})
		b.Run("col2im/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				l.col2im(x, cols)
			}
		})
	}
}

// BenchmarkSGEMMPeak is OpenBLAS's sgemm rate on this core (one thread),
// in GFLOP/s: on a large square product, its best, and on each product of
// mlp2's training step at batch 256 (forward x·Wᵀ, weight gradient δᵀ·x,
// input gradient δ·W). No step's GEMMs run faster than this; issue 11
// compares it with the rate a DP-SGD step would need to be some multiple
// of PyTorch's.
func BenchmarkSGEMMPeak(b *testing.B) {
	type shape struct {
		name    string
		ta, tb  bool
		m, n, k int
	}
	shapes := []shape{{"square-1024", false, true, 1024, 1024, 1024}}
	dims := []int{784, 256, 256, 10}
	for l := 0; l+1 < len(dims); l++ {
		in, out := dims[l], dims[l+1]
		shapes = append(shapes,
			shape{fmt.Sprintf("mlp2-b256-fwd-%dx%d", in, out), false, true, 256, out, in},
			shape{fmt.Sprintf("mlp2-b256-wgrad-%dx%d", in, out), true, false, out, in, 256})
		if l > 0 {
			shapes = append(shapes, shape{fmt.Sprintf("mlp2-b256-xgrad-%dx%d", in, out), false, false, 256, in, out})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			a := randu(rng, s.m*s.k, 1)
			x := randu(rng, s.k*s.n, 1)
			c := make([]float32, s.m*s.n)
			lda, ldb := s.k, s.n
			if s.ta {
				lda = s.m
			}
			if s.tb {
				ldb = s.k
			}
			for b.Loop() {
				sgemm(s.ta, s.tb, s.m, s.n, s.k, 1, a, lda, x, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
