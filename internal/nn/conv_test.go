package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// convShapes are (C, H, W, k) cases for the data-movement kernels: the
// cnn's two layers (which have their own unrolled im2col), rows shorter and
// longer than a vector, non-square images, k = 1.
var convShapes = [][4]int{
	{1, 28, 28, 5}, {8, 12, 12, 5}, {2, 7, 8, 2}, {3, 6, 5, 3}, {1, 16, 16, 1},
	{2, 16, 17, 3}, {1, 20, 33, 4}, {4, 9, 16, 5}, {1, 5, 5, 5},
}

// colEntries calls f for every column entry of l: its index in the
// columns and the index in x of the pixel it is copied from, rows (c, ki,
// kj) in order.
func colEntries(l *conv2d, f func(col, px int)) {
	for c := 0; c < l.c; c++ {
		for ki := 0; ki < l.k; ki++ {
			for kj := 0; kj < l.k; kj++ {
				r := (c*l.k+ki)*l.k + kj
				for oy := 0; oy < l.ho; oy++ {
					for ox := 0; ox < l.wo; ox++ {
						f(r*l.ho*l.wo+oy*l.wo+ox, (c*l.h+oy+ki)*l.w+ox+kj)
					}
				}
			}
		}
	}
}

// TestIm2col checks nn_im2col's columns value by value against the
// definition, cols[(c, ki, kj), (oy, ox)] = x[c, oy+ki, ox+kj].
func TestIm2col(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range convShapes {
		l := &conv2d{c: s[0], h: s[1], w: s[2], k: s[3], ho: s[1] - s[3] + 1, wo: s[2] - s[3] + 1}
		x := randu(rng, l.inSize(), 1)
		cols := make([]float32, l.c*l.k*l.k*l.ho*l.wo+1)
		cols[len(cols)-1] = 42 // past the end: must stay
		l.im2col(cols, x)
		colEntries(l, func(col, px int) {
			if math.Float32bits(cols[col]) != math.Float32bits(x[px]) {
				t.Fatalf("%v: cols[%d] = %v, want x[%d] = %v", s, col, cols[col], px, x[px])
			}
		})
		if cols[len(cols)-1] != 42 {
			t.Errorf("%v: im2col wrote past its columns", s)
		}
	}
}

// TestCol2imPaths checks that every path of nn_col2im (AVX-512 and AVX2
// where this CPU has them, scalar) gives, bit for bit, the sums in the
// order of the plain adjoint loop below: dx from +0, entries added row
// (c, ki, kj) after row. The columns hold −0, values that cancel and
// values of very different sizes, so that another order or a stray −0
// would show.
func TestCol2imPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range convShapes {
		l := &conv2d{c: s[0], h: s[1], w: s[2], k: s[3], ho: s[1] - s[3] + 1, wo: s[2] - s[3] + 1}
		n := l.c * l.k * l.k * l.ho * l.wo
		dcols := make([]float32, n)
		for i := range dcols {
			switch rng.IntN(5) {
			case 0:
				dcols[i] = float32(math.Copysign(0, -1))
			case 1:
				dcols[i] = float32(rng.NormFloat64() * 1e6)
			case 2:
				dcols[i] = float32(rng.NormFloat64() * 1e-6)
			default:
				dcols[i] = float32(rng.NormFloat64())
			}
		}
		for i := 0; i+1 < n; i += 7 {
			dcols[i+1] = -dcols[i] // cancellations to exactly 0
		}
		want := make([]float32, l.inSize())
		colEntries(l, func(col, px int) { want[px] += dcols[col] })
		for path := 0; path <= 3; path++ {
			dx := make([]float32, l.inSize()+1)
			for i := range dx {
				dx[i] = 7 // overwritten, but the one past the end
			}
			l.col2imPath(dx, dcols, path)
			for i, v := range want {
				if math.Float32bits(dx[i]) != math.Float32bits(v) {
					t.Fatalf("%v path %d: dx[%d] = %v (%#x), want %v (%#x)", s, path, i, dx[i], math.Float32bits(dx[i]), v, math.Float32bits(v))
				}
			}
			if dx[len(dx)-1] != 7 {
				t.Errorf("%v path %d: col2im wrote past dx", s, path)
			}
		}
	}
}

// TestReluPoolFusion checks that the cnn's fused backward (the pool applies
// ReLU's backward as it routes the gradient) gives the gradients of the
// unfused layers bit for bit, on a batch where many of the ReLUs' inputs are
// negative or exactly 0 at a window's maximum.
func TestReluPoolFusion(t *testing.T) {
	const batch = 9
	grads := func(fused bool) [][]float32 {
		rng := rand.New(rand.NewPCG(11, 12))
		m, err := Build(cnn, mnist, rng)
		if err != nil {
			t.Fatal(err)
		}
		seq := m.(*sequential)
		n := 0
		for i, l := range seq.layers {
			if p, ok := l.(*maxPool); ok {
				if !p.reluIn || !seq.layers[i-1].(*conv2d).actDone {
					t.Fatal("buildCNN did not fuse a ReLU conv's backward into its pool")
				}
				p.reluIn, seq.layers[i-1].(*conv2d).actDone = fused, fused
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d pools, want 2", n)
		}
		x := randu(rng, batch*784, 1)
		for i := 0; i < len(x); i += 3 {
			x[i] = 0 // whole windows of 0 after the first conv's ReLU
		}
		labels := make([]int, batch)
		for i := range labels {
			labels[i] = rng.IntN(10)
		}
		d := make([]float32, batch*10)
		SoftmaxCrossEntropy(d, m.Forward(x, batch, 0), labels, batch, 10)
		m.Backward(d)
		var g [][]float32
		for _, p := range m.Params() {
			g = append(g, append([]float32(nil), p.G...))
		}
		return g
	}
	want, got := grads(false), grads(true)
	for p := range want {
		for i := range want[p] {
			if math.Float32bits(got[p][i]) != math.Float32bits(want[p][i]) {
				t.Fatalf("param %d [%d]: fused %v, unfused %v", p, i, got[p][i], want[p][i])
			}
		}
	}
}
