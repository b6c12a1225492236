// The layers of a decoder-only transformer (GPT-2 as nanoGPT writes it):
// token and position embeddings, layer norm, causal multi-head
// self-attention, the GELU MLP and the pre-LN residual block. Each works on
// B sequences of T positions, N = B·T rows of D = d_model values.

package nn

// #include "kernels.h"
import "C"

import (
	"math"
	"unsafe"
)

// add sets y = a + b element-wise over len(y) values.
func add(y, a, b []float32) {
	n := len(y)
	_, _ = a[:n], b[:n]
	C.nn_add(fptr(y), fptr(a), fptr(b), C.long(n))
}

// embedding is nanoGPT's wte and wpe (torch.nn.Embedding each): the input
// of b·T token ids becomes y[b, t] = wte[token] + wpe[t], (N, D).
type embedding struct {
	vocab, ctx, d int
	wte, wpe      *Param
	tok           []int32
	y             []float32
	B, T          int
	keep          bool      // backward keeps dy in dy and forms no gradients
	dy            []float32 // kept dy (N, D)
}

func newEmbedding(ps *paramSet, name string, vocab, ctx, d int) *embedding {
	return &embedding{
		vocab: vocab, ctx: ctx, d: d,
		wte: ps.add(name+".wte.weight", Embedding, vocab, d),
		wpe: ps.add(name+".wpe.weight", Embedding, ctx, d),
	}
}

// forward reads B·T token ids given as float32 values. It panics if a token
// is not an integer in [0, vocab) or T exceeds the context.
func (l *embedding) forward(x []float32, B, T int) []float32 {
	if T < 1 || T > l.ctx {
		panic("nn: sequence length outside [1, context]")
	}
	n := B * T
	l.B, l.T = B, T
	l.tok = growInt32(l.tok, n)
	for i, v := range x[:n] {
		k := int32(v)
		if float32(k) != v || k < 0 || int(k) >= l.vocab {
			panic("nn: token id is not an integer in [0, vocab)")
		}
		l.tok[i] = k
	}
	l.y = grow(l.y, n*l.d)
	C.nn_embed(fptr(l.y), (*C.int)(unsafe.Pointer(&l.tok[0])), fptr(l.wte.W), fptr(l.wpe.W), C.long(B), C.long(T), C.long(l.d))
	return l.y
}

// backward overwrites the gradients of wte and wpe from dy (N, D).
func (l *embedding) backward(dy []float32) {
	_ = dy[l.B*l.T*l.d-1]
	if l.keep {
		l.dy = grow(l.dy, l.B*l.T*l.d)
		copy(l.dy, dy)
		return
	}
	l.kernelBackward(l.wte.G, l.wpe.G, dy)
}

// kernelBackward is nn_embed_backward: it overwrites dwte and dwpe (the
// tables' sizes) from dy of the last forward's tokens.
func (l *embedding) kernelBackward(dwte, dwpe, dy []float32) {
	_, _, _ = dwte[l.vocab*l.d-1], dwpe[l.ctx*l.d-1], dy[l.B*l.T*l.d-1]
	C.nn_embed_backward(fptr(dwte), fptr(dwpe), fptr(dy), (*C.int)(unsafe.Pointer(&l.tok[0])),
		C.long(l.B), C.long(l.T), C.long(l.d), C.long(l.vocab), C.long(l.ctx))
}

// flops: 1 per add forward and 2 per value backward (both tables).
func (l *embedding) flops(B, T int) int64 { return 3 * int64(B) * int64(T) * int64(l.d) }

// layerNormEps is torch.nn.LayerNorm's default eps.
const layerNormEps = 1e-5

// layerNorm is torch.nn.LayerNorm(D) (weight and bias, eps 1e-5) on rows
// of D values.
type layerNorm struct {
	d          int
	w, b       *Param
	x          []float32 // input of the last forward, not owned
	y, dx      []float32
	mean, rstd []float32
	rows       int
	keep       bool      // backward keeps dy in dy, gradients in dw and db
	dy, dw, db []float32 // kept dy (rows, D); scratch gradients (D each)
}

func newLayerNorm(ps *paramSet, name string, d int) *layerNorm {
	l := &layerNorm{d: d, w: ps.add(name+".weight", NormWeight, d), b: ps.add(name+".bias", Bias, d)}
	l.w.norm, l.b.norm = true, true
	return l
}

// init is torch's: weight 1, bias 0.
func (l *layerNorm) init() {
	for i := range l.w.W {
		l.w.W[i], l.b.W[i] = 1, 0
	}
}

func (l *layerNorm) forward(x []float32, rows int) []float32 {
	l.rows, l.x = rows, x[:rows*l.d]
	l.y = grow(l.y, rows*l.d)
	l.mean, l.rstd = grow(l.mean, rows), grow(l.rstd, rows)
	C.nn_layernorm(fptr(l.y), fptr(l.mean), fptr(l.rstd), fptr(l.x), fptr(l.w.W), fptr(l.b.W),
		C.long(rows), C.long(l.d), C.float(layerNormEps))
	return l.y
}

// backward overwrites the gradients of weight and bias from dy and returns dx.
func (l *layerNorm) backward(dy []float32) []float32 {
	n := l.rows * l.d
	_ = dy[n-1]
	l.dx = grow(l.dx, n)
	dw, db := l.w.G, l.b.G
	if l.keep {
		l.dy = grow(l.dy, n)
		copy(l.dy, dy[:n])
		l.dw, l.db = grow(l.dw, l.d), grow(l.db, l.d)
		dw, db = l.dw, l.db
	}
	l.kernelBackward(l.dx, dw, db, dy)
	return l.dx
}

// kernelBackward is nn_layernorm_backward on the rows of the last forward.
func (l *layerNorm) kernelBackward(dx, dw, db, dy []float32) {
	n := l.rows * l.d
	_, _, _, _ = dx[n-1], dw[l.d-1], db[l.d-1], dy[n-1]
	C.nn_layernorm_backward(fptr(dx), fptr(dw), fptr(db), fptr(dy), fptr(l.x), fptr(l.w.W),
		fptr(l.mean), fptr(l.rstd), C.long(l.rows), C.long(l.d))
}

// flops: about 8 per value forward (mean, variance, normalise, scale,
// shift) and 12 backward.
func (l *layerNorm) flops(rows int) int64 { return 20 * int64(rows) * int64(l.d) }

// attention is causal multi-head self-attention as nanoGPT's
// CausalSelfAttention: c_attn = Linear(D, 3D) gives q, k, v (in that order
// along its outputs), each split into heads of D/heads values;
// y_h = softmax(q_h·k_hᵀ/√(D/heads) + causal mask)·v_h; the heads side by
// side go through c_proj = Linear(D, D).
type attention struct {
	d, heads    int
	cAttn, proj *dense
	p           []float32 // (B, heads, T, T) attention probabilities
	y           []float32 // (N, D) heads side by side, before c_proj
	dqkv, dp    []float32 // (N, 3D), (T, T)
	B, T        int
}

func newAttention(ps *paramSet, name string, d, heads int) *attention {
	return &attention{
		d: d, heads: heads,
		cAttn: newDense(ps, name+".c_attn", d, 3*d, actNone),
		proj:  newDense(ps, name+".c_proj", d, d, actNone),
	}
}

func (l *attention) forward(x []float32, B, T int) []float32 {
	return l.proj.forward(l.core(x, B, T), B*T)
}

// core is the attention before c_proj: the heads side by side, (N, D).
func (l *attention) core(x []float32, B, T int) []float32 {
	D, H := l.d, l.heads
	hd := D / H
	l.B, l.T = B, T
	qkv := l.cAttn.forward(x, B*T)
	l.p = grow(l.p, B*H*T*T)
	l.y = grow(l.y, B*T*D)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			q := qkv[b*T*3*D+h*hd:]
			k, p := q[D:], l.p[(b*H+h)*T*T:]
			sgemm(false, true, T, T, hd, scale, q, 3*D, k, 3*D, 0, p, T)
		}
	}
	C.nn_causal_softmax(fptr(l.p), C.long(B*H), C.long(T))
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			v := qkv[b*T*3*D+2*D+h*hd:]
			sgemm(false, false, T, hd, T, 1, l.p[(b*H+h)*T*T:], T, v, 3*D, 0, l.y[b*T*D+h*hd:], D)
		}
	}
	return l.y
}

// backward overwrites the parameter gradients from dout (N, D) and returns
// dx, or nil when needDx is false.
func (l *attention) backward(dout []float32, needDx bool) []float32 {
	return l.headsBackward(l.proj.backward(dout, l.B*l.T, true), needDx)
}

// headsBackward is backward from dL/d(heads side by side), (N, D).
func (l *attention) headsBackward(dy []float32, needDx bool) []float32 {
	D, H, B, T := l.d, l.heads, l.B, l.T
	hd := D / H
	qkv := l.cAttn.y
	l.dqkv = grow(l.dqkv, B*T*3*D)
	l.dp = grow(l.dp, T*T)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			off := b*T*3*D + h*hd
			q, k, v := qkv[off:], qkv[off+D:], qkv[off+2*D:]
			dq, dk, dv := l.dqkv[off:], l.dqkv[off+D:], l.dqkv[off+2*D:]
			p, dyh := l.p[(b*H+h)*T*T:], dy[b*T*D+h*hd:]
			sgemm(false, true, T, T, hd, 1, dyh, D, v, 3*D, 0, l.dp, T)
			sgemm(true, false, T, hd, T, 1, p, T, dyh, D, 0, dv, 3*D)
			C.nn_causal_softmax_backward(fptr(l.dp), fptr(p), fptr(l.dp), 1, C.long(T))
			sgemm(false, false, T, hd, T, scale, l.dp, T, k, 3*D, 0, dq, 3*D)
			sgemm(true, false, T, hd, T, scale, l.dp, T, q, 3*D, 0, dk, 3*D)
		}
	}
	return l.cAttn.backward(l.dqkv, B*T, needDx)
}

// flops: the two projections (dense.flops; c_proj on projRows rows), 2 per multiply-add of q·kᵀ and
// p·v forward and of their four gradient products, about 5 per score for
// the softmax and 4 for its gradient.
func (l *attention) flops(B, T, projRows int, needDx bool) int64 {
	n := int64(B) * int64(T)
	scores := int64(B) * int64(l.heads) * int64(T) * int64(T)
	hd := int64(l.d / l.heads)
	return l.cAttn.flops(int(n), needDx) + l.proj.flops(projRows, true) + 2*2*scores*hd + 4*2*scores*hd + 9*scores
}

// mlp is nanoGPT's MLP: c_fc = Linear(D, F), GELU, c_proj = Linear(F, D).
type mlp struct {
	fc, proj *dense
	approx   bool // GELU(approximate='tanh')
	a, dh    []float32
}

func newMLP(ps *paramSet, name string, d, ff int, approx bool) *mlp {
	return &mlp{
		fc:     newDense(ps, name+".c_fc", d, ff, actNone),
		proj:   newDense(ps, name+".c_proj", ff, d, actNone),
		approx: approx,
	}
}

func (l *mlp) approxFlag() C.int {
	if l.approx {
		return 1
	}
	return 0
}

func (l *mlp) forward(x []float32, rows int) []float32 {
	h := l.fc.forward(x, rows)
	l.a = grow(l.a, len(h))
	C.nn_gelu(fptr(l.a), fptr(h), C.long(len(h)), l.approxFlag())
	return l.proj.forward(l.a, rows)
}

func (l *mlp) backward(dy []float32, rows int, needDx bool) []float32 {
	da := l.proj.backward(dy, rows, true)
	h := l.fc.y
	l.dh = grow(l.dh, len(h))
	C.nn_gelu_backward(fptr(l.dh), fptr(da), fptr(h), C.long(len(h)), l.approxFlag())
	return l.fc.backward(l.dh, rows, needDx)
}

// flops: the two dense layers and about 10 per hidden value for GELU and
// 15 for its derivative.
func (l *mlp) flops(rows int, needDx bool) int64 {
	return l.fc.flops(rows, needDx) + l.proj.flops(rows, true) + 25*int64(rows)*int64(l.fc.out)
}

// block is nanoGPT's pre-LN Block:
// x₁ = x + attn(ln_1(x)), y = x₁ + mlp(ln_2(x₁)).
//
// With k > 0 (the last block of a trimmed transformer) it computes y only
// at the last k positions of each sequence, all that the head reads: the
// attention's keys and values still come from every position, but c_proj,
// the residual adds, ln_2 and the MLP run on B·k rows, and forward returns
// (B·k, D). The same function as the full block; the float sums over rows
// in the weight gradients differ, so results round differently.
type block struct {
	ln1, ln2 *layerNorm
	attn     *attention
	mlp      *mlp
	k        int
	x1, y    []float32
	dx1, dx  []float32
	xk, yk   []float32 // trimmed: x and the heads at the last k positions
	dyh      []float32 // trimmed: dL/d(heads), (N, D), zero off the last k
	B, T     int
}

func newBlock(ps *paramSet, name string, d, heads, ff int, approx bool) *block {
	return &block{
		ln1:  newLayerNorm(ps, name+".ln_1", d),
		attn: newAttention(ps, name+".attn", d, heads),
		ln2:  newLayerNorm(ps, name+".ln_2", d),
		mlp:  newMLP(ps, name+".mlp", d, ff, approx),
	}
}

// lastRows copies the last k of every T rows of src (B·T rows of d values)
// into dst, (B·k, d).
func lastRows(dst, src []float32, B, T, k, d int) []float32 {
	dst = grow(dst, B*k*d)
	for i := 0; i < B; i++ {
		copy(dst[i*k*d:(i+1)*k*d], src[((i+1)*T-k)*d:(i+1)*T*d])
	}
	return dst
}

// toLastRows is lastRows' adjoint: dst (B·T rows of d values) gets src's
// B·k rows as the last k of every T, zeros elsewhere.
func toLastRows(dst, src []float32, B, T, k, d int) []float32 {
	dst = grow(dst, B*T*d)
	clear(dst)
	for i := 0; i < B; i++ {
		copy(dst[((i+1)*T-k)*d:(i+1)*T*d], src[i*k*d:(i+1)*k*d])
	}
	return dst
}

func (l *block) forward(x []float32, B, T int) []float32 {
	n, d := B*T, l.ln1.d
	l.B, l.T = B, T
	x = x[:n*d]
	rows := n
	var a []float32
	if l.k > 0 {
		rows = B * l.k
		l.yk = lastRows(l.yk, l.attn.core(l.ln1.forward(x, n), B, T), B, T, l.k, d)
		a = l.attn.proj.forward(l.yk, rows)
		l.xk = lastRows(l.xk, x, B, T, l.k, d)
		x = l.xk
	} else {
		a = l.attn.forward(l.ln1.forward(x, n), B, T)
	}
	l.x1 = grow(l.x1, rows*d)
	add(l.x1, x, a)
	m := l.mlp.forward(l.ln2.forward(l.x1, rows), rows)
	l.y = grow(l.y, rows*d)
	add(l.y, l.x1, m)
	return l.y
}

// backward overwrites the parameter gradients from dy (the shape forward
// returned) and returns dx, (N, D).
func (l *block) backward(dy []float32) []float32 {
	B, T, d := l.B, l.T, l.ln1.d
	n, rows := B*T, B*T
	if l.k > 0 {
		rows = B * l.k
	}
	dy = dy[:rows*d]
	l.dx1 = grow(l.dx1, len(dy))
	add(l.dx1, dy, l.ln2.backward(l.mlp.backward(dy, rows, true)))
	l.dx = grow(l.dx, n*d)
	if l.k == 0 {
		add(l.dx, l.dx1, l.ln1.backward(l.attn.backward(l.dx1, true)))
		return l.dx
	}
	k := l.k
	l.dyh = toLastRows(l.dyh, l.attn.proj.backward(l.dx1, rows, true), B, T, k, d)
	copy(l.dx, l.ln1.backward(l.attn.headsBackward(l.dyh, true)))
	for i := 0; i < B; i++ {
		last := l.dx[((i+1)*T-k)*d : (i+1)*T*d]
		add(last, last, l.dx1[i*k*d:(i+1)*k*d])
	}
	return l.dx
}

// flops: its layers and 1 per value for each residual add and its gradient
// (trimmed: c_proj, ln_2, the MLP and the adds on B·k rows).
func (l *block) flops(B, T int) int64 {
	n, rows := B*T, B*T
	if l.k > 0 {
		rows = B * l.k
	}
	return l.ln1.flops(n) + l.attn.flops(B, T, rows, true) + l.ln2.flops(rows) + l.mlp.flops(rows, true) + 4*int64(rows)*int64(l.ln1.d)
}
