package nn

import (
	"math/rand/v2"
	"testing"
)

// TestEffectiveFLOPs counts tiny models by hand (README "Compression
// costs": 2 per non-zero weight value per application, 1 per non-zero bias
// value per application).
func TestEffectiveFLOPs(t *testing.T) {
	build := func(spec ArchSpec, in Input) Model {
		t.Helper()
		m, err := Build(spec, in, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			for i := range p.W {
				p.W[i] = 1 // no value zero by chance
			}
		}
		return m
	}
	zero := func(p *Param, n int) {
		for i := range n {
			p.W[i] = 0
		}
	}
	img := Input{C: 1, H: 4, W: 4, Outputs: 2}

	// mlp 16 → 3 → 2: weights 3×16 and 2×3, biases 3 and 2.
	mlp := build(ArchSpec{Type: "mlp", Hidden: []int{3}}, img)
	if got, want := EffectiveFLOPs(mlp, 0), int64(2*(48+6)+3+2); got != want {
		t.Errorf("dense mlp: %d, want %d", got, want)
	}
	ps := mlp.Params()
	zero(ps[0], 40) // 8 of 48 weights left
	zero(ps[3], 1)  // one output bias
	if got, want := EffectiveFLOPs(mlp, 0), int64(2*(8+6)+3+1); got != want {
		t.Errorf("pruned mlp: %d, want %d", got, want)
	}

	// cnn: conv 2×1×3×3 on 4×4 (Ho·Wo = 4 positions), no pool, then a
	// dense 8 → 2.
	cnn := build(ArchSpec{Type: "cnn", Channels: []int{2}, Kernel: 3, Pool: 1}, img)
	if got, want := EffectiveFLOPs(cnn, 0), int64(4*(2*18+2)+2*16+2); got != want {
		t.Errorf("dense cnn: %d, want %d", got, want)
	}
	zero(cnn.Params()[0], 9) // the first filter
	if got, want := EffectiveFLOPs(cnn, 0), int64(4*(2*9+2)+2*16+2); got != want {
		t.Errorf("pruned cnn: %d, want %d", got, want)
	}

	// rnn: D 2, H 3, T 5: weight_ih 3×2 at 5 steps, weight_hh 3×3 at 4, both
	// biases at 5, fc 1×3 and its bias once.
	rnn := build(ArchSpec{Type: "rnn", Hidden: []int{3}}, Input{Feature: 2, Outputs: 1})
	if got, want := EffectiveFLOPs(rnn, 5), int64(5*2*6+4*2*9+5*(3+3)+2*3+1); got != want {
		t.Errorf("dense rnn: %d, want %d", got, want)
	}
	zero(rnn.Params()[1], 9) // weight_hh
	if got, want := EffectiveFLOPs(rnn, 5), int64(5*2*6+5*(3+3)+2*3+1); got != want {
		t.Errorf("rnn without recurrence: %d, want %d", got, want)
	}
	for _, p := range rnn.Params() {
		if got := Prunable(p); got != (p.Role == RecurrentWeight || p.Role == DenseWeight) {
			t.Errorf("Prunable(%s) = %v", p.Name, got)
		}
	}
}
