package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
)

// perExampleCases are the architectures with per-example support, at
// shapes small enough to check row by row.
var perExampleCases = []struct {
	name string
	spec ArchSpec
	in   Input
	b    int
}{
	{"mlp2", mlp2, mnist, 5},
	{"mlp-tanh", ArchSpec{Type: "mlp", Hidden: []int{7, 5}, Activation: "tanh"}, Input{C: 1, H: 4, W: 3, Outputs: 3}, 6},
	{"mlp-linear", ArchSpec{Type: "mlp"}, Input{C: 2, H: 3, W: 3, Outputs: 4}, 3},
	{"cnn", cnn, mnist, 4},
	{"cnn-tanh-nopool-hidden", ArchSpec{Type: "cnn", Channels: []int{3, 4}, Kernel: 3, Pool: 1, Hidden: []int{5}, Activation: "tanh"},
		Input{C: 2, H: 7, W: 6, Outputs: 3}, 5},
	{"rnn", ArchSpec{Type: "rnn", Hidden: []int{6}}, Input{C: 1, H: 4, W: 3, Outputs: 3}, 5},
	{"rnn-one-step", ArchSpec{Type: "rnn", Hidden: []int{4}}, Input{C: 2, H: 1, W: 3, Outputs: 3}, 3},
	{"lstm", ArchSpec{Type: "rnn", Hidden: []int{5}, Cell: "lstm"}, Input{C: 2, H: 5, W: 2, Outputs: 4}, 4},
	{"rnn-mnist", ArchSpec{Type: "rnn", Hidden: []int{16}}, mnist, 3},
	// Transformers: few tokens, so that an example repeats some (wte's
	// rows sum several positions) and, tied, uses the head's rows; a
	// context beyond the steps (rows of wpe no example reaches). Ghost norms
	// at 4 positions of d_model 16, formed gradients at 12 of d_model 8.
	{"gpt-2layer", ArchSpec{Type: "transformer", Layers: 2, DModel: 16, Heads: 2, Context: 6},
		Input{Steps: 4, Feature: 1, Vocab: 5, Outputs: 7}, 5},
	{"gpt-k3-long", ArchSpec{Type: "transformer", Layers: 2, DModel: 8, Heads: 2, DFF: 16, Context: 12, Approximate: "tanh"},
		Input{Steps: 12, Feature: 1, Vocab: 6, Outputs: 5, OutSteps: 3}, 4},
	{"gpt-trim-k3", ArchSpec{Type: "transformer", Layers: 2, DModel: 16, Heads: 4, DFF: 24, Context: 8, Trim: true},
		Input{Steps: 6, Feature: 1, Vocab: 7, Outputs: 4, OutSteps: 3}, 4},
	{"gpt-tied-k2", ArchSpec{Type: "transformer", Layers: 2, DModel: 16, Heads: 2, Context: 6, Tied: true},
		Input{Steps: 5, Feature: 1, Vocab: 6, Outputs: 4, OutSteps: 2}, 4},
	{"gpt-tied-trim-1layer", ArchSpec{Type: "transformer", Layers: 1, DModel: 8, Heads: 1, Context: 9, Tied: true, Trim: true, Init: "gpt2"},
		Input{Steps: 9, Feature: 1, Vocab: 4, Outputs: 3}, 3},
}

// exampleShape is what Forward takes as steps for input in (its sequence
// length for token inputs, 0 for images) and the number of output rows of
// an example (OutSteps, at least 1).
func exampleShape(in Input) (steps, k int) {
	if in.Vocab > 0 {
		steps = in.Steps
	}
	return steps, max(1, in.OutSteps)
}

// perExampleBatch builds case tc's model from a fixed seed and a batch with
// its mean cross-entropy gradient.
func perExampleBatch(t *testing.T, spec ArchSpec, in Input, b int) (PerExample, []float32, []int, []float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	m, err := Build(spec, in, rng)
	if err != nil {
		t.Fatal(err)
	}
	pe, ok := m.(PerExample)
	if !ok {
		t.Fatalf("%T is not a PerExample", m)
	}
	steps, k := exampleShape(in)
	var x []float32
	if in.Vocab > 0 {
		x = randTokens(rng, b*steps, in.Vocab)
	} else {
		x = randu(rng, b*in.C*in.H*in.W, 1)
		for i := range x {
			x[i] = (x[i] + 1) / 2
		}
	}
	labels := make([]int, b*k)
	for i := range labels {
		labels[i] = rng.IntN(in.Outputs)
	}
	d := make([]float32, b*k*in.Outputs)
	SoftmaxCrossEntropy(d, m.Forward(x, b, steps), labels, b*k, in.Outputs)
	return pe, x, labels, d
}

// TestPerExampleRows checks BackwardNorms against Backward run on one row
// of dout at a time, and BackwardWeighted against the weighted sum of those
// row gradients (and, with every weight 1, against Backward itself).
func TestPerExampleRows(t *testing.T) {
	for _, tc := range perExampleCases {
		t.Run(tc.name, func(t *testing.T) {
			m, x, _, d := perExampleBatch(t, tc.spec, tc.in, tc.b)
			ps := m.Params()
			steps, k := exampleShape(tc.in)
			P, b, O := len(ps), tc.b, k*tc.in.Outputs
			// Row gradients, one Backward per example's rows.
			rows := make([][][]float32, b)
			for i := range b {
				di := make([]float32, len(d))
				copy(di[i*O:(i+1)*O], d[i*O:(i+1)*O])
				m.Forward(x, b, steps)
				m.Backward(di)
				for _, p := range ps {
					rows[i] = append(rows[i], append([]float32(nil), p.G...))
				}
			}
			m.Forward(x, b, steps)
			m.Backward(d)
			full := make([][]float32, P)
			for k, p := range ps {
				full[k] = append([]float32(nil), p.G...)
			}

			m.Forward(x, b, steps)
			sq := make([]float64, b*P)
			for i := range sq {
				sq[i] = math.NaN() // must be overwritten
			}
			m.BackwardNorms(d, sq)
			for k, p := range ps {
				if !equal32(p.G, full[k]) {
					t.Fatalf("%s: BackwardNorms changed the gradient", p.Name)
				}
			}
			for i := range b {
				for k, p := range ps {
					want := sumSquares(rows[i][k])
					if got := sq[i*P+k]; math.Abs(got-want) > 1e-5*want+1e-30 {
						t.Errorf("row %d %s: squared norm %.9g, want %.9g", i, p.Name, got, want)
					}
				}
			}

			rng := rand.New(rand.NewPCG(5, 6))
			for _, uniform := range []bool{true, false} {
				w := make([]float32, b*P)
				for i := range b {
					wi := float32(rng.Float64() * 2)
					for k := range P {
						if !uniform {
							wi = float32(rng.Float64() * 2)
						}
						w[i*P+k] = wi
					}
				}
				m.BackwardWeighted(w)
				for k, p := range ps {
					want := make([]float64, len(p.G))
					for i := range b {
						for j, v := range rows[i][k] {
							want[j] += float64(w[i*P+k]) * float64(v)
						}
					}
					diff, scale := maxDiff(p.G, want)
					if diff > 1e-5*scale+1e-9 {
						t.Errorf("uniform=%v %s: weighted sum differs by %g (scale %g)", uniform, p.Name, diff, scale)
					}
				}
			}
			ones := make([]float32, b*P)
			for i := range ones {
				ones[i] = 1
			}
			m.BackwardWeighted(ones)
			for k, p := range ps {
				if !equal32(p.G, full[k]) {
					diff, scale := maxDiff(p.G, widen(full[k]))
					t.Errorf("%s: weights 1 give another gradient than Backward (max diff %g, scale %g)", p.Name, diff, scale)
				}
			}
		})
	}
}

// TestPerExampleAllocs: a per-example step (Forward, BackwardNorms,
// BackwardWeighted) allocates nothing after the first.
func TestPerExampleAllocs(t *testing.T) {
	for _, tc := range perExampleCases {
		t.Run(tc.name, func(t *testing.T) {
			m, x, _, d := perExampleBatch(t, tc.spec, tc.in, tc.b)
			steps, _ := exampleShape(tc.in)
			P := len(m.Params())
			sq := make([]float64, tc.b*P)
			w := make([]float32, tc.b*P)
			for i := range w {
				w[i] = float32(i%3) / 2
			}
			step := func() {
				m.Forward(x, tc.b, steps)
				m.BackwardNorms(d, sq)
				m.BackwardWeighted(w)
			}
			step()
			if n := testing.AllocsPerRun(3, step); n != 0 {
				t.Errorf("%v allocations per step", n)
			}
		})
	}
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func widen(a []float32) []float64 {
	out := make([]float64, len(a))
	for i, v := range a {
		out[i] = float64(v)
	}
	return out
}

type dpCheckReq struct {
	Arch   ArchSpec             `json:"arch"`
	Input  Input                `json:"input"`
	Batch  int                  `json:"batch"`
	X      []float32            `json:"x"`
	Labels []int                `json:"labels"`
	Params map[string][]float32 `json:"params"`
	Clip   float64              `json:"clip"`
}

type dpCheckResp struct {
	Sq          [][]float64          `json:"sq"`
	Clipped     map[string][]float64 `json:"clipped"`
	FastClipped map[string][]float64 `json:"fast_clipped"`
}

// TestPerExampleAgainstPyTorch compares each example's gradient norms per
// parameter and the flat-clipped sum Σ_i min(1, C/(‖g_i‖+1e-6))·g_i (g_i
// the gradient of example i's own loss, Opacus's flat clipping) with
// PyTorch's, from a loop over the examples in bench_torch.py's dpcheck
// mode, to 1e-5 relative. C is set between the examples' norms so that some
// examples are clipped and some not. It also checks that the PyTorch step
// `runner bench -dp` times (bench_torch.py's fast_dp_step: norms from
// layer hooks, one reweighted backward) forms the same sum.
func TestPerExampleAgainstPyTorch(t *testing.T) {
	type prepared struct {
		m    PerExample
		d    []float32
		sq   []float64
		norm []float64
	}
	preps := make([]prepared, len(perExampleCases))
	reqs := make([]dpCheckReq, len(perExampleCases))
	for c, tc := range perExampleCases {
		m, x, labels, d := perExampleBatch(t, tc.spec, tc.in, tc.b)
		P, b := len(m.Params()), tc.b
		sq := make([]float64, b*P)
		m.BackwardNorms(d, sq)
		norms := make([]float64, b)
		for i := range b {
			for k := range P {
				sq[i*P+k] *= float64(b * b) // row gradients are 1/b of the examples'
				norms[i] += sq[i*P+k]
			}
			norms[i] = math.Sqrt(norms[i])
		}
		lo, hi := math.Inf(1), 0.0
		for _, n := range norms {
			lo, hi = min(lo, n), max(hi, n)
		}
		req := dpCheckReq{Arch: tc.spec.Normalize(), Input: tc.in, Batch: b, X: x, Labels: labels,
			Params: map[string][]float32{}, Clip: (lo + hi) / 2}
		for _, p := range m.Params() {
			req.Params[p.Name] = append([]float32(nil), p.W...)
		}
		preps[c], reqs[c] = prepared{m, d, sq, norms}, req
	}
	var resps []dpCheckResp
	runTorch(t, "dpcheck", reqs, &resps)
	if len(resps) != len(perExampleCases) {
		t.Fatalf("%d answers for %d cases", len(resps), len(perExampleCases))
	}
	for c, tc := range perExampleCases {
		t.Run(tc.name, func(t *testing.T) {
			pr, req, want := preps[c], reqs[c], resps[c]
			ps := pr.m.Params()
			P, b := len(ps), tc.b
			worst := 0.0
			for i := range b {
				for k, p := range ps {
					g, w := pr.sq[i*P+k], want.Sq[i][k]
					rel := math.Abs(g-w) / w
					if w == 0 { // W_hh of a one-step rnn
						rel = math.Abs(g)
					}
					worst = max(worst, rel)
					if rel > 1e-5 {
						t.Errorf("example %d %s: squared norm %.9g, PyTorch %.9g", i, p.Name, g, w)
					}
				}
			}
			t.Logf("squared norms: largest relative difference %.3g", worst)
			w := make([]float32, b*P)
			clipped := 0
			for i := range b {
				f := min(1, req.Clip/(pr.norm[i]+1e-6))
				if f < 1 {
					clipped++
				}
				for k := range P {
					w[i*P+k] = float32(f * float64(b))
				}
			}
			if clipped == 0 || clipped == b {
				t.Fatalf("%d of %d examples clipped; the test needs both kinds", clipped, b)
			}
			pr.m.BackwardWeighted(w)
			for _, p := range ps {
				diff, scale := maxDiff(p.G, want.Clipped[p.Name])
				t.Logf("%s: clipped sum max diff %.3g, scale %.3g", p.Name, diff, scale)
				if diff > 1e-5*scale {
					t.Errorf("%s: clipped sums differ by %g (scale %g)", p.Name, diff, scale)
				}
				if want.FastClipped == nil {
					continue // bench_torch.py's fast DP step has no recurrent layers
				}
				fast := make([]float32, len(want.FastClipped[p.Name]))
				for j, v := range want.FastClipped[p.Name] {
					fast[j] = float32(v)
				}
				if len(fast) != len(p.G) {
					t.Errorf("%s: PyTorch's fast DP step gave %d values, want %d", p.Name, len(fast), len(p.G))
				} else if diff, scale := maxDiff(fast, want.Clipped[p.Name]); !(diff <= 1e-5*scale) {
					t.Errorf("%s: PyTorch's fast DP step's clipped sum differs from its loop's by %g (scale %g)", p.Name, diff, scale)
				}
			}
		})
	}
}

// BenchmarkPerExampleStep is one SGD step of mlp2, the cnn, the rnn and the
// LSTM (128 hidden, MNIST rows as steps) and of grokking.yaml's trimmed
// one-layer transformer (gpt1, on 4 tokens of the modular task) at batch
// 256, plain (Forward, Backward) and per-example (Forward, BackwardNorms,
// flat clip factors, BackwardWeighted): DP-SGD's step without its noise.
func BenchmarkPerExampleStep(b *testing.B) {
	const batch = 256
	gpt1 := ArchSpec{Type: "transformer", Layers: 1, DModel: 128, Heads: 4, Context: 4, Trim: true}
	for _, arch := range []struct {
		name string
		spec ArchSpec
		in   Input
	}{{"mlp2", mlp2, mnist}, {"cnn", cnn, mnist}, {"rnn", rnn, mnist}, {"lstm", lstmRNN, mnist}, {"gpt1", gpt1, tokens}} {
		for _, private := range []bool{false, true} {
			name := "plain"
			if private {
				name = "per-example"
			}
			b.Run(arch.name+"/"+name, func(b *testing.B) { perExampleStep(b, arch.spec, arch.in, batch, private) })
		}
	}
}

// perExampleStep runs BenchmarkPerExampleStep's steps of one arch.
func perExampleStep(b *testing.B, spec ArchSpec, in Input, batch int, private bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := Build(spec, in, rng)
	if err != nil {
		b.Fatal(err)
	}
	pe := m.(PerExample)
	P := len(m.Params())
	opt, _ := NewOptimizer(OptimSpec{Name: "sgd"}, m.Params())
	steps, k := exampleShape(in)
	x, labels, d := benchBatch(rng, batch)
	if in.Vocab > 0 {
		x = randTokens(rng, batch*steps, in.Vocab)
		labels = make([]int, batch*k)
		for i := range labels {
			labels[i] = rng.IntN(in.Outputs)
		}
		d = make([]float32, batch*k*in.Outputs)
	}
	sq := make([]float64, batch*P)
	w := make([]float32, batch*P)
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	for b.Loop() {
		out := m.Forward(x, batch, steps)
		SoftmaxCrossEntropy(d, out, labels, batch*k, in.Outputs)
		if !private {
			m.Backward(d)
		} else {
			pe.BackwardNorms(d, sq)
			for i := range batch {
				var n float64
				for k := range P {
					n += sq[i*P+k]
				}
				f := float32(min(1, 1/(math.Sqrt(n)*float64(batch)+1e-6)) * float64(batch))
				for k := range P {
					w[i*P+k] = f
				}
			}
			pe.BackwardWeighted(w)
		}
		opt.Step(0.01)
	}
	b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// threadCPU is the calling thread's CPU time in nanoseconds: with the
// benchmark's thread locked and BLAS on one thread, the step's CPU time
// without the time spent waiting for a core on a loaded machine.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil { // RUSAGE_THREAD
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// sumSquares is Σ x² in float64, one term at a time: the reference for
// rowSumSq.
func sumSquares(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

// TestRowSumSq checks the kernel against sumSquares at lengths around its
// block of 8 (the partial sums reorder the additions of float64 squares:
// equal to n·2⁻⁵³ relative, 1e-13 at 784).
func TestRowSumSq(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{1, 7, 8, 9, 16, 17, 784} {
		x := randu(rng, 3*n, 2)
		out := make([]float64, 3)
		rowSumSq(out, x, n)
		for r := range 3 {
			want := sumSquares(x[r*n : (r+1)*n])
			if math.Abs(out[r]-want) > 1e-13*want {
				t.Errorf("n=%d row %d: %v, want %v", n, r, out[r], want)
			}
		}
	}
	rowSumSq(nil, nil, 5) // no rows: nothing to do
}
