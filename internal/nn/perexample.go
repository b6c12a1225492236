// Per-example gradient norms and reweighted sums (DP-SGD's clipping)
// without materialising a gradient per example.

package nn

import (
	"fmt"
	"slices"
)

// PerExample is a Model that gives, for a batch, each example's gradient
// norms and any reweighted sum of the examples' gradients, without forming
// the b gradients. "Row i's gradient" of a parameter is what Backward would
// write for a dout whose rows other than example i's are zero (a
// transformer's example has k = OutSteps rows); Backward's gradient is
// their sum. For the mean loss over a batch of b (over its b·k rows) that
// is 1/b of example i's own loss gradient (its mean over its k rows).
//
// A dense layer's row gradients are outer products, dW_i = dz_iᵀ·x_i, so
// ‖dW_i‖² = ‖x_i‖²·‖dz_i‖² and ‖db_i‖² = ‖dz_i‖² (Goodfellow 2015), and a
// reweighted sum Σ_i w_i·dW_i is one GEMM of the reweighted rows of dz
// with x. BackwardNorms keeps every layer's dz (book-keeping, Bu et al.
// 2023), so BackwardWeighted costs the weight GEMMs of one backward pass
// and no propagation: a per-example step costs a plain step plus O(b·(D+O))
// per layer. A convolution forms each example's weight gradient once more
// (conv2d.backwardNorms says why not ghost clipping), and so does a
// recurrent layer (recurrentCore.norms). A transformer's example owns T
// rows of each layer, so its dense gradients are sums of T outer products
// (gpt.BackwardNorms).
type PerExample interface {
	Model
	// BackwardNorms takes dL/dout of the last Forward (b×Outputs; a
	// transformer's b·k×Outputs), like Backward, and writes into sq[i·P + p]
	// the squared L2 norm of row i's gradient of Params()[p] (P =
	// len(Params())), accumulated in float64. It leaves every Param.G as it
	// was. It panics if sq is shorter than b·P.
	BackwardNorms(dout []float32, sq []float64)
	// BackwardWeighted overwrites every Param.G with Σ_i w[i·P + p]·(row i's
	// gradient of Params()[p]) for the dout of the last BackwardNorms, which
	// it must follow with no Forward in between. It panics if w is shorter
	// than b·P.
	BackwardWeighted(w []float32)
}

// PerExampleSupport reports whether architecture a (normalized) gives
// per-example gradients (is a PerExample): every type does, an mlp, a cnn,
// an rnn (tanh or lstm) and a transformer (tied or not, trimmed or not).
func (a ArchSpec) PerExampleSupport() error {
	if slices.Contains(ArchTypes, a.Type) {
		return nil
	}
	return fmt.Errorf("type: %s has no per-example gradients; DP-SGD runs on mlp, cnn, rnn and transformer", a.Type)
}

// exampleLayer is a layer of a sequential model with per-example support.
type exampleLayer interface {
	layer
	// backwardNorms is backward without the parameter gradients: it keeps
	// what backwardWeighted needs, adds the squared norms of the rows'
	// gradients of its parameters (numbered from p0) to sq (rows of P) and
	// returns dx (nil when needDx is false).
	backwardNorms(dy []float32, b int, needDx bool, sq []float64, p0, P int) []float32
	// backwardWeighted writes its parameters' gradients as the sums of the
	// rows' gradients weighted by w (rows of P, columns from p0).
	backwardWeighted(w []float32, b, p0, P int)
	nparams() int
}

var (
	_ PerExample   = (*sequential)(nil)
	_ exampleLayer = (*dense)(nil)
)

func (m *sequential) BackwardNorms(dout []float32, sq []float64) {
	P := len(m.ps.list)
	sq = sq[:m.b*P]
	clear(sq)
	d := dout
	p0 := P
	for i := len(m.layers) - 1; i >= 0; i-- {
		l, ok := m.layers[i].(exampleLayer)
		if !ok {
			panic(fmt.Sprintf("nn: layer %T has no per-example gradients", m.layers[i]))
		}
		p0 -= l.nparams()
		d = l.backwardNorms(d, m.b, i > 0, sq, p0, P)
	}
}

func (m *sequential) BackwardWeighted(w []float32) {
	P := len(m.ps.list)
	w = w[:m.b*P]
	p0 := 0
	for _, l := range m.layers {
		el := l.(exampleLayer)
		el.backwardWeighted(w, m.b, p0, P)
		p0 += el.nparams()
	}
}

func (l *dense) nparams() int { return 2 }

// backwardNorms keeps dz (B, O) in l.dz, a copy even without activation:
// dy belongs to the caller, and backwardWeighted reweights it.
func (l *dense) backwardNorms(dy []float32, b int, needDx bool, sq []float64, p0, P int) []float32 {
	dz := l.keptDz(dy, b)
	var z2 []float64
	l.x2, z2 = outerNorms(l.x2, sq, p0, P, l.x, dz, b, l.in, l.out)
	for i := 0; i < b; i++ {
		sq[i*P+p0+1] += z2[i]
	}
	return l.dxOf(dz, b, needDx)
}

// backwardWeighted: dW = (diag(w_W)·dz)ᵀ·x, db = Σ_i w_b,i·dz_i.
func (l *dense) backwardWeighted(w []float32, b, p0, P int) { l.weightedRows(w, b, 1, p0, P) }

// weightedRows writes W's and b's gradients from the kept dz and x, example
// i owning r rows of each, its rows of dz scaled by its weights: backward's
// sgemm and colSum on the scaled copy (by 1: backward's gradients bit for
// bit).
func (l *dense) weightedRows(w []float32, b, r, p0, P int) {
	n := b * r * l.out
	l.dzw = grow(l.dzw, n)
	scaleRows(l.dzw, l.dz[:n], w, r*l.out, p0, P)
	sgemm(true, false, l.out, l.in, b*r, 1, l.dzw, l.out, l.x, l.in, 0, l.w.G, l.in)
	if !sameWeights(w, b, p0, p0+1, P) {
		scaleRows(l.dzw, l.dz[:n], w, r*l.out, p0+1, P)
	}
	colSum(l.b.G, l.dzw)
}

// scaleRows sets dst = src with example i's n values, i·n … (i+1)·n−1,
// scaled by w[i·P + p].
func scaleRows(dst, src, w []float32, n, p, P int) {
	for i := 0; i < len(dst)/n; i++ {
		scaleInto(dst[i*n:(i+1)*n], src[i*n:(i+1)*n], w[i*P+p])
	}
}

// sameWeights reports whether parameters p and q have the same weight in
// each of the b rows of w.
func sameWeights(w []float32, b, p, q, P int) bool {
	for i := 0; i < b; i++ {
		if w[i*P+p] != w[i*P+q] {
			return false
		}
	}
	return true
}

// outerNorms adds to sq[i·P + p] the squared norm of the outer product
// dz_iᵀ·x_i of each of the b rows of x (b, in) and dz (b, out), as
// ‖x_i‖²·‖dz_i‖² (Goodfellow 2015), with buf (grown to 2b) as scratch; it
// returns buf and the ‖dz_i‖², a bias's squared norms.
func outerNorms(buf, sq []float64, p, P int, x, dz []float32, b, in, out int) ([]float64, []float64) {
	buf = growF64(buf, 2*b)
	x2, z2 := buf[:b], buf[b:]
	rowSumSq(x2, x, in)
	rowSumSq(z2, dz, out)
	for i := 0; i < b; i++ {
		sq[i*P+p] += x2[i] * z2[i]
	}
	return buf, z2
}

func growF64(buf []float64, n int) []float64 {
	if cap(buf) < n {
		return make([]float64, n)
	}
	return buf[:n]
}

// scaleInto sets dst = a·src.
func scaleInto(dst, src []float32, a float32) {
	src = src[:len(dst)]
	for j, v := range src {
		dst[j] = a * v
	}
}

var (
	_ exampleLayer = (*conv2d)(nil)
	_ exampleLayer = (*maxPool)(nil)
)

func (l *conv2d) nparams() int { return 2 }

// maxKeptGrads is the most float32s a convolution keeps of its examples'
// weight gradients between backwardNorms and backwardWeighted (64 MiB);
// beyond it backwardWeighted forms them again.
const maxKeptGrads = 16 << 20

// backwardNorms of a convolution forms each example's weight gradient,
// dW_i = dz_i·cols_iᵀ (O × C·k·k), one at a time, and takes its squared
// norm; db_i is the row sums of dz_i. Ghost clipping's ‖dW_i‖² =
// ⟨cols_iᵀcols_i, dz_iᵀdz_i⟩ (Li et al. 2021) would cost T²·(C·k·k + O)
// per example for T = Ho·Wo output pixels against T·O·C·k·k here, more at
// every layer of the cnn (T = 576 and 64 on MNIST with C·k·k = 25 and 200,
// O = 8 and 16). It keeps dz, and the b gradients dW_i in l.dws (b·O·C·k·k
// floats, 3.3 MB for the cnn's second layer at batch 256) unless that
// passes maxKeptGrads: backwardWeighted then sums them instead of forming
// them again with im2col and a GEMM per example, the cost that made a
// per-example cnn step 1.3–1.5 plain steps.
func (l *conv2d) backwardNorms(dy []float32, b int, needDx bool, sq []float64, p0, P int) []float32 {
	ckk, hw := l.c*l.k*l.k, l.ho*l.wo
	in, out := l.inSize(), l.outSize()
	l.dz = grow(l.dz, b*out)
	if l.act != actNone && !l.actDone {
		actBackward(l.dz, dy[:b*out], l.y, l.act)
	} else {
		copy(l.dz, dy[:b*out])
	}
	keep := b*l.o*ckk <= maxKeptGrads
	if keep {
		l.dws = grow(l.dws, b*l.o*ckk)
	} else {
		l.dws = nil
	}
	l.dwi = grow(l.dwi, l.o*ckk)
	l.dbi = grow(l.dbi, l.o)
	l.sq1 = growF64(l.sq1, 1)
	s := l.sq1
	for i := 0; i < b; i++ {
		dzi := l.dz[i*out : (i+1)*out]
		dwi := l.dwi
		if keep {
			dwi = l.dws[i*l.o*ckk : (i+1)*l.o*ckk]
		}
		l.im2col(l.cols, l.x[i*in:(i+1)*in])
		sgemm(false, true, l.o, ckk, hw, 1, dzi, hw, l.cols, hw, 0, dwi, ckk)
		rowSumSq(s, dwi, len(dwi))
		sq[i*P+p0] += s[0]
		clear(l.dbi)
		rowSumAdd(l.dbi, dzi, hw)
		rowSumSq(s, l.dbi, len(l.dbi))
		sq[i*P+p0+1] += s[0]
	}
	if !needDx {
		return nil
	}
	return l.backwardDx(l.dz, b)
}

// backwardWeighted: dW = Σ_i w_W,i·dz_i·cols_iᵀ, db = Σ_i w_b,i·rowsum(dz_i),
// in backward's order. The kept dW_i are summed, unless every weight is 1
// (nothing clipped): then backward's own GEMMs run again, since OpenBLAS
// adding a product into C (β = 1) rounds differently from adding the
// product formed alone, and weights 1 must give backward's gradients bit
// for bit (a DP step that clips nothing and adds no noise is the plain
// step).
func (l *conv2d) backwardWeighted(w []float32, b, p0, P int) {
	ckk, hw := l.c*l.k*l.k, l.ho*l.wo
	in, out := l.inSize(), l.outSize()
	clear(l.b.G)
	l.dbi = grow(l.dbi, l.o)
	kept := false
	for i := 0; i < b && l.dws != nil && !kept; i++ {
		kept = w[i*P+p0] != 1
	}
	for i := 0; i < b; i++ {
		dzi := l.dz[i*out : (i+1)*out]
		if kept {
			axpyInto(l.wt.G, l.dws[i*l.o*ckk:(i+1)*l.o*ckk], w[i*P+p0], i == 0)
		} else {
			beta := float32(1)
			if i == 0 {
				beta = 0
			}
			l.im2col(l.cols, l.x[i*in:(i+1)*in])
			sgemm(false, true, l.o, ckk, hw, w[i*P+p0], dzi, hw, l.cols, hw, beta, l.wt.G, ckk)
		}
		if wb := w[i*P+p0+1]; wb == 1 {
			rowSumAdd(l.b.G, dzi, hw)
		} else {
			clear(l.dbi)
			rowSumAdd(l.dbi, dzi, hw)
			for o, v := range l.dbi {
				l.b.G[o] += wb * v
			}
		}
	}
}

// axpyInto sets dst = a·x when first, else dst += a·x, each product
// rounded to float32 before the sum.
func axpyInto(dst, x []float32, a float32, first bool) {
	x = x[:len(dst)]
	if first {
		for j, v := range x {
			dst[j] = a * v
		}
		return
	}
	for j, v := range x {
		dst[j] += a * v
	}
}

func (l *maxPool) nparams() int { return 0 }

func (l *maxPool) backwardNorms(dy []float32, b int, needDx bool, _ []float64, _, _ int) []float32 {
	return l.backward(dy, b, needDx)
}

func (l *maxPool) backwardWeighted([]float32, int, int, int) {}

var _ PerExample = (*recurrentModel)(nil)

// BackwardNorms of the rnn: the head fc as any dense layer, then the
// recurrent layer's backpropagation through time without its parameter
// gradients, keeping da for BackwardWeighted.
func (m *recurrentModel) BackwardNorms(dout []float32, sq []float64) {
	P := len(m.ps.list)
	sq = sq[:m.b*P]
	clear(sq)
	dh := m.fc.backwardNorms(dout, m.b, true, sq, P-2, P)
	m.core.propagate(dh) // keeps da
	m.core.core().norms(sq, 0, P)
}

func (m *recurrentModel) BackwardWeighted(w []float32) {
	P := len(m.ps.list)
	w = w[:m.b*P]
	m.core.core().weighted(w, 0, P)
	m.fc.backwardWeighted(w, m.b, P-2, P)
}

// norms adds the squared norms of each example's gradients of W_ih, W_hh,
// b_ih and b_hh (parameters p0 … p0+3) to sq. An example's gradients are
// sums over its steps, dW_ih,i = Σ_t da_{t,i}ᵀ·x_{t,i}, dW_hh,i =
// Σ_{t≥1} da_{t,i}ᵀ·h_{t−1,i} and db_i = Σ_t da_{t,i}, not outer products,
// so each example's weight gradients are formed, one GEMM over its T rows
// (strided by B in the time-major layout) into a scratch matrix: T·G·(D+H)
// multiply-adds an example, what the batch's weight gradients cost per
// example. Ghost clipping's Gram matrices (Li et al. 2021) would cost
// T²·(G+D) and T²·(G+H), more once T exceeds about D and H (MNIST rows: T =
// D = 28 with H = 64 to 128 and G = H or 4H).
func (l *recurrentCore) norms(sq []float64, p0, P int) {
	D, H, G, b, T := l.d, l.h, l.g, l.b, l.T
	l.dw = grow(l.dw, G*max(D, H))
	l.sq1 = growF64(l.sq1, 1)
	s := l.sq1
	for i := 0; i < b; i++ {
		sgemm(true, false, G, D, T, 1, l.da[i*G:], b*G, l.x[i*D:], b*D, 0, l.dw, D)
		rowSumSq(s, l.dw[:G*D], G*D)
		sq[i*P+p0] += s[0]
		if T > 1 {
			sgemm(true, false, G, H, T-1, 1, l.da[(b+i)*G:], b*G, l.hs[i*H:], b*H, 0, l.dw, H)
			rowSumSq(s, l.dw[:G*H], G*H)
			sq[i*P+p0+1] += s[0]
		}
		db := l.dw[:G]
		copy(db, l.da[i*G:(i+1)*G])
		for t := 1; t < T; t++ {
			add(db, db, l.da[(t*b+i)*G:(t*b+i+1)*G])
		}
		rowSumSq(s, db, G)
		sq[i*P+p0+2] += s[0]
		sq[i*P+p0+3] += s[0]
	}
}

// weighted sets the parameter gradients to the examples' gradients summed
// with weights w: paramGrads of da with example i's rows scaled by its
// weight for each parameter (by 1: paramGrads of da, bit for bit).
func (l *recurrentCore) weighted(w []float32, p0, P int) {
	G, b, T := l.g, l.b, l.T
	bg := b * G
	l.daw = grow(l.daw, T*bg)
	scaled := -1 // the parameter whose weights l.daw holds
	scale := func(p int) {
		if scaled >= 0 && sameWeights(w, b, p0+p, p0+scaled, P) {
			return
		}
		for t := 0; t < T; t++ { // time-major: each step's b rows
			scaleRows(l.daw[t*bg:(t+1)*bg], l.da[t*bg:(t+1)*bg], w, G, p0+p, P)
		}
		scaled = p
	}
	scale(0)
	l.wihGrad(l.daw)
	scale(1)
	l.whhGrad(l.daw)
	scale(2)
	colSum(l.bih.G, l.daw)
	if sameWeights(w, b, p0+2, p0+3, P) {
		copy(l.bhh.G, l.bih.G) // the same sum, as paramGrads has it
		return
	}
	scale(3)
	colSum(l.bhh.G, l.daw)
}
