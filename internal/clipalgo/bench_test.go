package clipalgo

import (
	"math/rand/v2"
	"testing"

	"cliplab/internal/tensor"
)

// benchModels are the parameter shapes of the mlp2 (784→256→256→10) and rnn
// (28 inputs, 128 hidden, 10 classes) architectures, in PyTorch's layout.
var benchModels = []struct {
	name   string
	roles  []tensor.Role
	shapes [][]int
}{
	{"mlp2", []tensor.Role{tensor.DenseWeight, tensor.Bias, tensor.DenseWeight, tensor.Bias, tensor.DenseWeight, tensor.Bias},
		[][]int{{256, 784}, {256}, {256, 256}, {256}, {10, 256}, {10}}},
	{"rnn", []tensor.Role{tensor.DenseWeight, tensor.RecurrentWeight, tensor.Bias, tensor.Bias, tensor.DenseWeight, tensor.Bias},
		[][]int{{128, 28}, {128, 128}, {128}, {128}, {10, 128}, {10}}},
}

// benchSpecs have thresholds that clip these gradients on most steps.
var benchSpecs = []Spec{
	{Method: "none"},
	{Method: "value", Threshold: 1e-3},
	{Method: "norm", Threshold: 0.1},
	Spec{Method: "norm", Threshold: 0.1}.With("norm_type", "inf"),
	{Method: "layer_norm", Threshold: 0.01},
	{Method: "block_rms", Threshold: 1e-4},
	{Method: "agc", Threshold: 0.01},
	{Method: "autoclip", Threshold: 10},
	{Method: "zclip", Threshold: 2.5},
}

// BenchmarkClip times one Clip call in float32 on each model's gradients.
// The gradients are restored before each call (outside the timer's reach
// would cost more than the call), so the time includes one copy of them.
func BenchmarkClip(b *testing.B) {
	for _, m := range benchModels {
		rng := rand.New(rand.NewPCG(1, 2))
		ts := make([]Tensor[float32], len(m.shapes))
		orig := make([][]float32, len(m.shapes))
		for i, sh := range m.shapes {
			n := size(sh)
			ts[i] = Tensor[float32]{Name: "t", Role: m.roles[i], Shape: sh, Param: make([]float32, n), Grad: make([]float32, n), Last: i >= 4}
			orig[i] = make([]float32, n)
			for j := range n {
				ts[i].Param[j] = float32(rng.NormFloat64() * 0.05)
				orig[i][j] = float32(rng.NormFloat64() * 0.01)
			}
		}
		for _, s := range benchSpecs {
			name := m.name + "/" + s.Method
			if optionIs(s, "norm_type", "inf") {
				name += "_inf"
			}
			b.Run(name, func(b *testing.B) {
				c, err := New[float32](s)
				if err != nil {
					b.Fatal(err)
				}
				restore := func() {
					for i := range ts {
						copy(ts[i].Grad, orig[i])
					}
				}
				restore()
				if _, err := c.Clip(ts); err != nil { // first call sizes the buffers
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					restore()
					if _, err := c.Clip(ts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(m.name+"/copy_only", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := range ts {
					copy(ts[i].Grad, orig[i])
				}
			}
		})
	}
}

// TestNoAllocs checks that Clip allocates nothing after its first call (but
// autoclip's history, which grows by amortised appends).
func TestNoAllocs(t *testing.T) {
	m := benchModels[1]
	ts := make([]Tensor[float32], len(m.shapes))
	for i, sh := range m.shapes {
		n := size(sh)
		ts[i] = Tensor[float32]{Name: "t", Role: m.roles[i], Shape: sh, Param: make([]float32, n), Grad: make([]float32, n)}
		for j := range n {
			ts[i].Param[j], ts[i].Grad[j] = 0.05, float32(j%7)*0.01
		}
	}
	for _, s := range benchSpecs {
		if s.Method == "autoclip" {
			continue
		}
		c, _ := New[float32](s)
		if _, err := c.Clip(ts); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(50, func() { c.Clip(ts) }); n != 0 {
			t.Errorf("%s: %v allocations per call", s.Method, n)
		}
	}
}
