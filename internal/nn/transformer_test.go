package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// randTokens returns n token ids in [0, vocab) as float32 values.
func randTokens(rng *rand.Rand, n, vocab int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.IntN(vocab))
	}
	return x
}

// randParams fills every parameter with U(±scale): away from torch's
// initialisation (norm weights 1, biases 0), so that a gradient swapped
// between weight and bias, or between heads, shows.
func randParams(ps *paramSet, rng *rand.Rand, scale float64) {
	for _, p := range ps.list {
		uniform(p.W, scale, rng)
	}
}

func TestLayerNormGrad(t *testing.T) {
	for _, tc := range []struct{ rows, d int }{{3, 5}, {4, 16}, {1, 2}} {
		t.Run(fmt.Sprintf("%dx%d", tc.rows, tc.d), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var ps paramSet
			l := newLayerNorm(&ps, "ln", tc.d)
			randParams(&ps, rng, 1)
			x := randu(rng, tc.rows*tc.d, 2)
			r := randu(rng, tc.rows*tc.d, 1)
			f := func() float64 { return dot(l.forward(x, tc.rows), r) }
			f()
			dx := append([]float32(nil), l.backward(r)...)
			checkGrad(t, "weight", l.w.W, l.w.G, f)
			checkGrad(t, "bias", l.b.W, l.b.G, f)
			checkGrad(t, "x", x, dx, f)
		})
	}
}

func TestAttentionGrad(t *testing.T) {
	for _, tc := range []struct{ B, T, d, heads int }{{2, 4, 6, 2}, {1, 5, 8, 4}, {2, 1, 4, 1}, {1, 3, 4, 1}} {
		t.Run(fmt.Sprintf("B%d_T%d_d%d_h%d", tc.B, tc.T, tc.d, tc.heads), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var ps paramSet
			l := newAttention(&ps, "attn", tc.d, tc.heads)
			randParams(&ps, rng, 0.7)
			x := randu(rng, tc.B*tc.T*tc.d, 1)
			r := randu(rng, tc.B*tc.T*tc.d, 1)
			f := func() float64 { return dot(l.forward(x, tc.B, tc.T), r) }
			f()
			dx := append([]float32(nil), l.backward(r, true)...)
			for _, p := range ps.list {
				checkGrad(t, p.Name, p.W, p.G, f)
			}
			checkGrad(t, "x", x, dx, f)
			if l.backward(r, false) != nil {
				t.Error("backward without dx returned dx")
			}
		})
	}
}

// TestAttentionCausal: changing position t of the input changes no output
// before t, and does change the output at t.
func TestAttentionCausal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const B, T, d, heads = 2, 6, 8, 2
	var ps paramSet
	l := newAttention(&ps, "attn", d, heads)
	randParams(&ps, rng, 0.7)
	x := randu(rng, B*T*d, 1)
	base := append([]float32(nil), l.forward(x, B, T)...)
	for pos := 0; pos < T; pos++ {
		x2 := append([]float32(nil), x...)
		for j := 0; j < d; j++ {
			x2[(1*T+pos)*d+j] += 0.5 // example 1 only
		}
		y := l.forward(x2, B, T)
		for b := 0; b < B; b++ {
			for s := 0; s < T; s++ {
				changed := false
				for j := 0; j < d; j++ {
					if y[(b*T+s)*d+j] != base[(b*T+s)*d+j] {
						changed = true
					}
				}
				if want := b == 1 && s >= pos; changed != want && !(want && s > pos) {
					t.Errorf("input (%d, %d) changed: output (%d, %d) changed = %v", 1, pos, b, s, changed)
				}
			}
		}
	}
}

func TestEmbeddingGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const B, T, vocab, ctx, d = 3, 4, 5, 6, 3
	var ps paramSet
	l := newEmbedding(&ps, "transformer", vocab, ctx, d)
	randParams(&ps, rng, 1)
	x := randTokens(rng, B*T, vocab)
	x[0], x[1] = 2, 2 // a repeated token: its gradient rows add up
	r := randu(rng, B*T*d, 1)
	f := func() float64 { return dot(l.forward(x, B, T), r) }
	f()
	l.backward(r)
	checkGrad(t, "wte", l.wte.W, l.wte.G, f)
	checkGrad(t, "wpe", l.wpe.W, l.wpe.G, f)
	for _, bad := range []float32{-1, vocab, 1.5} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("token %v: no panic", bad)
				}
			}()
			x2 := append([]float32(nil), x...)
			x2[3] = bad
			l.forward(x2, B, T)
		}()
	}
}

func TestMLPGrad(t *testing.T) {
	for _, approx := range []bool{false, true} {
		t.Run(fmt.Sprintf("approx=%v", approx), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			const rows, d, ff = 5, 4, 7
			var ps paramSet
			l := newMLP(&ps, "mlp", d, ff, approx)
			randParams(&ps, rng, 1)
			x := randu(rng, rows*d, 1.5)
			r := randu(rng, rows*d, 1)
			f := func() float64 { return dot(l.forward(x, rows), r) }
			f()
			dx := append([]float32(nil), l.backward(r, rows, true)...)
			for _, p := range ps.list {
				checkGrad(t, p.Name, p.W, p.G, f)
			}
			checkGrad(t, "x", x, dx, f)
		})
	}
}

func TestBlockGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const B, T, d, heads, ff = 2, 4, 8, 2, 12
	var ps paramSet
	l := newBlock(&ps, "transformer.h.0", d, heads, ff, false)
	randParams(&ps, rng, 0.5)
	x := randu(rng, B*T*d, 1)
	r := randu(rng, B*T*d, 1)
	f := func() float64 { return dot(l.forward(x, B, T), r) }
	f()
	dx := append([]float32(nil), l.backward(r)...)
	for _, p := range ps.list {
		checkGrad(t, p.Name, p.W, p.G, f)
	}
	checkGrad(t, "x", x, dx, f)
}

type torchLayerReq struct {
	Layer       string               `json:"layer"`
	D           int                  `json:"d"`
	Heads       int                  `json:"heads,omitempty"`
	FF          int                  `json:"ff,omitempty"`
	Approximate string               `json:"approximate,omitempty"`
	Vocab       int                  `json:"vocab,omitempty"`
	Context     int                  `json:"context,omitempty"`
	B           int                  `json:"B"`
	T           int                  `json:"T"`
	X           []float32            `json:"x"`
	DY          []float32            `json:"dy"`
	Params      map[string][]float32 `json:"params"`
}

type torchLayerResp struct {
	Y     []float64            `json:"y"`
	YMHA  []float64            `json:"y_mha"`
	DX    []float64            `json:"dx"`
	Grads map[string][]float64 `json:"grads"`
}

// TestLayersAgainstPyTorch gives each transformer layer and nanoGPT's
// module for it (cmd/runner/bench_torch.py, mode layer) the same weights,
// input and output gradient dy, and compares the output, dx and every
// parameter's gradient of Σ y·dy, with the tolerances of TestAgainstPyTorch.
// Attention is also compared with torch.nn.MultiheadAttention under a
// causal mask.
func TestLayersAgainstPyTorch(t *testing.T) {
	type layerCase struct {
		name string
		req  torchLayerReq
		ps   paramSet
		fwd  func(x []float32) []float32
		bwd  func(dy []float32) []float32 // nil dx for embeddings
	}
	var cases []*layerCase
	addCase := func(name string, req torchLayerReq, build func(ps *paramSet) (func([]float32) []float32, func([]float32) []float32)) {
		c := &layerCase{name: name, req: req}
		c.fwd, c.bwd = build(&c.ps)
		cases = append(cases, c)
	}
	addCase("layernorm", torchLayerReq{Layer: "layernorm", D: 8, B: 2, T: 3}, func(ps *paramSet) (func([]float32) []float32, func([]float32) []float32) {
		l := newLayerNorm(ps, "ln", 8)
		return func(x []float32) []float32 { return l.forward(x, 6) }, l.backward
	})
	for _, tc := range []struct{ B, T, d, heads int }{{2, 5, 8, 2}, {1, 7, 12, 3}, {3, 1, 4, 1}} {
		addCase(fmt.Sprintf("attention_B%d_T%d_d%d_h%d", tc.B, tc.T, tc.d, tc.heads),
			torchLayerReq{Layer: "attention", D: tc.d, Heads: tc.heads, B: tc.B, T: tc.T},
			func(ps *paramSet) (func([]float32) []float32, func([]float32) []float32) {
				l := newAttention(ps, "attn", tc.d, tc.heads)
				return func(x []float32) []float32 { return l.forward(x, tc.B, tc.T) },
					func(dy []float32) []float32 { return l.backward(dy, true) }
			})
	}
	addCase("embedding", torchLayerReq{Layer: "embedding", D: 5, Vocab: 7, Context: 6, B: 3, T: 4}, func(ps *paramSet) (func([]float32) []float32, func([]float32) []float32) {
		l := newEmbedding(ps, "emb", 7, 6, 5)
		return func(x []float32) []float32 { return l.forward(x, 3, 4) },
			func(dy []float32) []float32 { l.backward(dy); return nil }
	})
	for _, approx := range []string{"none", "tanh"} {
		addCase("mlp_"+approx, torchLayerReq{Layer: "mlp", D: 6, FF: 10, Approximate: approx, B: 2, T: 3}, func(ps *paramSet) (func([]float32) []float32, func([]float32) []float32) {
			l := newMLP(ps, "mlp", 6, 10, approx == "tanh")
			return func(x []float32) []float32 { return l.forward(x, 6) },
				func(dy []float32) []float32 { return l.backward(dy, 6, true) }
		})
		addCase("block_"+approx, torchLayerReq{Layer: "block", D: 8, Heads: 2, FF: 16, Approximate: approx, B: 2, T: 5}, func(ps *paramSet) (func([]float32) []float32, func([]float32) []float32) {
			l := newBlock(ps, "h.0", 8, 2, 16, approx == "tanh")
			return func(x []float32) []float32 { return l.forward(x, 2, 5) }, l.backward
		})
	}
	reqs := make([]torchLayerReq, len(cases))
	for i, c := range cases {
		rng := rand.New(rand.NewPCG(1, uint64(i)))
		randParams(&c.ps, rng, 0.5)
		n := c.req.B * c.req.T
		if c.req.Layer == "embedding" {
			c.req.X = randTokens(rng, n, c.req.Vocab)
		} else {
			c.req.X = randu(rng, n*c.req.D, 1.5)
		}
		c.req.DY = randu(rng, n*c.req.D, 1)
		c.req.Params = map[string][]float32{}
		for _, p := range c.ps.list {
			c.req.Params[p.Name] = append([]float32(nil), p.W...)
		}
		reqs[i] = c.req
	}
	var resps []torchLayerResp
	runTorch(t, "layer", reqs, &resps)
	if len(resps) != len(cases) {
		t.Fatalf("%d answers for %d cases", len(resps), len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := resps[i]
			y := c.fwd(c.req.X)
			for _, ref := range []struct {
				name string
				y    []float64
			}{{"nanoGPT", want.Y}, {"nn.MultiheadAttention", want.YMHA}} {
				if ref.y == nil {
					continue
				}
				if len(ref.y) != len(y) {
					t.Fatalf("%s: %d outputs, cliplab %d", ref.name, len(ref.y), len(y))
				}
				diff, scale := maxDiff(y, ref.y)
				t.Logf("output vs %s: max diff %.3g, scale %.3g", ref.name, diff, scale)
				if diff > 1e-5*(1+scale) {
					t.Errorf("output differs from %s by %g (scale %g)", ref.name, diff, scale)
				}
			}
			dx := c.bwd(c.req.DY)
			grads := map[string][]float32{}
			if dx != nil {
				grads["x"] = dx
			} else if want.DX != nil {
				t.Error("PyTorch has dx, cliplab none")
			}
			for _, p := range c.ps.list {
				grads[p.Name] = p.G
			}
			if len(want.Grads)+len(want.DX)/max(1, len(want.DX)) != len(grads) {
				t.Errorf("PyTorch has %d parameter gradients, cliplab %d", len(want.Grads), len(c.ps.list))
			}
			for name, g := range grads {
				ref := want.Grads[name]
				if name == "x" {
					ref = want.DX
				}
				if len(ref) != len(g) {
					t.Fatalf("%s: PyTorch has %d values, cliplab %d", name, len(ref), len(g))
				}
				diff, scale := maxDiff(g, ref)
				t.Logf("%s: gradient max diff %.3g, scale %.3g", name, diff, scale)
				if diff > 1e-4*scale+1e-7 || scale == 0 {
					t.Errorf("%s: gradients differ by %g (scale %g)", name, diff, scale)
				}
			}
		})
	}
}

// gptTiny is the benchmark model: 2 layers, d_model 128, 4 heads,
// context 64; tokens is a modular-arithmetic-like input (97 numbers and 2
// symbols, 4 tokens, 97 classes).
var (
	gptTiny = ArchSpec{Type: "transformer", Layers: 2, DModel: 128, Heads: 4, Context: 64}
	tokens  = Input{Steps: 4, Feature: 1, Vocab: 99, Outputs: 97}
)

// TestTransformerParams checks names, roles, shapes and the total against
// nanoGPT's state_dict for GPT(n_layer=2, n_embd=128, n_head=4,
// block_size=64, vocab_size=99, bias=True) with lm_head (97, 128):
// wte 99·128 + wpe 64·128 + 2·(4·128 [two layer norms] + 128·384+384 +
// 128·128+128 + 128·512+512 + 512·128+128) + 2·128 + 97·128 = 430,080
// (sum(p.numel() for p in GPT(…).parameters()) of bench_torch.py).
func TestTransformerParams(t *testing.T) {
	m, err := Build(gptTiny, tokens, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var want []paramWant
	want = append(want, paramWant{"transformer.wte.weight", Embedding, []int{99, 128}, false},
		paramWant{"transformer.wpe.weight", Embedding, []int{64, 128}, false})
	for i := range 2 {
		h := fmt.Sprintf("transformer.h.%d.", i)
		want = append(want,
			paramWant{h + "ln_1.weight", NormWeight, []int{128}, false}, paramWant{h + "ln_1.bias", Bias, []int{128}, false},
			paramWant{h + "attn.c_attn.weight", DenseWeight, []int{384, 128}, false}, paramWant{h + "attn.c_attn.bias", Bias, []int{384}, false},
			paramWant{h + "attn.c_proj.weight", DenseWeight, []int{128, 128}, false}, paramWant{h + "attn.c_proj.bias", Bias, []int{128}, false},
			paramWant{h + "ln_2.weight", NormWeight, []int{128}, false}, paramWant{h + "ln_2.bias", Bias, []int{128}, false},
			paramWant{h + "mlp.c_fc.weight", DenseWeight, []int{512, 128}, false}, paramWant{h + "mlp.c_fc.bias", Bias, []int{512}, false},
			paramWant{h + "mlp.c_proj.weight", DenseWeight, []int{128, 512}, false}, paramWant{h + "mlp.c_proj.bias", Bias, []int{128}, false})
	}
	want = append(want, paramWant{"transformer.ln_f.weight", NormWeight, []int{128}, false},
		paramWant{"transformer.ln_f.bias", Bias, []int{128}, false},
		paramWant{"lm_head.weight", DenseWeight, []int{97, 128}, true})
	ps := m.Params()
	if len(ps) != len(want) {
		t.Fatalf("%d params, want %d", len(ps), len(want))
	}
	total := 0
	for i, p := range ps {
		w := want[i]
		if p.Name != w.name || p.Role != w.role || !slices.Equal(p.Shape, w.shape) || p.Last != w.last || len(p.W) != p.Size() || len(p.G) != len(p.W) {
			t.Errorf("param %d = %s %v %v last=%v, want %s %v %v last=%v", i, p.Name, p.Role, p.Shape, p.Last, w.name, w.role, w.shape, w.last)
		}
		total += len(p.W)
	}
	if total != 430080 {
		t.Errorf("%d values, want 430080", total)
	}
	tied := gptTiny
	tied.Tied = true
	m, _ = Build(tied, tokens, rand.New(rand.NewPCG(1, 2)))
	if ps := m.Params(); len(ps) != len(want)-1 || ps[len(ps)-1].Name != "transformer.ln_f.bias" {
		t.Errorf("tied: %d params, last %s; want no lm_head", len(ps), ps[len(ps)-1].Name)
	}
}

// moments returns the mean and standard deviation of w.
func moments(w []float32) (mean, std float64) {
	for _, v := range w {
		mean += float64(v)
	}
	mean /= float64(len(w))
	for _, v := range w {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(w)))
}

// TestTransformerInit: init torch is PyTorch's constructors (nn.Embedding
// N(0, 1), nn.Linear U(±1/√fan_in), nn.LayerNorm 1 and 0); init gpt2 is
// nanoGPT's _init_weights (N(0, 0.02), c_proj N(0, 0.02/√(2·layers)),
// biases 0).
func TestTransformerInit(t *testing.T) {
	for _, init := range []string{"torch", "gpt2"} {
		spec := gptTiny
		spec.Init = init
		m, err := Build(spec, tokens, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			mean, std := moments(p.W)
			lo, hi := slices.Min(p.W), slices.Max(p.W)
			var fanIn int
			if len(p.Shape) == 2 {
				fanIn = p.Shape[1]
			}
			switch {
			case p.Role == NormWeight:
				if lo != 1 || hi != 1 {
					t.Errorf("%s %s: in [%v, %v], want 1", init, p.Name, lo, hi)
				}
			case strings.Contains(p.Name, "ln_") && p.Role == Bias:
				if lo != 0 || hi != 0 {
					t.Errorf("%s %s: in [%v, %v], want 0", init, p.Name, lo, hi)
				}
			case init == "gpt2" && p.Role == Bias:
				if lo != 0 || hi != 0 {
					t.Errorf("%s %s: in [%v, %v], want 0", init, p.Name, lo, hi)
				}
			case init == "gpt2":
				want := 0.02
				if strings.HasSuffix(p.Name, "c_proj.weight") {
					want = 0.02 / math.Sqrt(4)
				}
				// Over ≥ 8k draws the sample std is within 3% of σ.
				if math.Abs(std-want) > 0.03*want || math.Abs(mean) > 0.05*want {
					t.Errorf("%s %s: mean %.4g std %.4g, want N(0, %.4g²)", init, p.Name, mean, std, want)
				}
			case p.Role == Embedding:
				if math.Abs(std-1) > 0.03 || math.Abs(mean) > 0.05 {
					t.Errorf("%s %s: mean %.4g std %.4g, want N(0, 1)", init, p.Name, mean, std)
				}
			default: // Linear weights and biases of the torch init
				if p.Role == Bias {
					fanIn = m.Params()[slices.IndexFunc(m.Params(), func(q *Param) bool { return q.Name == strings.TrimSuffix(p.Name, "bias")+"weight" })].Shape[1]
				}
				bound := 1 / math.Sqrt(float64(fanIn))
				if float64(lo) < -bound || float64(hi) > bound || float64(hi) < 0.9*bound {
					t.Errorf("%s %s: in [%v, %v], want U(±%.4g)", init, p.Name, lo, hi, bound)
				}
			}
		}
	}
}

func TestTransformerBuildErrors(t *testing.T) {
	ok := ArchSpec{Type: "transformer", Layers: 1, DModel: 8, Heads: 2, Context: 4}
	for _, tc := range []struct {
		edit func(*ArchSpec, *Input)
		want string
	}{
		{func(a *ArchSpec, in *Input) { a.Heads = 3 }, "heads: 3 heads do not divide d_model 8"},
		{func(a *ArchSpec, in *Input) { a.Layers = 0 }, "layers: must be ≥ 1"},
		{func(a *ArchSpec, in *Input) { a.Context = 3 }, "context: 3 positions are fewer than the task's 4 tokens"},
		{func(a *ArchSpec, in *Input) { *in = mnist }, "a transformer reads token sequences"},
		{func(a *ArchSpec, in *Input) { a.Tied = true; in.Outputs = 9 }, "tied: the head is the embedding's first 9 rows, and there are only 7 tokens"},
		{func(a *ArchSpec, in *Input) { a.Init = "xavier" }, `init: "xavier" is not allowed (allowed: torch, gpt2)`},
		{func(a *ArchSpec, in *Input) { a.Approximate = "sigmoid" }, `approximate: "sigmoid" is not allowed (allowed: none, tanh)`},
	} {
		a, in := ok, Input{Steps: 4, Feature: 1, Vocab: 7, Outputs: 5}
		if _, err := Build(a, in, rand.New(rand.NewPCG(1, 2))); err != nil {
			t.Fatalf("valid spec: %v", err)
		}
		tc.edit(&a, &in)
		_, err := Build(a, in, rand.New(rand.NewPCG(1, 2)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
}

// TestTransformerSteps: training steps allocate nothing after the first,
// the same seed gives the same bits, the loss falls on a fixed batch, and an
// example's output does not depend on its batch.
func TestTransformerSteps(t *testing.T) {
	run := func() ([]float32, []float64, float64) {
		rng := rand.New(rand.NewPCG(3, 4))
		m, err := Build(ArchSpec{Type: "transformer", Layers: 2, DModel: 32, Heads: 4, Context: 8}, tokens, rng)
		if err != nil {
			t.Fatal(err)
		}
		opt, _ := NewOptimizer(OptimSpec{Name: "adamw"}, m.Params())
		const b = 8
		x := randTokens(rng, b*4, tokens.Vocab)
		labels := make([]int, b)
		for i := range labels {
			labels[i] = rng.IntN(tokens.Outputs)
		}
		d := make([]float32, b*tokens.Outputs)
		var losses []float64
		step := func() {
			l, _ := SoftmaxCrossEntropy(d, m.Forward(x, b, 4), labels, b, tokens.Outputs)
			losses = append(losses, l)
			m.Backward(d)
			opt.Step(3e-3)
		}
		step()
		allocs := testing.AllocsPerRun(5, step)
		for range 4 {
			step()
		}
		one := slices.Clone(m.Forward(x[:4], 1, 4))
		all := m.Forward(x, b, 4)
		for i, v := range one {
			if math.Abs(float64(v-all[i])) > 1e-5 {
				t.Errorf("output %d alone %v, in a batch of %d %v", i, v, b, all[i])
			}
		}
		var w []float32
		for _, p := range m.Params() {
			w = append(w, p.W...)
		}
		return w, losses, allocs
	}
	w1, l1, allocs := run()
	w2, l2, _ := run()
	if allocs != 0 {
		t.Errorf("%v allocations per step", allocs)
	}
	if !slices.Equal(w1, w2) || !slices.Equal(l1, l2) {
		t.Error("two runs from the same seed differ")
	}
	if l1[len(l1)-1] >= l1[0] {
		t.Errorf("loss did not fall on a fixed batch: %v", l1)
	}
}

// TestBlockGradTrimmed: the trimmed block's gradients by finite
// differences, its output only at the last k positions.
func TestBlockGradTrimmed(t *testing.T) {
	for _, k := range []int{1, 3} {
		rng := rand.New(rand.NewPCG(1, 2))
		const B, T, d, heads, ff = 2, 4, 8, 2, 12
		var ps paramSet
		l := newBlock(&ps, "transformer.h.0", d, heads, ff, false)
		l.k = k
		randParams(&ps, rng, 0.5)
		x := randu(rng, B*T*d, 1)
		r := randu(rng, B*k*d, 1)
		f := func() float64 { return dot(l.forward(x, B, T), r) }
		if n := len(l.forward(x, B, T)); n != B*k*d {
			t.Fatalf("k=%d: output of %d values, want %d", k, n, B*k*d)
		}
		dx := append([]float32(nil), l.backward(r)...)
		for _, p := range ps.list {
			checkGrad(t, fmt.Sprintf("k=%d %s", k, p.Name), p.W, p.G, f)
		}
		checkGrad(t, fmt.Sprintf("k=%d x", k), x, dx, f)
	}
}

// TestTransformerTrim: a trimmed transformer is the untrimmed one: the same
// parameters from the same seed, logits and every gradient equal to float
// rounding, over a few optimizer steps, with one and with three output
// positions; and it allocates nothing per step.
func TestTransformerTrim(t *testing.T) {
	for _, k := range []int{1, 3} {
		in := tokens
		in.OutSteps = k
		build := func(trim bool) (Model, Optimizer) {
			m, err := Build(ArchSpec{Type: "transformer", Layers: 2, DModel: 32, Heads: 4, Context: 8, Trim: trim}, in, rand.New(rand.NewPCG(3, 4)))
			if err != nil {
				t.Fatal(err)
			}
			opt, _ := NewOptimizer(OptimSpec{Name: "adamw"}, m.Params())
			return m, opt
		}
		full, optF := build(false)
		trim, optT := build(true)
		rng := rand.New(rand.NewPCG(5, 6))
		const b, T = 8, 5
		x := randTokens(rng, b*T, in.Vocab)
		labels := make([]int, b*k)
		for i := range labels {
			labels[i] = rng.IntN(in.Outputs)
		}
		dF := make([]float32, b*k*in.Outputs)
		dT := make([]float32, b*k*in.Outputs)
		close := func(what string, a, b []float32) {
			t.Helper()
			if len(a) != len(b) {
				t.Fatalf("k=%d %s: %d values trimmed, %d untrimmed", k, what, len(b), len(a))
			}
			for i := range a {
				if d := math.Abs(float64(a[i] - b[i])); d > 1e-5*(1+math.Abs(float64(a[i]))) {
					t.Fatalf("k=%d %s[%d]: trimmed %v, untrimmed %v", k, what, i, b[i], a[i])
				}
			}
		}
		for step := range 4 {
			lF, _ := SoftmaxCrossEntropy(dF, full.Forward(x, b, T), labels, b*k, in.Outputs)
			lT, _ := SoftmaxCrossEntropy(dT, trim.Forward(x, b, T), labels, b*k, in.Outputs)
			if math.Abs(lF-lT) > 1e-5 {
				t.Fatalf("k=%d step %d: loss trimmed %v, untrimmed %v", k, step, lT, lF)
			}
			full.Backward(dF)
			trim.Backward(dT)
			for i, p := range full.Params() {
				close(fmt.Sprintf("step %d grad %s", step, p.Name), p.G, trim.Params()[i].G)
			}
			optF.Step(3e-3)
			optT.Step(3e-3)
		}
		if f, g := full.FLOPs(b, T), trim.FLOPs(b, T); g >= f {
			t.Errorf("k=%d: trimmed FLOPs %d not below untrimmed %d", k, g, f)
		}
		allocs := testing.AllocsPerRun(5, func() {
			SoftmaxCrossEntropy(dT, trim.Forward(x, b, T), labels, b*k, in.Outputs)
			trim.Backward(dT)
		})
		if allocs != 0 {
			t.Errorf("k=%d: %v allocations per trimmed step", k, allocs)
		}
	}
}
