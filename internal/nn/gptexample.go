// Per-example gradients of the transformer (PerExample for gpt).

package nn

import "slices"

var _ PerExample = (*gpt)(nil)

// gptPart is a layer of the transformer with parameters, but the embedding
// and the head: a dense layer or a layer norm, whose weight is Params()[p]
// and bias Params()[p+1].
type gptPart struct {
	d    *dense
	ln   *layerNorm
	p    int
	last bool // works on the last k positions of each sequence, not all T
}

// gptExamples is BackwardNorms' and BackwardWeighted's scratch.
type gptExamples struct {
	gram, dw   []float32 // ghost norm's Grams (2·r²); a weight gradient
	col        []float64 // an example's column sums
	acc        []float64 // an example's gradient of wte (vocab, D)
	seen       []bool    // the rows of acc in use, listed in rows
	rows       []int32
	dyw, dxs   []float32 // a layer norm's reweighted dy, unused dx
	dwte, dwpe []float32 // unused embedding gradients
	dout       []float32 // reweighted dL/dlogits
	s1         []float64
}

// The embedding's parameters come first (nanoGPT's state_dict order).
const wteParam, wpeParam = 0, 1

func (m *gpt) exampleParts() []gptPart {
	var parts []gptPart
	add := func(d *dense, ln *layerNorm, last bool) {
		var w *Param
		if ln != nil {
			w = ln.w
		} else {
			w = d.w
		}
		parts = append(parts, gptPart{d: d, ln: ln, p: slices.Index(m.ps.list, w), last: last})
	}
	for _, b := range m.blocks {
		last := b.k > 0
		add(nil, b.ln1, false)
		add(b.attn.cAttn, nil, false)
		add(b.attn.proj, nil, last)
		add(nil, b.ln2, last)
		add(b.mlp.fc, nil, last)
		add(b.mlp.proj, nil, last)
	}
	add(nil, m.lnF, true)
	return parts
}

// setKeep switches the layers' backward between forming the parameter
// gradients and keeping what BackwardNorms and BackwardWeighted need.
func (m *gpt) setKeep(on bool) {
	for _, pt := range m.parts {
		if pt.d != nil {
			pt.d.keep = on
		} else {
			pt.ln.keep = on
		}
	}
	m.emb.keep = on
}

// rows is the number of rows each example owns at part pt: T, or k at the
// head's positions.
func (m *gpt) rows(last bool) int {
	if last {
		return m.k
	}
	return m.T
}

// BackwardNorms of the transformer: Backward's propagation without the
// parameter gradients, every dense layer keeping its output gradient dz
// (its input x is kept by forward), every layer norm its dy, the embedding
// its dy and the model dout (book-keeping, Bu et al. 2023). Then each
// example's squared norms from its rows (T of them, or k for the head and
// the trimmed block's layers after the attention): a dense layer's by
// weightNorms, a bias's from the column sums of its dz rows, a layer norm's
// from Σ_t dy⊙x̂ and Σ_t dy, the embeddings' by embNorms.
func (m *gpt) BackwardNorms(dout []float32, sq []float64) {
	if m.parts == nil {
		m.parts = m.exampleParts()
	}
	P, B := len(m.ps.list), m.B
	sq = sq[:B*P]
	clear(sq)
	m.setKeep(true)
	m.backward(dout, true)
	m.setKeep(false)
	for _, pt := range m.parts {
		r := m.rows(pt.last)
		if d := pt.d; d != nil {
			m.ex.weightNorms(sq, pt.p, P, d.dz, d.x, B, r, d.out, d.in)
			m.ex.biasNorms(sq, pt.p+1, P, d.dz, B, r, d.out)
		} else {
			m.ex.layerNormNorms(sq, pt.p, P, pt.ln, B, r)
		}
	}
	if !m.tied {
		m.ex.weightNorms(sq, P-1, P, m.dout, m.lnF.y, B, m.k, m.out, m.d)
	}
	m.embNorms(sq, P)
}

// BackwardWeighted runs Backward's weight gradient calls, in Backward's
// order, on the kept output gradients with each example's rows scaled by
// its weight for the parameter: by 1 that is Backward's gradients bit for
// bit (the same BLAS calls and kernels on the same values).
func (m *gpt) BackwardWeighted(w []float32) {
	P, B, D := len(m.ps.list), m.B, m.d
	w = w[:B*P]
	rows := B * m.k
	headG := m.head.G[:m.out*D]
	s := &m.ex
	s.dout = grow(s.dout, rows*m.out)
	if !m.tied {
		scaleRows(s.dout, m.dout, w, m.k*m.out, P-1, P)
		sgemm(true, false, m.out, D, rows, 1, s.dout, m.out, m.lnF.y, D, 0, headG, D)
	}
	for i := len(m.parts) - 1; i >= 0; i-- {
		pt := m.parts[i]
		r := m.rows(pt.last)
		if pt.d != nil {
			pt.d.weightedRows(w, B, r, pt.p, P)
		} else {
			s.layerNormWeighted(w, pt.p, P, pt.ln, r)
		}
	}
	s.embWeighted(w, P, m.emb)
	if m.tied {
		scaleRows(s.dout, m.dout, w, m.k*m.out, wteParam, P)
		sgemm(true, false, m.out, D, rows, 1, s.dout, m.out, m.lnF.y, D, 1, headG, D)
	}
}

// weightNorms adds to sq[i·P + p] the squared norm of example i's gradient
// of a weight (out, in), Σ_t dz_tᵀ·x_t over its r rows of dz (B·r, out)
// and x (B·r, in). For r = 1 that is ‖x‖²·‖dz‖² (Goodfellow 2015); beyond,
// either the ghost norm ⟨x_i·x_iᵀ, dz_i·dz_iᵀ⟩ from the two r×r Grams
// (Li et al. 2021), r²·(in + out) multiply-adds, or dW_i formed by one
// sgemm over the example's contiguous rows, r·in·out, whichever costs
// less: the ghost norm where r·(in + out) < in·out, as at every layer of
// the grokking transformer (r = 4 positions, D = 128); the formed gradient
// for long sequences in narrow layers.
func (s *gptExamples) weightNorms(sq []float64, p, P int, dz, x []float32, B, r, out, in int) {
	s.s1 = growF64(s.s1, 1)
	if r == 1 { // the head's and the trimmed block's rows at k = 1
		s.col, _ = outerNorms(s.col, sq, p, P, x, dz, B, in, out)
		return
	}
	if r*(in+out) < in*out {
		s.gram = grow(s.gram, 2*r*r)
		gx, gz := s.gram[:r*r], s.gram[r*r:]
		for i := 0; i < B; i++ {
			xi, zi := x[i*r*in:(i+1)*r*in], dz[i*r*out:(i+1)*r*out]
			sgemm(false, true, r, r, in, 1, xi, in, xi, in, 0, gx, r)
			sgemm(false, true, r, r, out, 1, zi, out, zi, out, 0, gz, r)
			var v float64
			for j, g := range gx {
				v += float64(g) * float64(gz[j])
			}
			sq[i*P+p] += v
		}
		return
	}
	s.dw = grow(s.dw, out*in)
	for i := 0; i < B; i++ {
		sgemm(true, false, out, in, r, 1, dz[i*r*out:], out, x[i*r*in:], in, 0, s.dw, in)
		rowSumSq(s.s1, s.dw, out*in)
		sq[i*P+p] += s.s1[0]
	}
}

// biasNorms adds to sq[i·P + p] the squared norm of Σ_t dz_t over example
// i's r rows of dz (B·r, out).
func (s *gptExamples) biasNorms(sq []float64, p, P int, dz []float32, B, r, out int) {
	s.col = growF64(s.col, out)
	for i := 0; i < B; i++ {
		clear(s.col)
		for j, v := range dz[i*r*out : (i+1)*r*out] {
			s.col[j%out] += float64(v)
		}
		sq[i*P+p] += sumSq64(s.col)
	}
}

// layerNormNorms adds to sq[i·P + p] and sq[i·P + p+1] the squared norms of
// example i's gradients of layer norm l's weight, Σ_t dy_t⊙x̂_t, and bias,
// Σ_t dy_t, over its r rows (x̂ = (x − μ)·rstd as the kernel forms it).
func (s *gptExamples) layerNormNorms(sq []float64, p, P int, l *layerNorm, B, r int) {
	D := l.d
	s.col = growF64(s.col, 2*D)
	dw, db := s.col[:D], s.col[D:]
	for i := 0; i < B; i++ {
		clear(s.col)
		for t := i * r; t < (i+1)*r; t++ {
			x, dy := l.x[t*D:(t+1)*D], l.dy[t*D:(t+1)*D]
			mu, rs := l.mean[t], l.rstd[t]
			for j, g := range dy {
				xh := (x[j] - mu) * rs
				dw[j] += float64(g) * float64(xh)
				db[j] += float64(g)
			}
		}
		sq[i*P+p] += sumSq64(dw)
		sq[i*P+p+1] += sumSq64(db)
	}
}

// layerNormWeighted writes l's gradients by nn_layernorm_backward, as
// backward, from the kept dy with example i's r rows scaled by its weight
// (the bias's weights in a second call where they differ).
func (s *gptExamples) layerNormWeighted(w []float32, p, P int, l *layerNorm, r int) {
	n := l.rows * l.d
	s.dyw, s.dxs = grow(s.dyw, n), grow(s.dxs, n)
	dy := l.dy[:n]
	scaleRows(s.dyw, dy, w, r*l.d, p, P)
	B := l.rows / r
	same := sameWeights(w, B, p, p+1, P)
	db := l.db
	if same {
		db = l.b.G
	}
	l.kernelBackward(s.dxs, l.w.G, db, s.dyw)
	if !same {
		scaleRows(s.dyw, dy, w, r*l.d, p+1, P)
		l.kernelBackward(s.dxs, l.dw, l.b.G, s.dyw)
	}
}

// embNorms adds the squared norms of each example's gradients of wpe and
// wte to sq. wpe's is its dy rows at positions 0 … T−1, one per row: ‖·‖² =
// Σ_t ‖dy_t‖². wte's row v is the sum of the dy rows at the positions of
// token v, and, tied, the head's example gradient dz_iᵀ·f_i (formed, Outputs
// × D, one sgemm over its k rows) on its first Outputs rows: the example's
// rows are summed in float64 in s.acc, touching only the rows it uses, so
// the cross terms Σ_{s,t: tok_s = tok_t} dy_s·dy_t and those between the
// embedding and the head are exact.
func (m *gpt) embNorms(sq []float64, P int) {
	e, s := m.emb, &m.ex
	B, T, D, V := e.B, e.T, e.d, e.vocab
	s.s1 = growF64(s.s1, 1)
	if len(s.acc) != V*D {
		s.acc = make([]float64, V*D) // zero between examples: used rows are cleared
		s.seen = make([]bool, V)
		s.rows = make([]int32, 0, V)
	}
	if m.tied {
		s.dw = grow(s.dw, m.out*D)
	}
	use := func(v int32) []float64 {
		if !s.seen[v] {
			s.seen[v] = true
			s.rows = append(s.rows, v)
		}
		return s.acc[int(v)*D : int(v+1)*D]
	}
	for i := 0; i < B; i++ {
		rowSumSq(s.s1, e.dy[i*T*D:(i+1)*T*D], T*D)
		sq[i*P+wpeParam] += s.s1[0]
		for t := i * T; t < (i+1)*T; t++ {
			a := use(e.tok[t])
			for j, g := range e.dy[t*D : (t+1)*D] {
				a[j] += float64(g)
			}
		}
		if m.tied {
			k := m.k
			sgemm(true, false, m.out, D, k, 1, m.dout[i*k*m.out:], m.out, m.lnF.y[i*k*D:], D, 0, s.dw, D)
			for c := 0; c < m.out; c++ {
				a := use(int32(c))
				for j, g := range s.dw[c*D : (c+1)*D] {
					a[j] += float64(g)
				}
			}
		}
		for _, v := range s.rows {
			a := s.acc[int(v)*D : int(v+1)*D]
			sq[i*P+wteParam] += sumSq64(a)
			clear(a)
			s.seen[v] = false
		}
		s.rows = s.rows[:0]
	}
}

// embWeighted writes wte's and wpe's gradients by nn_embed_backward, as
// backward, from the kept dy with example i's rows scaled by its weight for
// wte (and in a second call for wpe where those differ).
func (s *gptExamples) embWeighted(w []float32, P int, e *embedding) {
	n := e.B * e.T * e.d
	s.dyw = grow(s.dyw, n)
	dy := e.dy[:n]
	scaleRows(s.dyw, dy, w, e.T*e.d, wteParam, P)
	same := sameWeights(w, e.B, wteParam, wpeParam, P)
	dwpe := e.wpe.G
	if !same {
		s.dwpe = grow(s.dwpe, len(e.wpe.G))
		dwpe = s.dwpe
	}
	e.kernelBackward(e.wte.G, dwpe, s.dyw)
	if !same {
		scaleRows(s.dyw, dy, w, e.T*e.d, wpeParam, P)
		s.dwte = grow(s.dwte, len(e.wte.G))
		e.kernelBackward(s.dwte, e.wpe.G, s.dyw)
	}
}

// sumSq64 is Σ x².
func sumSq64(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s
}
