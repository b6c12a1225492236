package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestDenseGrad(t *testing.T) {
	for _, tc := range []struct {
		b, in, out int
		act        activation
	}{
		{3, 4, 5, actNone},
		{3, 4, 5, actReLU},
		{2, 6, 3, actTanh},
		{1, 1, 1, actTanh},
	} {
		t.Run(fmt.Sprintf("%dx%d->%d/%v", tc.b, tc.in, tc.out, tc.act), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var ps paramSet
			l := newDense(&ps, "0", tc.in, tc.out, tc.act)
			initFanIn(l.w, l.b, 1, rng) // U(±1): gradients well away from zero
			x := randu(rng, tc.b*tc.in, 1)
			r := randu(rng, tc.b*tc.out, 1)
			f := func() float64 { return dot(l.forward(x, tc.b), r) }
			f()
			dx := append([]float32(nil), l.backward(r, tc.b, true)...)
			checkGrad(t, "W", l.w.W, l.w.G, f)
			checkGrad(t, "b", l.b.W, l.b.G, f)
			checkGrad(t, "x", x, dx, f)
			if l.backward(r, tc.b, false) != nil {
				t.Error("backward without dx returned dx")
			}
		})
	}
}

func TestConv2dGrad(t *testing.T) {
	for _, tc := range []struct {
		b, c, h, w, o, k int
		act              activation
	}{
		{2, 1, 6, 6, 3, 3, actNone},
		{2, 2, 7, 5, 3, 3, actReLU},
		{1, 3, 5, 6, 2, 2, actTanh},
		{2, 2, 4, 4, 2, 1, actNone}, // 1×1 kernel
		{1, 1, 3, 3, 2, 3, actTanh}, // output 1×1
	} {
		t.Run(fmt.Sprintf("b%d_%dx%dx%d_o%d_k%d_%v", tc.b, tc.c, tc.h, tc.w, tc.o, tc.k, tc.act), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var ps paramSet
			l := newConv2d(&ps, "0", tc.c, tc.h, tc.w, tc.o, tc.k, tc.act)
			initFanIn(l.wt, l.b, tc.c*tc.k*tc.k, rng)
			x := randu(rng, tc.b*l.inSize(), 1)
			r := randu(rng, tc.b*l.outSize(), 1)
			f := func() float64 { return dot(l.forward(x, tc.b), r) }
			f()
			dx := append([]float32(nil), l.backward(r, tc.b, true)...)
			checkGrad(t, "W", l.wt.W, l.wt.G, f)
			checkGrad(t, "b", l.b.W, l.b.G, f)
			checkGrad(t, "x", x, dx, f)
		})
	}
}

// TestConv2dValues checks the forward pass against a direct evaluation of
// PyTorch's definition, out[o,y,x] = b[o] + Σ_{c,i,j} W[o,c,i,j]·in[c,y+i,x+j]
// (torch.nn.Conv2d docs: cross-correlation), which a gradient check alone
// would not catch a transposed kernel in.
func TestConv2dValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const b, c, h, w, o, k = 2, 2, 5, 6, 3, 3
	var ps paramSet
	l := newConv2d(&ps, "0", c, h, w, o, k, actNone)
	initFanIn(l.wt, l.b, c*k*k, rng)
	x := randu(rng, b*c*h*w, 1)
	y := l.forward(x, b)
	ho, wo := h-k+1, w-k+1
	for n := 0; n < b; n++ {
		for oc := 0; oc < o; oc++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					want := float64(l.b.W[oc])
					for ic := 0; ic < c; ic++ {
						for i := 0; i < k; i++ {
							for j := 0; j < k; j++ {
								want += float64(l.wt.W[((oc*c+ic)*k+i)*k+j]) * float64(x[((n*c+ic)*h+oy+i)*w+ox+j])
							}
						}
					}
					got := y[((n*o+oc)*ho+oy)*wo+ox]
					if math.Abs(float64(got)-want) > 1e-5 {
						t.Fatalf("out[%d,%d,%d,%d] = %v, want %v", n, oc, oy, ox, got, want)
					}
				}
			}
		}
	}
}

func TestMaxPool(t *testing.T) {
	for _, tc := range []struct{ b, c, h, w, p int }{
		{2, 2, 4, 4, 2},
		{1, 3, 7, 6, 2}, // floor: the last row is dropped
		{2, 1, 6, 7, 3},
		{1, 1, 3, 3, 1},
	} {
		t.Run(fmt.Sprintf("b%d_%dx%dx%d_p%d", tc.b, tc.c, tc.h, tc.w, tc.p), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			l := newMaxPool(tc.c, tc.h, tc.w, tc.p)
			// Distinct values 0.05 apart: no window's maximum changes within
			// the difference step, so the loss is smooth where it is checked.
			x := make([]float32, tc.b*l.inSize())
			for i, j := range rng.Perm(len(x)) {
				x[i] = float32(j)*0.05 - 1
			}
			r := randu(rng, tc.b*l.outSize(), 1)
			y := l.forward(x, tc.b)
			// Each output is the maximum of its window (torch.nn.MaxPool2d docs).
			for n := 0; n < tc.b; n++ {
				for c := 0; c < tc.c; c++ {
					for oy := 0; oy < l.ho; oy++ {
						for ox := 0; ox < l.wo; ox++ {
							m := float32(math.Inf(-1))
							for i := 0; i < tc.p; i++ {
								for j := 0; j < tc.p; j++ {
									m = max(m, x[((n*tc.c+c)*tc.h+oy*tc.p+i)*tc.w+ox*tc.p+j])
								}
							}
							if got := y[((n*tc.c+c)*l.ho+oy)*l.wo+ox]; got != m {
								t.Fatalf("out[%d,%d,%d,%d] = %v, want %v", n, c, oy, ox, got, m)
							}
						}
					}
				}
			}
			f := func() float64 { return dot(l.forward(x, tc.b), r) }
			f()
			dx := append([]float32(nil), l.backward(r, tc.b, true)...)
			checkGrad(t, "x", x, dx, f)
		})
	}
}

// TestMaxPoolTies: the first maximum in row-major window order gets the
// gradient, and a NaN is the maximum (PyTorch's CPU max_pool2d kernel:
// `if ((val > maxval) || std::isnan(val))`).
func TestMaxPoolTies(t *testing.T) {
	l := newMaxPool(1, 2, 4, 2)
	nan := float32(math.NaN())
	x := []float32{
		1, 1, 0, nan,
		1, 0, 2, 0,
	}
	y := l.forward(x, 1)
	if y[0] != 1 || y[1] == y[1] {
		t.Fatalf("forward = %v, want [1 NaN]", y)
	}
	dx := l.backward([]float32{5, 7}, 1, true)
	want := []float32{5, 0, 0, 7, 0, 0, 0, 0}
	for i := range want {
		if dx[i] != want[i] {
			t.Fatalf("dx = %v, want %v", dx, want)
		}
	}
}

// TestMaxPoolTieOrder: with many equal values (as after a ReLU), each
// window's gradient goes to its first maximum in row-major order, as
// PyTorch's scan picks it, for even and odd widths and p = 2 and 3.
func TestMaxPoolTieOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ c, h, w, p int }{{3, 6, 8, 2}, {2, 5, 7, 2}, {2, 7, 6, 3}} {
		l := newMaxPool(tc.c, tc.h, tc.w, tc.p)
		const b = 3
		x := make([]float32, b*l.inSize())
		for i := range x {
			x[i] = float32(rng.IntN(3))
		}
		l.forward(x, b)
		j := 0
		for pl := 0; pl < b*tc.c; pl++ {
			for oy := 0; oy < l.ho; oy++ {
				for ox := 0; ox < l.wo; ox++ {
					best := -1
					for i := 0; i < tc.p; i++ {
						for k := 0; k < tc.p; k++ {
							at := pl*tc.h*tc.w + (oy*tc.p+i)*tc.w + ox*tc.p + k
							if best < 0 || x[at] > x[best] {
								best = at
							}
						}
					}
					if int(l.idx[j]) != best || l.y[j] != x[best] {
						t.Fatalf("%+v: output %d: max %v at %d, want %v at %d", tc, j, l.y[j], l.idx[j], x[best], best)
					}
					j++
				}
			}
		}
	}
}

func TestRecurrentGrad(t *testing.T) {
	for _, tc := range []struct {
		cell       string
		T, b, d, h int
	}{
		{"tanh", 5, 3, 2, 4},
		{"tanh", 1, 2, 3, 2},
		{"lstm", 4, 2, 3, 3},
		{"lstm", 1, 2, 2, 2},
	} {
		t.Run(fmt.Sprintf("%s_T%d_b%d_d%d_h%d", tc.cell, tc.T, tc.b, tc.d, tc.h), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var ps paramSet
			var l recurrent
			if tc.cell == "lstm" {
				l = newLSTM(&ps, "rnn", tc.d, tc.h)
			} else {
				l = newRNNTanh(&ps, "rnn", tc.d, tc.h)
			}
			for _, p := range ps.list {
				uniform(p.W, 0.8, rng)
			}
			x := randu(rng, tc.T*tc.b*tc.d, 1)
			r := randu(rng, tc.b*tc.h, 1)
			f := func() float64 { return dot(l.forward(x, tc.T, tc.b), r) }
			f()
			l.backward(r)
			for _, p := range ps.list {
				checkGrad(t, p.Name, p.W, p.G, f)
			}
		})
	}
}

// TestTanh bounds the rational approximation's error against math.Tanh.
func TestTanh(t *testing.T) {
	var xs []float32
	for x := -12.0; x <= 12; x += 1e-3 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, 1e-5, -3e-4, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	y := append([]float32(nil), xs...)
	tanhInPlace(y)
	var worst float64
	for i, x := range xs {
		got, want := float64(y[i]), math.Tanh(float64(x))
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Errorf("tanh(NaN) = %v", got)
			}
			continue
		}
		worst = max(worst, math.Abs(got-want))
		if got > 1 || got < -1 {
			t.Fatalf("tanh(%v) = %v, outside [-1, 1]", x, got)
		}
		if math.Abs(float64(x)) < 4e-4 && y[i] != x {
			t.Errorf("tanh(%v) = %v, want %v", x, y[i], x)
		}
	}
	// Eigen documents "a couple of ulp"; float32's ulp at 1 is 6e-8.
	if worst > 3e-7 {
		t.Errorf("max |tanh − math.Tanh| = %g, want ≤ 3e-7", worst)
	}
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	// Reference: −log softmax([1,2,3])[2] = log(1 + e⁻¹ + e⁻²) = 0.4076059644…;
	// row 2: labels 0 of [0,0,0] gives log 3 = 1.0986122887…; mean over 2 rows.
	logits := []float32{1, 2, 3, 0, 0, 0}
	d := make([]float32, 6)
	loss, correct := SoftmaxCrossEntropy(d, logits, []int{2, 0}, 2, 3)
	want := (0.40760596444438 + 1.09861228866811) / 2
	if math.Abs(loss-want) > 1e-6 {
		t.Errorf("loss = %.10f, want %.10f", loss, want)
	}
	if correct != 2 { // ties go to the first maximum
		t.Errorf("correct = %d, want 2", correct)
	}
	// dL/dlogit = (softmax − onehot)/B: row 2 is (1/3 − 1, 1/3, 1/3)/2.
	if math.Abs(float64(d[3])-(1.0/3-1)/2) > 1e-6 || math.Abs(float64(d[4])-1.0/6) > 1e-6 {
		t.Errorf("gradient row 2 = %v", d[3:])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const b, k = 4, 5
	x := randu(rng, b*k, 3)
	labels := []int{0, 4, 2, 2}
	f := func() float64 { l, _ := SoftmaxCrossEntropy(make([]float32, b*k), x, labels, b, k); return l }
	dl := make([]float32, b*k)
	SoftmaxCrossEntropy(dl, x, labels, b, k)
	checkGrad(t, "logits", x, dl, f)
}

func TestMSE(t *testing.T) {
	// (1−0)² + (2−4)² over 2 values = 2.5; gradient 2(out−target)/2 = (1, −2).
	d := make([]float32, 2)
	if l := MSE(d, []float32{1, 2}, []float32{0, 4}, 1, 2); l != 2.5 || d[0] != 1 || d[1] != -2 {
		t.Errorf("MSE = %v, grad %v; want 2.5, [1 -2]", l, d)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out, target := randu(rng, 6, 1), randu(rng, 6, 1)
	f := func() float64 { return MSE(make([]float32, 6), out, target, 3, 2) }
	dl := make([]float32, 6)
	MSE(dl, out, target, 3, 2)
	checkGrad(t, "out", out, dl, f)
}

// TestGradCheckCatchesWrongIndex makes sure the tolerances above are tight
// enough: swapping two entries of a correct gradient, or moving one by 10%,
// must be reported.
func TestGradCheckCatchesWrongIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ps paramSet
	l := newConv2d(&ps, "0", 2, 6, 6, 3, 3, actTanh)
	initFanIn(l.wt, l.b, 18, rng)
	x := randu(rng, 2*l.inSize(), 1)
	r := randu(rng, 2*l.outSize(), 1)
	f := func() float64 { return dot(l.forward(x, 2), r) }
	f()
	l.backward(r, 2, false)
	g := append([]float32(nil), l.wt.G...)
	if bad, _ := gradMismatch(l.wt.W, g, f); len(bad) > 0 {
		t.Fatalf("correct gradient rejected: %v", bad)
	}
	caught := 0
	for i := 0; i+1 < len(g); i += 2 {
		w := append([]float32(nil), g...)
		w[i], w[i+1] = w[i+1], w[i]
		if bad, _ := gradMismatch(l.wt.W, w, f); len(bad) > 0 {
			caught++
		}
	}
	// Neighbours can be equal to within the tolerance by chance; nearly all must be caught.
	if pairs := len(g) / 2; caught < pairs*9/10 {
		t.Errorf("swapped neighbours caught in %d of %d cases", caught, pairs)
	}
	w := append([]float32(nil), g...)
	w[7] *= 1.1
	if bad, _ := gradMismatch(l.wt.W, w, f); len(bad) != 1 {
		t.Errorf("a 10%% error in one entry gave %d mismatches, want 1", len(bad))
	}
}
