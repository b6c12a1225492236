// Recurrent layers unrolled over time with full backpropagation through
// time: the tanh RNN and the LSTM, laid out as torch.nn.RNN and
// torch.nn.LSTM (one layer, h₀ = c₀ = 0).

package nn

// #include "kernels.h"
import "C"

import (
	"math"
	"math/rand/v2"
)

// recurrent is a recurrent layer over a time-major input x (T, B, D) that
// returns its last hidden state (B, H).
type recurrent interface {
	forward(x []float32, T, b int) []float32
	// backward takes dL/dh_T and overwrites every parameter gradient.
	backward(dh []float32)
	// propagate is backward without the parameter gradients: it returns
	// da, the gradients of every step's pre-activations, (T·B, G), which
	// core().paramGrads turns into them.
	propagate(dh []float32) []float32
	core() *recurrentCore
	flops(b, T int) int64
}

// recurrentCore is what the tanh RNN and the LSTM share: PyTorch's four
// parameters, with G = gates·H rows, and the last forward's input and
// hidden states.
type recurrentCore struct {
	d, h, g            int // g = gates·h
	wih, whh, bih, bhh *Param
	x                  []float32 // input of the last forward (T·B, D), not owned
	hs                 []float32 // h_1 … h_T, (T·B, H)
	da                 []float32 // backward's pre-activation gradients (T·B, G)
	daw, dw            []float32 // per-example: da reweighted, scratch
	sq1                []float64 // per-example: one squared norm
	T, b               int
}

func newRecurrentCore(ps *paramSet, name string, d, h, gates int) recurrentCore {
	g := gates * h
	return recurrentCore{
		d: d, h: h, g: g,
		wih: ps.add(name+".weight_ih_l0", RecurrentWeight, g, d),
		whh: ps.add(name+".weight_hh_l0", RecurrentWeight, g, h),
		bih: ps.add(name+".bias_ih_l0", Bias, g),
		bhh: ps.add(name+".bias_hh_l0", Bias, g),
	}
}

// paramGrads sets the parameter gradients from da, the gradients of the
// pre-activations of every step, (T·B, G): the recurrent weight sees
// h_1 … h_{T−1} (h_0 is zero), both biases the same column sums.
func (l *recurrentCore) paramGrads(da []float32) {
	l.whhGrad(da)
	l.wihGrad(da)
	colSum(l.bih.G, da[:l.T*l.b*l.g])
	copy(l.bhh.G, l.bih.G)
}

// wihGrad sets W_ih's gradient from da (T·B, G): Σ over every step and row
// of daᵀ·x.
func (l *recurrentCore) wihGrad(da []float32) {
	sgemm(true, false, l.g, l.d, l.T*l.b, 1, da, l.g, l.x, l.d, 0, l.wih.G, l.d)
}

// whhGrad sets W_hh's gradient from da (T·B, G): steps 2 … T against
// h_1 … h_{T−1}; zero for one step (h_0 is zero).
func (l *recurrentCore) whhGrad(da []float32) {
	G, b, T := l.g, l.b, l.T
	if T > 1 {
		sgemm(true, false, G, l.h, (T-1)*b, 1, da[b*G:], G, l.hs, l.h, 0, l.whh.G, l.h)
	} else {
		clear(l.whh.G)
	}
}

// rnnTanh is torch.nn.RNN(D, H, nonlinearity='tanh'):
// h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh).
//
// The input projection of every step is one GEMM (T·B, D)×(D, H) before the
// recurrence, and the weight gradients are one GEMM each over all steps
// after it, so only the B×H×H products run step by step.
type rnnTanh struct {
	recurrentCore
	dh []float32 // (B, H)
}

func newRNNTanh(ps *paramSet, name string, d, h int) *rnnTanh {
	return &rnnTanh{recurrentCore: newRecurrentCore(ps, name, d, h, 1)}
}

// initRecurrent is PyTorch's RNNBase.reset_parameters: every weight and
// bias in U(±1/√H), in the order weight_ih, weight_hh, bias_ih, bias_hh.
func initRecurrent(h int, rng *rand.Rand, ps ...*Param) {
	bound := 1 / math.Sqrt(float64(h))
	for _, p := range ps {
		uniform(p.W, bound, rng)
	}
}

// fillBias sets every row of a (rows of len(b1) values) to b1 + b2.
func fillBias(a, b1, b2 []float32) {
	n := len(b1)
	row := a[:n]
	for j := range row {
		row[j] = b1[j] + b2[j]
	}
	for off := n; off+n <= len(a); off += n {
		copy(a[off:off+n], row)
	}
}

func (l *rnnTanh) forward(x []float32, T, b int) []float32 {
	if T < 1 {
		panic("nn: recurrent forward needs at least one step")
	}
	H, bh := l.h, b*l.h
	l.x, l.T, l.b = x[:T*b*l.d], T, b
	l.hs = grow(l.hs, T*bh)
	fillBias(l.hs, l.bih.W, l.bhh.W)
	sgemm(false, true, T*b, H, l.d, 1, l.x, l.d, l.wih.W, l.d, 1, l.hs, H)
	for t := 0; t < T; t++ {
		ht := l.hs[t*bh : (t+1)*bh]
		if t > 0 {
			sgemm(false, true, b, H, H, 1, l.hs[(t-1)*bh:t*bh], H, l.whh.W, H, 1, ht, H)
		}
		tanhInPlace(ht)
	}
	return l.hs[(T-1)*bh : T*bh]
}

func (l *recurrentCore) core() *recurrentCore { return l }

func (l *rnnTanh) backward(dhT []float32) { l.paramGrads(l.propagate(dhT)) }

func (l *rnnTanh) propagate(dhT []float32) []float32 {
	T, b, H := l.T, l.b, l.h
	bh := b * H
	l.da = grow(l.da, T*bh)
	l.dh = grow(l.dh, bh)
	dh := l.dh
	copy(dh, dhT[:bh])
	for t := T - 1; t >= 0; t-- {
		da := l.da[t*bh : (t+1)*bh]
		actBackward(da, dh, l.hs[t*bh:(t+1)*bh], actTanh)
		if t > 0 {
			sgemm(false, false, b, H, H, 1, da, H, l.whh.W, H, 0, dh, H)
		}
	}
	return l.da
}

// flops: 2 per multiply-add of the input projection, the recurrence and
// their gradients; 1 per bias add, tanh and tanh' element.
func (l *rnnTanh) flops(b, T int) int64 {
	tb, bhh := int64(T)*int64(b), int64(b)*int64(l.h)*int64(l.h)
	in := tb * int64(l.d) * int64(l.h)
	rec := int64(T-1) * bhh
	n := tb * int64(l.h)
	fwd := 2*in + 2*rec + 2*n             // projection, recurrence, bias, tanh
	bwd := 2*n + 2*rec + 2*rec + 2*in + n // tanh', dh, dW_hh, dW_ih, db
	return fwd + bwd
}

// lstm is torch.nn.LSTM(D, H): gates (i, f, g, o) in that order along the
// 4H axis of W_ih (4H, D), W_hh (4H, H), b_ih and b_hh (4H);
// c_t = f⊙c_{t−1} + i⊙g, h_t = o⊙tanh(c_t), with i, f, o sigmoids and g tanh.
type lstm struct {
	recurrentCore
	gates  []float32 // activated gates (T·B, 4H)
	cs, tc []float32 // c_t, tanh(c_t): (T·B, H)
	dh, dc []float32 // (B, H), (B, H)
}

func newLSTM(ps *paramSet, name string, d, h int) *lstm {
	return &lstm{recurrentCore: newRecurrentCore(ps, name, d, h, 4)}
}

func (l *lstm) forward(x []float32, T, b int) []float32 {
	if T < 1 {
		panic("nn: recurrent forward needs at least one step")
	}
	H, G := l.h, 4*l.h
	bh, bg := b*H, b*G
	l.x, l.T, l.b = x[:T*b*l.d], T, b
	l.gates = grow(l.gates, T*bg)
	l.cs, l.tc, l.hs = grow(l.cs, T*bh), grow(l.tc, T*bh), grow(l.hs, T*bh)
	fillBias(l.gates, l.bih.W, l.bhh.W)
	sgemm(false, true, T*b, G, l.d, 1, l.x, l.d, l.wih.W, l.d, 1, l.gates, G)
	for t := 0; t < T; t++ {
		gt := l.gates[t*bg : (t+1)*bg]
		if t > 0 {
			sgemm(false, true, b, G, H, 1, l.hs[(t-1)*bh:t*bh], H, l.whh.W, H, 1, gt, G)
		}
		var cprev *C.float
		if t > 0 {
			cprev = fptr(l.cs[(t-1)*bh : t*bh])
		}
		C.nn_lstm_cell(fptr(gt), cprev, fptr(l.cs[t*bh:(t+1)*bh]), fptr(l.tc[t*bh:(t+1)*bh]),
			fptr(l.hs[t*bh:(t+1)*bh]), C.long(b), C.long(H))
	}
	return l.hs[(T-1)*bh : T*bh]
}

func (l *lstm) backward(dhT []float32) { l.paramGrads(l.propagate(dhT)) }

func (l *lstm) propagate(dhT []float32) []float32 {
	T, b, H, G := l.T, l.b, l.h, 4*l.h
	bh, bg := b*H, b*G
	l.da = grow(l.da, T*bg)
	l.dh, l.dc = grow(l.dh, bh), grow(l.dc, bh)
	dh, dc := l.dh, l.dc
	copy(dh, dhT[:bh])
	clear(dc)
	for t := T - 1; t >= 0; t-- {
		var cprev *C.float
		if t > 0 {
			cprev = fptr(l.cs[(t-1)*bh : t*bh])
		}
		C.nn_lstm_cell_backward(fptr(l.da[t*bg:(t+1)*bg]), fptr(l.gates[t*bg:(t+1)*bg]), cprev,
			fptr(l.tc[t*bh:(t+1)*bh]), fptr(dh), fptr(dc), C.long(b), C.long(H))
		if t > 0 {
			sgemm(false, false, b, H, G, 1, l.da[t*bg:(t+1)*bg], G, l.whh.W, H, 0, dh, H)
		}
	}
	return l.da
}

// flops: as rnnTanh with four gates, plus about 10 element operations per
// hidden unit and step forward (gates, cell, output) and 20 backward.
func (l *lstm) flops(b, T int) int64 {
	tb, G := int64(T)*int64(b), int64(4*l.h)
	in := tb * int64(l.d) * G
	rec := int64(T-1) * int64(b) * G * int64(l.h)
	n := tb * int64(l.h)
	fwd := 2*in + 2*rec + tb*G + 10*n
	bwd := 20*n + 2*rec + 2*rec + 2*in + tb*G
	return fwd + bwd
}
