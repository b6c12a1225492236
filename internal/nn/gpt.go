// The transformer architecture: a GPT-2 decoder as nanoGPT builds it, with
// a classifier on the last position (or on each of the last OutSteps).

package nn

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// gpt is nanoGPT's GPT: token and position embeddings, Layers pre-LN
// blocks, a final layer norm ln_f and a head without bias, applied to the
// last k positions of each sequence only (what the loss sees: k is
// Input.OutSteps, at least 1), giving (B, k, Outputs) logits. Outputs is the
// number of classes; a tied head is the first Outputs rows of wte (class c
// is token c), as nanoGPT's weight tying with the unused rows dropped.
type gpt struct {
	ps     paramSet
	emb    *embedding
	blocks []*block
	lnF    *layerNorm
	head   *Param // lm_head.weight (Outputs, D), or wte when tied
	tied   bool
	d, out int
	k      int // output positions per sequence, the last k

	last, logits []float32 // (B·k, D) last positions, (B·k, Outputs)
	lastBuf      []float32 // last's storage when not trimmed
	dlast, dh    []float32 // (B·k, D), (N, D)
	B, T         int

	// BackwardNorms, BackwardWeighted (gptexample.go)
	dout  []float32   // kept dL/dlogits (B·k, Outputs)
	parts []gptPart   // the layers with parameters but the embedding
	ex    gptExamples // scratch
}

// buildTransformer: parameters in the order of nanoGPT's state_dict
// (transformer.wte, .wpe, .h.i.*, .ln_f, lm_head), initialised by spec.Init.
func buildTransformer(spec ArchSpec, in Input, rng *rand.Rand) Model {
	m := &gpt{d: spec.DModel, out: in.Outputs, tied: spec.Tied, k: max(1, in.OutSteps)}
	m.emb = newEmbedding(&m.ps, "transformer", in.Vocab, spec.Context, spec.DModel)
	for i := range spec.Layers {
		m.blocks = append(m.blocks, newBlock(&m.ps, "transformer.h."+strconv.Itoa(i), spec.DModel, spec.Heads, spec.DFF, spec.Approximate == "tanh"))
	}
	if spec.Trim {
		m.blocks[len(m.blocks)-1].k = m.k
	}
	m.lnF = newLayerNorm(&m.ps, "transformer.ln_f", spec.DModel)
	if spec.Tied {
		m.head = m.emb.wte
	} else {
		m.head = m.ps.add("lm_head.weight", DenseWeight, in.Outputs, spec.DModel)
		m.head.Last = true
	}
	if spec.Init == "gpt2" {
		m.initGPT2(rng)
	} else {
		m.initTorch(rng)
	}
	m.ps.pack()
	if spec.Tied {
		m.head = m.emb.wte // pack moved the tensors
	}
	return m
}

// initTorch is what PyTorch's constructors draw: nn.Embedding N(0, 1),
// nn.Linear weight and bias U(±1/√fan_in), nn.LayerNorm weight 1 and bias
// 0; tensor by tensor in Params order.
func (m *gpt) initTorch(rng *rand.Rand) {
	normal(m.emb.wte.W, 1, rng)
	normal(m.emb.wpe.W, 1, rng)
	for _, b := range m.blocks {
		b.ln1.init()
		initFanIn(b.attn.cAttn.w, b.attn.cAttn.b, b.attn.cAttn.in, rng)
		initFanIn(b.attn.proj.w, b.attn.proj.b, b.attn.proj.in, rng)
		b.ln2.init()
		initFanIn(b.mlp.fc.w, b.mlp.fc.b, b.mlp.fc.in, rng)
		initFanIn(b.mlp.proj.w, b.mlp.proj.b, b.mlp.proj.in, rng)
	}
	m.lnF.init()
	if !m.tied {
		uniform(m.head.W, 1/math.Sqrt(float64(m.d)), rng)
	}
}

// initGPT2 is nanoGPT's _init_weights: every Linear weight and embedding
// N(0, 0.02), biases 0, layer norms 1 and 0, and the residual projections
// (attn.c_proj, mlp.c_proj) N(0, 0.02/√(2·layers)) (GPT-2 paper, §2.3).
func (m *gpt) initGPT2(rng *rand.Rand) {
	const std = 0.02
	proj := std / math.Sqrt(2*float64(len(m.blocks)))
	normal(m.emb.wte.W, std, rng)
	normal(m.emb.wpe.W, std, rng)
	for _, b := range m.blocks {
		b.ln1.init()
		normal(b.attn.cAttn.w.W, std, rng)
		clear(b.attn.cAttn.b.W)
		normal(b.attn.proj.w.W, proj, rng)
		clear(b.attn.proj.b.W)
		b.ln2.init()
		normal(b.mlp.fc.w.W, std, rng)
		clear(b.mlp.fc.b.W)
		normal(b.mlp.proj.w.W, proj, rng)
		clear(b.mlp.proj.b.W)
	}
	m.lnF.init()
	if !m.tied {
		normal(m.head.W, std, rng)
	}
}

func (m *gpt) Params() []*Param { return m.ps.list }

// Forward reads b sequences of steps token ids (float32 values) and
// returns the logits of their last k positions, (b, k, Outputs); it panics
// if steps exceeds the context or is below k, or a token is out of range.
func (m *gpt) Forward(x []float32, b, steps int) []float32 {
	T, D, k := steps, m.d, m.k
	if T < k {
		panic("nn: sequence shorter than the output positions")
	}
	m.B, m.T = b, T
	h := m.emb.forward(x, b, T)
	for _, l := range m.blocks {
		h = l.forward(h, b, T)
	}
	rows := b * k
	if m.trimmed() {
		m.last = h[:rows*D] // the last block returned the last k positions
	} else {
		m.last = lastRows(m.lastBuf, h, b, T, k, D)
		m.lastBuf = m.last
	}
	f := m.lnF.forward(m.last, rows)
	m.logits = grow(m.logits, rows*m.out)
	sgemm(false, true, rows, m.out, D, 1, f, D, m.head.W, D, 0, m.logits, m.out)
	return m.logits
}

// trimmed reports whether the last block works on the last k positions
// only (ArchSpec.Trim).
func (m *gpt) trimmed() bool { return m.blocks[len(m.blocks)-1].k > 0 }

// Backward takes dL/dlogits, (B, k, Outputs).
func (m *gpt) Backward(dout []float32) { m.backward(dout, false) }

// backward is Backward, or with keep (BackwardNorms) the propagation alone:
// every layer keeps its output gradient and forms no parameter gradients
// (setKeep), and dout is kept in m.dout.
func (m *gpt) backward(dout []float32, keep bool) {
	B, T, D, k := m.B, m.T, m.d, m.k
	rows := B * k
	m.dlast = grow(m.dlast, rows*D)
	sgemm(false, false, rows, D, m.out, 1, dout, m.out, m.head.W, D, 0, m.dlast, D)
	headG := m.head.G[:m.out*D]
	if keep {
		m.dout = grow(m.dout, rows*m.out)
		copy(m.dout, dout[:rows*m.out])
	} else if !m.tied {
		sgemm(true, false, m.out, D, rows, 1, dout, m.out, m.lnF.y, D, 0, headG, D)
	}
	d := m.lnF.backward(m.dlast)
	if !m.trimmed() {
		m.dh = toLastRows(m.dh, d, B, T, k, D)
		d = m.dh
	}
	for i := len(m.blocks) - 1; i >= 0; i-- {
		d = m.blocks[i].backward(d)
	}
	m.emb.backward(d)
	if m.tied && !keep {
		// The head's gradient adds to the embedding's, after it.
		sgemm(true, false, m.out, D, rows, 1, dout, m.out, m.lnF.y, D, 1, headG, D)
	}
}

// FLOPs: every block at full length (the last one trimmed when Trim), ln_f and the head on the B·k last
// positions (2 per multiply-add forward, for the head's gradient and for
// dx), the embeddings.
func (m *gpt) FLOPs(b, steps int) int64 {
	rows := b * m.k
	f := m.emb.flops(b, steps) + m.lnF.flops(rows) + 3*2*int64(rows)*int64(m.d)*int64(m.out)
	for _, l := range m.blocks {
		f += l.flops(b, steps)
	}
	return f
}

// normal fills w with N(0, std²), one rng.NormFloat64() per value in index
// order, rounded to float32.
func normal(w []float32, std float64, rng *rand.Rand) {
	for i := range w {
		w[i] = float32(rng.NormFloat64() * std)
	}
}
