package nn

// #include "kernels.h"
import "C"

import (
	"math"
	"unsafe"
)

// maxPool is p×p max-pooling with stride p, floor mode, NCHW —
// torch.nn.MaxPool2d(p). Ties go to the first maximum in row-major window
// order and a NaN is the maximum, as PyTorch's CPU kernel picks them.
//
// With reluIn its input is a ReLU's output (a conv2d's with actDone) and
// backward returns the gradient before that ReLU, in the same pass.
type maxPool struct {
	c, h, w, p int
	ho, wo     int
	reluIn     bool
	idx        []int32 // for each output, the index of its maximum in the batch's input
	y, dx      []float32
}

func newMaxPool(c, h, w, p int) *maxPool {
	return &maxPool{c: c, h: h, w: w, p: p, ho: h / p, wo: w / p}
}

func (l *maxPool) inSize() int  { return l.c * l.h * l.w }
func (l *maxPool) outSize() int { return l.c * l.ho * l.wo }

func (l *maxPool) forward(x []float32, b int) []float32 {
	in, out := l.inSize(), l.outSize()
	if b*in > math.MaxInt32 {
		panic("nn: max-pool input over 2³¹ values")
	}
	_ = x[b*in-1]
	l.y = grow(l.y, b*out)
	l.idx = growInt32(l.idx, b*out)
	C.nn_maxpool(fptr(l.y), (*C.int)(unsafe.Pointer(unsafe.SliceData(l.idx))), fptr(x),
		C.long(b*l.c), C.long(l.h), C.long(l.w), C.long(l.p))
	return l.y
}

// backward routes each output's gradient to the input that was its maximum.
func (l *maxPool) backward(dy []float32, b int, needDx bool) []float32 {
	if !needDx {
		return nil
	}
	in, out := l.inSize(), l.outSize()
	_ = dy[b*out-1]
	l.dx = grow(l.dx, b*in)
	idx := (*C.int)(unsafe.Pointer(unsafe.SliceData(l.idx)))
	switch {
	case l.reluIn:
		C.nn_maxpool_backward_relu(fptr(l.dx), idx, fptr(dy), fptr(l.y), C.long(b*out), C.long(b*in))
	default:
		C.nn_maxpool_backward(fptr(l.dx), idx, fptr(dy), C.long(b*out), C.long(b*in))
	}
	return l.dx
}

// flops counts one comparison per input element in a window.
func (l *maxPool) flops(b int, needDx bool) int64 {
	return int64(b) * int64(l.outSize()) * int64(l.p*l.p)
}
