package nn

// maxPool is p×p max-pooling with stride p, floor mode, NCHW —
// torch.nn.MaxPool2d(p). Ties go to the first maximum in row-major window
// order and a NaN is the maximum, as PyTorch's CPU kernel picks them.
type maxPool struct {
	c, h, w, p int
	ho, wo     int
	idx        []int32 // for each output, the index of its maximum within the example
	y, dx      []float32
}

func newMaxPool(c, h, w, p int) *maxPool {
	return &maxPool{c: c, h: h, w: w, p: p, ho: h / p, wo: w / p}
}

func (l *maxPool) inSize() int  { return l.c * l.h * l.w }
func (l *maxPool) outSize() int { return l.c * l.ho * l.wo }

func (l *maxPool) forward(x []float32, b int) []float32 {
	in, out := l.inSize(), l.outSize()
	l.y = grow(l.y, b*out)
	l.idx = growInt32(l.idx, b*out)
	p, w := l.p, l.w
	for i := 0; i < b; i++ {
		xi := x[i*in : (i+1)*in]
		yi, ii := l.y[i*out:(i+1)*out], l.idx[i*out:(i+1)*out]
		j := 0
		for c := 0; c < l.c; c++ {
			base := c * l.h * w
			for oy := 0; oy < l.ho; oy++ {
				for ox := 0; ox < l.wo; ox++ {
					start := base + oy*p*w + ox*p
					best, bi := xi[start], start
					for dy := 0; dy < p; dy++ {
						row := start + dy*w
						for dx := 0; dx < p; dx++ {
							if v := xi[row+dx]; v > best || v != v { // NaN wins, as in PyTorch
								best, bi = v, row+dx
							}
						}
					}
					yi[j], ii[j] = best, int32(bi)
					j++
				}
			}
		}
	}
	return l.y
}

// backward routes each output's gradient to the input that was its maximum.
func (l *maxPool) backward(dy []float32, b int, needDx bool) []float32 {
	if !needDx {
		return nil
	}
	in, out := l.inSize(), l.outSize()
	l.dx = grow(l.dx, b*in)
	clear(l.dx)
	for i := 0; i < b; i++ {
		dxi := l.dx[i*in : (i+1)*in]
		for j, g := range dy[i*out : (i+1)*out] {
			dxi[l.idx[i*out+j]] = g // windows do not overlap
		}
	}
	return l.dx
}

// flops counts one comparison per input element in a window.
func (l *maxPool) flops(b int, needDx bool) int64 {
	return int64(b) * int64(l.outSize()) * int64(l.p*l.p)
}
