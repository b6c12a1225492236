package nn

// dense is a fully connected layer with an optional activation fused in:
// y = act(x·Wᵀ + b), x (B, D), W (O, D), y (B, O) — torch.nn.Linear
// followed by the activation module.
type dense struct {
	in, out int
	act     activation
	w, b    *Param
	x, y    []float32 // input of the last forward (not owned) and output
	dz, dx  []float32
	dzw     []float32 // dz with rows reweighted (BackwardWeighted)
	x2      []float64 // ‖x_i‖² then ‖dz_i‖² (BackwardNorms)
	keep    bool      // backward keeps dz in l.dz and forms no gradients
}

func newDense(ps *paramSet, name string, in, out int, act activation) *dense {
	return &dense{
		in: in, out: out, act: act,
		w: ps.add(name+".weight", DenseWeight, out, in),
		b: ps.add(name+".bias", Bias, out),
	}
}

func (l *dense) forward(x []float32, b int) []float32 {
	l.x = x[:b*l.in]
	l.y = grow(l.y, b*l.out)
	sgemm(false, true, b, l.out, l.in, 1, l.x, l.in, l.w.W, l.in, 0, l.y, l.out)
	biasAct(l.y, l.b.W, l.act)
	return l.y
}

// backward overwrites the gradients of W and b from dy (B, O) and returns
// dx (B, D), or nil when needDx is false. In keep mode (a transformer's
// BackwardNorms) it forms no gradients and keeps dz in l.dz instead.
func (l *dense) backward(dy []float32, b int, needDx bool) []float32 {
	if l.keep {
		return l.dxOf(l.keptDz(dy, b), b, needDx)
	}
	dz := dy[:b*l.out]
	if l.act != actNone {
		l.dz = grow(l.dz, b*l.out)
		actBackward(l.dz, dz, l.y, l.act)
		dz = l.dz
	}
	sgemm(true, false, l.out, l.in, b, 1, dz, l.out, l.x, l.in, 0, l.w.G, l.in)
	colSum(l.b.G, dz)
	return l.dxOf(dz, b, needDx)
}

// keptDz writes dz (B, O) into l.dz and returns it: the activation's
// derivative applied to dy, or a copy of dy without one (dy belongs to the
// caller, and the per-example reweighting rewrites l.dz).
func (l *dense) keptDz(dy []float32, b int) []float32 {
	dz := dy[:b*l.out]
	l.dz = grow(l.dz, b*l.out)
	if l.act != actNone {
		actBackward(l.dz, dz, l.y, l.act)
	} else {
		copy(l.dz, dz)
	}
	return l.dz
}

// dxOf returns dx (B, D) = dz·W into l.dx, or nil when needDx is false.
func (l *dense) dxOf(dz []float32, b int, needDx bool) []float32 {
	if !needDx {
		return nil
	}
	l.dx = grow(l.dx, b*l.in)
	sgemm(false, false, b, l.in, l.out, 1, dz, l.out, l.w.W, l.in, 0, l.dx, l.in)
	return l.dx
}

// flops counts 2 per multiply-add, 1 per bias add and per activation and
// its derivative.
func (l *dense) flops(b int, needDx bool) int64 {
	mac := int64(b) * int64(l.in) * int64(l.out)
	n := int64(b) * int64(l.out)
	f := 2*mac + n // forward GEMM and bias
	f += 2*mac + n // dW and db
	if needDx {
		f += 2 * mac
	}
	if l.act != actNone {
		f += 2 * n
	}
	return f
}
