package nn

// #include "kernels.h"
import "C"

// conv2d is a 2-D convolution, stride 1, no padding, NCHW, with an optional
// activation fused in — torch.nn.Conv2d(C, O, k) followed by the activation.
// x (B, C, H, W), W (O, C, k, k), y (B, O, H−k+1, W−k+1).
//
// It runs as im2col + GEMM one example at a time: an example's columns
// (C·k·k, Ho·Wo) stay in cache between the copy and the multiply, which
// measured faster than one GEMM over the whole batch (3.0 against 3.2 µs per
// example for the cnn's first layer, 1.9 against 3.7 for its second). The
// backward pass copies them again rather than keeping a batch's worth (7 MB
// for the cnn at batch 64), which would not stay in cache: keeping them
// measured slower (issue 18: a cnn step's CPU time 2.72 against 1.96 ms,
// best of 6, on a loaded 2-core EPYC), and a copy costs 0.7 µs an example a
// layer (BenchmarkConvKernels).
type conv2d struct {
	c, h, w, o, k int
	ho, wo        int
	act           activation
	actDone       bool // the layer after applies act's backward (a maxPool's reluIn)
	wt, b         *Param
	x             []float32 // input of the last forward, not owned
	cols, y       []float32 // one example's columns; the output
	dz, dcols, dx []float32
	dwi, dbi      []float32 // one example's gradients (backwardNorms)
	sq1           []float64 // one squared norm (backwardNorms; an array would escape to cgo)
	// dws holds every example's weight gradient from backwardNorms, b rows
	// of O·C·k·k, for backwardWeighted; nil when that would pass
	// maxKeptGrads.
	dws []float32
}

func newConv2d(ps *paramSet, name string, c, h, w, o, k int, act activation) *conv2d {
	return &conv2d{
		c: c, h: h, w: w, o: o, k: k, ho: h - k + 1, wo: w - k + 1, act: act,
		wt: ps.add(name+".weight", ConvWeight, o, c, k, k),
		b:  ps.add(name+".bias", Bias, o),
	}
}

func (l *conv2d) inSize() int  { return l.c * l.h * l.w }
func (l *conv2d) outSize() int { return l.o * l.ho * l.wo }

func (l *conv2d) forward(x []float32, b int) []float32 {
	ckk, hw := l.c*l.k*l.k, l.ho*l.wo
	in, out := l.inSize(), l.outSize()
	l.x = x[:b*in]
	l.cols = grow(l.cols, ckk*hw)
	l.y = grow(l.y, b*out)
	C.nn_conv_forward(fptr(l.y), fptr(l.cols), fptr(l.x), fptr(l.wt.W), fptr(l.b.W), C.long(b),
		C.long(l.c), C.long(l.h), C.long(l.w), C.long(l.o), C.long(l.k), C.int(l.act))
	return l.y
}

// backward overwrites the gradients of W and b from dy (B, O, Ho, Wo) and
// returns dx (B, C, H, W), or nil when needDx is false. With actDone, dy is
// already the gradient before the activation.
func (l *conv2d) backward(dy []float32, b int, needDx bool) []float32 {
	out := l.outSize()
	dz := dy[:b*out]
	if l.act != actNone && !l.actDone {
		l.dz = grow(l.dz, b*out)
		actBackward(l.dz, dz, l.y, l.act)
		dz = l.dz
	}
	_ = l.x[b*l.inSize()-1]
	C.nn_conv_backward_w(fptr(l.wt.G), fptr(l.b.G), fptr(l.cols), fptr(l.x), fptr(dz), C.long(b),
		C.long(l.c), C.long(l.h), C.long(l.w), C.long(l.o), C.long(l.k))
	if !needDx {
		return nil
	}
	return l.backwardDx(dz, b)
}

// backwardDx returns dx (B, C, H, W) from dz (B, O, Ho, Wo).
func (l *conv2d) backwardDx(dz []float32, b int) []float32 {
	l.dcols = grow(l.dcols, l.c*l.k*l.k*l.ho*l.wo)
	l.dx = grow(l.dx, b*l.inSize())
	_ = dz[b*l.outSize()-1]
	C.nn_conv_backward_dx(fptr(l.dx), fptr(l.dcols), fptr(l.wt.W), fptr(dz), C.long(b),
		C.long(l.c), C.long(l.h), C.long(l.w), C.long(l.o), C.long(l.k))
	return l.dx
}

// im2col writes the (C·k·k, Ho·Wo) matrix whose row (c, ki, kj) holds
// x[c, oy+ki, ox+kj] for every output pixel (oy, ox).
func (l *conv2d) im2col(cols, x []float32) {
	_, _ = cols[l.c*l.k*l.k*l.ho*l.wo-1], x[l.inSize()-1]
	C.nn_im2col(fptr(cols), fptr(x), C.long(l.c), C.long(l.h), C.long(l.w), C.long(l.k))
}

// col2im sets dx to the sum, over every column entry, of its gradient at
// the input pixel it was copied from: the adjoint of im2col. Each pixel adds
// its entries in (ki, kj) order, starting from 0, on every CPU path.
func (l *conv2d) col2im(dx, dcols []float32) { l.col2imPath(dx, dcols, 0) }

// col2imPath is col2im by a chosen path of the C kernel (tests): 0 the best
// this CPU runs, 1 AVX-512, 2 AVX2, 3 scalar; a path the CPU lacks runs the
// scalar code.
func (l *conv2d) col2imPath(dx, dcols []float32, path int) {
	_, _ = dcols[l.c*l.k*l.k*l.ho*l.wo-1], dx[l.inSize()-1]
	C.nn_col2im_path(fptr(dx), fptr(dcols), C.long(l.c), C.long(l.h), C.long(l.w), C.long(l.k), C.int(path))
}

func (l *conv2d) flops(b int, needDx bool) int64 {
	ckk, hw := int64(l.c*l.k*l.k), int64(l.ho*l.wo)
	mac := int64(b) * int64(l.o) * ckk * hw
	n := int64(b) * int64(l.o) * hw
	f := 2*mac + n // forward GEMM and bias
	f += 2*mac + n // dW and db
	if needDx {
		f += 2*mac + mac // dcols and the col2im adds
	}
	if l.act != actNone {
		f += 2 * n
	}
	return f
}
