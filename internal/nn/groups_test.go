package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestNormGroups checks the telemetry groups of step_norms (issue 12): a
// 2-layer transformer's embedding, attention, MLP, norm and head groups per
// layer, no head when tied, and one group per layer for mlp, cnn and rnn,
// under the PyTorch module's name.
func TestNormGroups(t *testing.T) {
	tied := gptTiny
	tied.Tied = true
	for _, tc := range []struct {
		name string
		spec ArchSpec
		in   Input
		want []string
	}{
		{"gpt", gptTiny, tokens, []string{"embedding", "h.0.norm", "h.0.attention", "h.0.mlp",
			"h.1.norm", "h.1.attention", "h.1.mlp", "final_norm", "head"}},
		{"gpt-tied", tied, tokens, []string{"embedding", "h.0.norm", "h.0.attention", "h.0.mlp",
			"h.1.norm", "h.1.attention", "h.1.mlp", "final_norm"}},
		{"mlp2", mlp2, mnist, []string{"0", "2", "4"}},
		{"cnn", cnn, mnist, []string{"0", "3", "7"}},
		{"rnn", rnn, mnist, []string{"rnn", "fc"}},
	} {
		m, err := Build(tc.spec, tc.in, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		names, index := NormGroups(m.Params())
		if !slices.Equal(names, tc.want) {
			t.Errorf("%s: groups %q, want %q", tc.name, names, tc.want)
		}
		for i, p := range m.Params() {
			if p.Name == "transformer.h.1.mlp.c_proj.weight" && names[index[i]] != "h.1.mlp" {
				t.Errorf("%s: %s in %s, want h.1.mlp", tc.name, p.Name, names[index[i]])
			}
			if p.Name == "transformer.h.0.ln_2.bias" && names[index[i]] != "h.0.norm" {
				t.Errorf("%s: %s in %s, want h.0.norm", tc.name, p.Name, names[index[i]])
			}
		}
	}
}

// TestGroupNorms: each group's norm is the L2 norm of its tensors'
// gradients (set by hand: tensor k holds k+1 in every value), so the
// squares of the group norms add up to the squared global norm.
func TestGroupNorms(t *testing.T) {
	m, err := Build(gptTiny, tokens, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	names, index := NormGroups(ps)
	want := make([]float64, len(names))
	var global float64
	for k, p := range ps {
		for i := range p.G {
			p.G[i] = float32(k + 1)
		}
		sq := float64(len(p.G)) * float64(k+1) * float64(k+1)
		want[index[k]] += sq
		global += sq
	}
	got := GroupNorms(ps, names, index)
	var sum float64
	for i := range got {
		if w := math.Sqrt(want[i]); math.Abs(got[i]-w) > 1e-12*w {
			t.Errorf("%s: norm %v, want %v", names[i], got[i], w)
		}
		sum += got[i] * got[i]
	}
	if math.Abs(sum-global) > 1e-9*global {
		t.Errorf("sum of squared group norms %v, want the squared global norm %v", sum, global)
	}
}
