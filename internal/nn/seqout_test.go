package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// copyBatch returns b copy-task examples of n symbols from [0, v) (the
// layout of internal/data's copy task: the symbols, the delimiter v, n
// blanks v+1), their labels (b·n, one per blank) and PyTorch's targets at
// every position (b·(2n+1), -1 but at the blanks).
func copyBatch(rng *rand.Rand, b, n, v int) (x []float32, labels, targets []int) {
	T := 2*n + 1
	for range b {
		sym := make([]int, n)
		for i := range sym {
			sym[i] = rng.IntN(v)
			x = append(x, float32(sym[i]))
		}
		x = append(x, float32(v))
		for range n {
			x = append(x, float32(v+1))
		}
		labels = append(labels, sym...)
		for t := range T {
			if t <= n {
				targets = append(targets, -1)
			} else {
				targets = append(targets, sym[t-n-1])
			}
		}
	}
	return x, labels, targets
}

// TestCopyLossAgainstPyTorch: a transformer with outputs at the last n of
// 2n+1 positions (the copy task), its loss the mean softmax cross-entropy
// over the b·n target rows as train computes it (SoftmaxCrossEntropy over
// b·n rows), against PyTorch 1.13 on the same weights and batch:
// F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)
// over logits at every position with targets -1 but at the blanks
// (bench_torch.py check with seq_labels). Logits at the target positions,
// the loss and every gradient agree to 1e-4 relative, and the weights after
// three AdamW steps to 1e-5.
func TestCopyLossAgainstPyTorch(t *testing.T) {
	cases := []struct {
		name    string
		spec    ArchSpec
		b, n, v int
	}{
		{"2layer", ArchSpec{Type: "transformer", Layers: 2, DModel: 16, Heads: 4, Context: 12}, 3, 5, 7},
		{"tied-gpt2", ArchSpec{Type: "transformer", Layers: 2, DModel: 8, Heads: 2, Context: 9, Tied: true, Init: "gpt2"}, 4, 4, 3},
		{"one-symbol", ArchSpec{Type: "transformer", Layers: 1, DModel: 8, Heads: 2, Context: 3}, 2, 1, 5},
	}
	// eps 1e-4: see TestAgainstPyTorch (the key bias's zero gradient).
	optim := OptimSpec{Name: "adamw", WeightDecay: 0.1, Eps: 1e-4}
	models := make([]Model, len(cases))
	labels := make([][]int, len(cases))
	reqs := make([]torchCheckReq, len(cases))
	for i, tc := range cases {
		rng := rand.New(rand.NewPCG(5, uint64(i)))
		in := Input{Steps: 2*tc.n + 1, Feature: 1, Vocab: tc.v + 2, OutSteps: tc.n, Outputs: tc.v}
		m, err := Build(tc.spec, in, rng)
		if err != nil {
			t.Fatal(err)
		}
		x, lab, targets := copyBatch(rng, tc.b, tc.n, tc.v)
		req := torchCheckReq{Arch: tc.spec.Normalize(), Input: in, Batch: tc.b, Steps: in.Steps, X: x,
			SeqLabels: targets, Params: map[string][]float32{}, Optimizer: optim.Normalize(), LR: 1e-2, TrainSteps: 3}
		for _, p := range m.Params() {
			req.Params[p.Name] = slices.Clone(p.W)
		}
		models[i], labels[i], reqs[i] = m, lab, req
	}
	var resps []torchCheckResp
	runTorch(t, "check", reqs, &resps)
	if len(resps) != len(cases) {
		t.Fatalf("%d answers for %d cases", len(resps), len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, req, want := models[i], reqs[i], resps[i]
			T, rows := 2*tc.n+1, tc.b*tc.n
			d := make([]float32, rows*tc.v)
			lossStep := func() float64 {
				l, _ := SoftmaxCrossEntropy(d, m.Forward(req.X, tc.b, T), labels[i], rows, tc.v)
				return l
			}
			out := slices.Clone(m.Forward(req.X, tc.b, T))
			if len(out) != rows*tc.v || len(want.Out) != tc.b*T*tc.v {
				t.Fatalf("%d logits, PyTorch %d; want %d and %d", len(out), len(want.Out), rows*tc.v, tc.b*T*tc.v)
			}
			// PyTorch's logits of the last n positions of each sequence.
			var last []float64
			for e := range tc.b {
				last = append(last, want.Out[(e*T+tc.n+1)*tc.v:(e+1)*T*tc.v]...)
			}
			diff, scale := maxDiff(out, last)
			loss := lossStep()
			t.Logf("logits at the targets: max diff %.3g, scale %.3g; loss %.9g, PyTorch %.9g", diff, scale, loss, want.Loss)
			if diff > 1e-4*scale {
				t.Errorf("logits differ by %g (scale %g)", diff, scale)
			}
			if math.Abs(loss-want.Loss) > 1e-4*math.Abs(want.Loss) {
				t.Errorf("loss %.8g, PyTorch %.8g", loss, want.Loss)
			}
			m.Backward(d)
			for _, p := range m.Params() {
				g, ok := want.Grads[p.Name]
				if !ok || len(g) != len(p.G) {
					t.Fatalf("%s: PyTorch has %d values", p.Name, len(g))
				}
				diff, scale := maxDiff(p.G, g)
				t.Logf("%s: gradient max diff %.3g, scale %.3g", p.Name, diff, scale)
				if diff > 1e-4*scale+1e-7 || scale == 0 {
					t.Errorf("%s: gradients differ by %g (scale %g)", p.Name, diff, scale)
				}
			}
			opt, err := NewOptimizer(optim, m.Params())
			if err != nil {
				t.Fatal(err)
			}
			for s := range req.TrainSteps {
				l := lossStep()
				if w := want.TrainLosses[s]; math.Abs(l-w) > 1e-4*math.Abs(w) {
					t.Errorf("step %d: loss %.8g, PyTorch %.8g", s, l, w)
				}
				m.Backward(d)
				opt.Step(req.LR)
			}
			for _, p := range m.Params() {
				diff, scale := maxDiff(p.W, want.ParamsAfter[p.Name])
				if diff > 1e-5*(1+scale) {
					t.Errorf("%s after %d AdamW steps: weights differ by %g (scale %g)", p.Name, req.TrainSteps, diff, scale)
				}
			}
		})
	}
}

// TestCopyOutputsGrad: the gradient of a loss on the last k positions'
// logits, against central finite differences in float64 of the same
// float32 model (a few coordinates of every parameter tensor).
func TestCopyOutputsGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const b, n, v = 2, 3, 4
	in := Input{Steps: 2*n + 1, Feature: 1, Vocab: v + 2, OutSteps: n, Outputs: v}
	m, err := Build(ArchSpec{Type: "transformer", Layers: 1, DModel: 8, Heads: 2, Context: 7}, in, rng)
	if err != nil {
		t.Fatal(err)
	}
	x, lab, _ := copyBatch(rng, b, n, v)
	d := make([]float32, b*n*v)
	f := func() float64 {
		l, _ := SoftmaxCrossEntropy(d, m.Forward(x, b, in.Steps), lab, b*n, v)
		return l
	}
	f()
	m.Backward(d)
	for _, p := range m.Params() {
		g := slices.Clone(p.G)
		for _, j := range []int{0, len(p.W) / 2, len(p.W) - 1} {
			const h = 1e-2
			w := p.W[j]
			p.W[j] = w + h
			up := f()
			p.W[j] = w - h
			down := f()
			p.W[j] = w
			num := (up - down) / (2 * h)
			if math.Abs(num-float64(g[j])) > 2e-3*(1+math.Abs(num)) {
				t.Errorf("%s[%d]: gradient %.6g, finite difference %.6g", p.Name, j, g[j], num)
			}
		}
	}
}
