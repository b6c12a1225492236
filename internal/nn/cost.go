package nn

// Inference cost of a model as it would be deployed: its FLOPs counting
// only the parameter values that are not zero (pruned weights cost nothing).

// Prunable reports whether p is a weight matrix that pruning acts on: a
// dense, conv or recurrent weight (the transformer's projections and its
// head are dense weights). Biases, layer norms and embeddings are not.
func Prunable(p *Param) bool {
	switch p.Role {
	case DenseWeight, ConvWeight, RecurrentWeight:
		return true
	}
	return false
}

// EffectiveFLOPs is the inference cost of one example (a sequence of steps
// steps for the rnn and the transformer; ignored for images) counting only
// non-zero parameter values: 2 per multiply-add of a non-zero weight value,
// each time the weight is applied (a dense layer once, a conv at each of
// its Ho·Wo positions, a recurrent weight_ih at each of the T steps and
// weight_hh at T − 1, the transformer's projections at each of the T
// positions, ln_f and the head at the last one, a tied head's first
// Outputs rows of wte), and 1 per non-zero bias or layer-norm value at each
// application. Element-wise work that does not depend on the weights
// (activations, pooling, the LSTM's gate arithmetic, normalisation's
// statistics, attention scores) and embedding look-ups are not counted, so
// a dense model's EffectiveFLOPs is its weights' arithmetic alone.
func EffectiveFLOPs(m Model, steps int) int64 {
	var f int64
	use := func(p *Param, times int, perValue int64) {
		f += perValue * int64(times) * int64(nonZero(p.W))
	}
	switch m := m.(type) {
	case *sequential:
		for _, l := range m.layers {
			switch l := l.(type) {
			case *dense:
				use(l.w, 1, 2)
				use(l.b, 1, 1)
			case *conv2d:
				use(l.wt, l.ho*l.wo, 2)
				use(l.b, l.ho*l.wo, 1)
			}
		}
	case *recurrentModel:
		T := m.steps(steps)
		var c *recurrentCore
		switch core := m.core.(type) {
		case *rnnTanh:
			c = &core.recurrentCore
		case *lstm:
			c = &core.recurrentCore
		}
		use(c.wih, T, 2)
		use(c.whh, T-1, 2)
		use(c.bih, T, 1)
		use(c.bhh, T, 1)
		use(m.fc.w, 1, 2)
		use(m.fc.b, 1, 1)
	case *gpt:
		T := steps
		for _, b := range m.blocks {
			for _, l := range []*layerNorm{b.ln1, b.ln2} {
				use(l.w, T, 1)
				use(l.b, T, 1)
			}
			for _, d := range []*dense{b.attn.cAttn, b.attn.proj, b.mlp.fc, b.mlp.proj} {
				use(d.w, T, 2)
				use(d.b, T, 1)
			}
		}
		use(m.lnF.w, 1, 1)
		use(m.lnF.b, 1, 1)
		f += 2 * int64(nonZero(m.head.W[:m.out*m.d]))
	default:
		panic("nn: EffectiveFLOPs of an unknown model")
	}
	return f
}

// nonZero counts the values of w that are not zero.
func nonZero(w []float32) int {
	n := 0
	for _, x := range w {
		if x != 0 {
			n++
		}
	}
	return n
}
