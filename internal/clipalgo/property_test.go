package clipalgo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"cliplab/internal/tensor"
)

// randomModel returns a small model with gradients on very different scales:
// dense, bias, conv and recurrent tensors, some gradients zero, some tensors
// ten thousand times larger than others.
func randomModel[F Float](rng *rand.Rand) []Tensor[F] {
	shapes := []struct {
		role  tensor.Role
		shape []int
	}{
		{tensor.DenseWeight, []int{8, 5}}, {tensor.Bias, []int{8}}, {tensor.ConvWeight, []int{3, 2, 3, 3}}, {tensor.Bias, []int{3}},
		{tensor.RecurrentWeight, []int{4, 4}}, {tensor.DenseWeight, []int{4, 1}}, {tensor.DenseWeight, []int{2, 8}}, {tensor.Bias, []int{2}},
	}
	global := math.Pow(10, rng.Float64()*6-3)
	ts := make([]Tensor[F], len(shapes))
	for i, s := range shapes {
		n := size(s.shape)
		local := global * math.Pow(10, rng.Float64()*4-2)
		t := Tensor[F]{Name: "t", Role: s.role, Shape: s.shape, Param: make([]F, n), Grad: make([]F, n), Last: i >= len(shapes)-2}
		for j := range n {
			t.Param[j] = F(rng.NormFloat64() * math.Pow(10, rng.Float64()*6-5))
			if rng.IntN(10) > 0 {
				t.Grad[j] = F(rng.NormFloat64() * local)
			}
		}
		if rng.IntN(8) == 0 {
			clear(t.Grad)
		}
		ts[i] = t
	}
	return ts
}

func clone[F Float](ts []Tensor[F]) []Tensor[F] {
	out := slices.Clone(ts)
	for i := range out {
		out[i].Grad = slices.Clone(ts[i].Grad)
	}
	return out
}

// tolOf is the relative slack for bounds checked after rounding to F.
func tolOf[F Float]() float64 {
	if _, ok := any(F(0)).(float32); ok {
		return 1e-6
	}
	return 1e-12
}

// TestProperties runs every method on seeded random models, in float32 and
// float64, and checks what holds whatever the input.
func TestProperties(t *testing.T) {
	t.Run("float32", func(t *testing.T) { properties[float32](t) })
	t.Run("float64", func(t *testing.T) { properties[float64](t) })
}

func properties[F Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tol := tolOf[F]()
	specs := []Spec{
		{Method: "none"},
		{Method: "value", Threshold: 0.01}, {Method: "value", Threshold: 1},
		{Method: "norm", Threshold: 0.5}, Spec{Method: "norm", Threshold: 10}.With("variant", "optax"),
		Spec{Method: "norm", Threshold: 0.5}.With("norm_type", "inf"), Spec{Method: "norm", Threshold: 2}.With("norm_type", "inf").With("variant", "optax"),
		{Method: "layer_norm", Threshold: 0.3},
		{Method: "block_rms", Threshold: 0.05},
		{Method: "agc", Threshold: 0.01}, Spec{Method: "agc", Threshold: 0.1}.With("exclude_last", true),
		{Method: "autoclip", Threshold: 10}, Spec{Method: "autoclip", Threshold: 75}.With("variant", "optax"),
		Spec{Method: "zclip", Threshold: 2.5}.With("warmup_steps", 5),
		Spec{Method: "zclip", Threshold: 2}.With("warmup_steps", 5).With("max_grad_norm", -1.0).With("variant", "optax"),
		Spec{Method: "zclip", Threshold: 1.5}.With("warmup_steps", 3).With("max_grad_norm", -1.0).With("mode", "percentile"),
	}
	for _, s := range specs {
		c, err := New[F](s)
		if err != nil {
			t.Fatal(err)
		}
		ns := s.Normalize()
		clipped := 0
		for step := range 60 {
			before := randomModel[F](rng)
			ts := clone(before)
			st, err := c.Clip(ts)
			if err != nil {
				t.Fatalf("%+v step %d: %v", s, step, err)
			}
			fail := func(format string, args ...any) {
				t.Helper()
				t.Errorf("%s %+v step %d: "+format, append([]any{ns.Method, ns, step}, args...)...)
			}
			if !close(st.NormBefore, GlobalNorm(before, 2), 1e-12) || !close(st.NormAfter, GlobalNorm(ts, 2), 1e-12) {
				fail("stats norms %v → %v, measured %v → %v", st.NormBefore, st.NormAfter, GlobalNorm(before, 2), GlobalNorm(ts, 2))
			}
			if st.NormAfter > st.NormBefore*(1+1e-12) || st.Fraction < 0 || st.Fraction > 1 {
				fail("norm %v → %v, fraction %v", st.NormBefore, st.NormAfter, st.Fraction)
			}
			if st.Fraction > 0 {
				clipped++
			}
			// Clipping never flips a sign and never grows an element.
			for i := range ts {
				for j, a := range ts[i].Grad {
					b := before[i].Grad[j]
					if float64(a)*float64(b) < 0 || math.Abs(float64(a)) > math.Abs(float64(b)) {
						fail("tensor %d [%d]: %v → %v", i, j, b, a)
					}
				}
			}
			unchanged := func(i int) bool { return slices.Equal(ts[i].Grad, before[i].Grad) }
			switch ns.Method {
			case "none":
				for i := range ts {
					if !unchanged(i) {
						fail("none changed tensor %d", i)
					}
				}
			case "value":
				c, n, total := F(ns.Threshold), 0, 0
				for i := range ts {
					for j, a := range ts[i].Grad {
						b := before[i].Grad[j]
						total++
						if b > c || b < -c {
							n++
							if a != c && a != -c {
								fail("%v clamped to %v", b, a)
							}
						} else if a != b {
							fail("%v within ±%v became %v", b, c, a)
						}
					}
				}
				if st.Fraction != float64(n)/float64(total) {
					fail("fraction %v, want %d/%d", st.Fraction, n, total)
				}
			case "norm", "autoclip", "zclip":
				p := 2.0
				if nt, _ := ns.Option("norm_type"); nt == "inf" {
					p = math.Inf(1)
				}
				nb, na := GlobalNorm(before, p), GlobalNorm(ts, p)
				thr := st.Threshold
				if ns.Method == "norm" && thr != ns.Threshold {
					fail("threshold %v, want %v", thr, ns.Threshold)
				}
				// After: at most the threshold (zclip's is the trigger, which
				// bounds both the unclipped norm and the clip target).
				if na > thr*(1+tol) {
					fail("norm after %v > threshold %v", na, thr)
				}
				// Below the threshold (by more than torch's 1e-6): unchanged,
				// bit for bit.
				if nb+2e-6 < thr && ns.Method != "zclip" {
					for i := range ts {
						if !unchanged(i) {
							fail("norm %v < %v but tensor %d changed", nb, thr, i)
						}
					}
				}
				if (nb > thr) != (st.Fraction == 1) && ns.Method != "zclip" {
					fail("norm %v, threshold %v, fraction %v", nb, thr, st.Fraction)
				}
				if nb > thr && optionIs(ns, "variant", "optax") && ns.Method != "zclip" && !close(na, thr, tol) {
					fail("optax clips to the threshold: %v, want %v", na, thr)
				}
				if nb > 0 && !close(na/nb, GlobalNorm(ts, 2)/GlobalNorm(before, 2), 1e-5) {
					fail("not one common factor for all tensors")
				}
			case "layer_norm", "block_rms":
				n := 0
				for i := range ts {
					m := math.Sqrt(float64(len(ts[i].Grad)))
					if ns.Method == "layer_norm" {
						m = 1
					}
					b, a := norm2(before[i].Grad)/m, norm2(ts[i].Grad)/m
					if a > ns.Threshold*(1+tol) {
						fail("tensor %d: %v → %v above %v", i, b, a, ns.Threshold)
					}
					if b <= ns.Threshold && !unchanged(i) {
						fail("tensor %d: %v ≤ %v changed", i, b, ns.Threshold)
					}
					if b > ns.Threshold {
						n++
						if !close(a, ns.Threshold, tol) {
							fail("tensor %d: %v → %v, want %v", i, b, a, ns.Threshold)
						}
					}
				}
				if st.Fraction != float64(n)/float64(len(ts)) {
					fail("fraction %v, want %d/%d", st.Fraction, n, len(ts))
				}
			case "agc":
				n, total := 0, 0
				for i := range ts {
					if optionIs(ns, "exclude_last", true) && ts[i].Last {
						if !unchanged(i) {
							fail("excluded tensor %d changed", i)
						}
						continue
					}
					k, m := units(ts[i].Shape)
					for u := range k {
						total++
						w := norm2(ts[i].Param[u*m : (u+1)*m])
						b := norm2(before[i].Grad[u*m : (u+1)*m])
						a := norm2(ts[i].Grad[u*m : (u+1)*m])
						mx := ns.Threshold * math.Max(w, ns.Float("eps"))
						if a > mx*(1+tol) {
							fail("tensor %d unit %d: %v → %v above %v", i, u, b, a, mx)
						}
						if b < mx && !slices.Equal(ts[i].Grad[u*m:(u+1)*m], before[i].Grad[u*m:(u+1)*m]) {
							fail("tensor %d unit %d: %v < %v changed", i, u, b, mx)
						}
						if b > mx && b >= 1e-6 {
							n++
							if !close(a, mx, tol) {
								fail("tensor %d unit %d: %v → %v, want %v", i, u, b, a, mx)
							}
						}
					}
				}
				if st.Fraction != float64(n)/float64(total) {
					fail("fraction %v, want %d/%d", st.Fraction, n, total)
				}
			}
		}
		if ns.Method != "none" && clipped == 0 {
			t.Errorf("%+v: 60 random models and nothing clipped: the test tells nothing", ns)
		}
	}
}

// TestAutoClipThreshold checks, on random norms, that autoclip's threshold is
// the percentile of every norm so far, sorted afresh.
func TestAutoClipThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range []float64{1, 10, 50, 90, 99.5, 100} {
		c, _ := New[float64](Spec{Method: "autoclip", Threshold: p})
		var inputs, seen []float64
		for range 300 {
			n := math.Exp(rng.NormFloat64())
			if len(inputs) > 0 && rng.IntN(20) == 0 {
				n = inputs[rng.IntN(len(inputs))] // ties
			}
			inputs = append(inputs, n)
			st, err := c.Clip(vec(n))
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, st.NormBefore)
			sorted := slices.Sorted(slices.Values(seen))
			if want := percentile(sorted, p); st.Threshold != want {
				t.Fatalf("p%v after %d norms: threshold %v, want %v", p, len(seen), st.Threshold, want)
			}
		}
	}
}

// optionIs reports whether s's option name is v (false where its method has
// no such option).
func optionIs(s Spec, name string, v any) bool {
	x, ok := s.Option(name)
	return ok && x == v
}
