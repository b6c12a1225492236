package compress

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestFakeQuantTorch checks Params against PyTorch 1.13's MinMaxObserver
// and PerChannelMinMaxObserver, and Apply against
// torch.fake_quantize_per_tensor_affine / fake_quantize_per_channel_affine,
// bit for bit, for bits 2 to 16, both schemes and granularities, on
// tensors with ties at half levels and an all-zero channel:
// testdata/quant_golden.json, written by testdata/torch_quant.py.
func TestFakeQuantTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/quant_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Bits        int
			Scheme      string
			Granularity string
			Shape       []int
			X           []float32
			Scale       []float32
			ZeroPoint   []int64 `json:"zero_point"`
			Y           []float32
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 100 {
		t.Fatalf("%d cases in the golden file", len(g.Cases))
	}
	bad := 0
	for i, c := range g.Cases {
		q := Quantize{Bits: c.Bits, Scheme: c.Scheme, Granularity: c.Granularity}
		if err := q.Validate(); err != nil {
			t.Fatal(err)
		}
		groups := q.Groups(c.Shape)
		n := len(c.X) / groups
		for k := range groups {
			s, zp := q.Params(c.X[k*n : (k+1)*n])
			if math.Float32bits(s) != math.Float32bits(c.Scale[k]) || zp != c.ZeroPoint[k] {
				t.Errorf("case %d (%s), group %d: scale %v zero point %d, torch %v %d", i, q, k, s, zp, c.Scale[k], c.ZeroPoint[k])
			}
		}
		y := make([]float32, len(c.X))
		q.Apply(y, c.X, nil, c.Shape)
		for j := range y {
			if math.Float32bits(y[j]) != math.Float32bits(c.Y[j]) {
				bad++
				if bad <= 5 {
					t.Errorf("case %d (%s %v), value %d: %v → %v, torch %v", i, q, c.Shape, j, c.X[j], y[j], c.Y[j])
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d values differ", bad)
	}
}

// TestFakeQuantMask: the mask is false exactly where the rounded value
// fell outside the range. Symmetric 2 bits (range [−2, 1]) of
// [−1.5, 0.5, 1.5] has scale 1.5/1.5 = 1: −1.5 rounds to −2 (ties to even,
// inside), 0.5 to 0, 1.5 to 2, outside, clamped to 1 with a zero gradient,
// as PyTorch's fake-quantize mask.
func TestFakeQuantMask(t *testing.T) {
	q := Quantize{Bits: 2}.Normalize()
	w := []float32{-1.5, 0.5, 1.5}
	y, keep := make([]float32, 3), make([]bool, 3)
	q.Apply(y, w, keep, []int{3})
	if keep[0] != true || keep[1] != true || keep[2] != false {
		t.Errorf("mask %v, want [true true false]", keep)
	}
	if y[0] != -2 || y[1] != 0 || y[2] != 1 {
		t.Errorf("values %v, want [-2 0 1]", y)
	}
}

func TestQuantizeValidate(t *testing.T) {
	for _, c := range []struct {
		q    Quantize
		want string
	}{
		{Quantize{Bits: 1}, "bits: must be a whole number from 2 to 16, got 1"},
		{Quantize{Bits: 17}, "bits: must be a whole number from 2 to 16, got 17"},
		{Quantize{Bits: 8, Scheme: "log"}, `scheme: unknown scheme "log"`},
		{Quantize{Bits: 8, Granularity: "row"}, `granularity: unknown granularity "row"`},
	} {
		err := c.q.Normalize().Validate()
		if err == nil || len(err.Error()) < len(c.want) || err.Error()[:len(c.want)] != c.want {
			t.Errorf("%+v: %v, want %q", c.q, err, c.want)
		}
	}
}
