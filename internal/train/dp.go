// DP-SGD's step: per-example clipping, Gaussian noise, Poisson batches and
// the accountant.

package train

import (
	"fmt"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/nn"
	"cliplab/internal/privacy"
)

// Streams of the seed's generators that DP adds: the gradient's noise
// ("dpnoise") and a method's count noise ("dpcount").
const (
	noiseStream = 0x64706e6f697365
	countStream = 0x6470636f756e74
)

// private is the DP-SGD state of a run: the per-example clipping, σ, the
// sampling and the accountant.
type private struct {
	model    nn.PerExample
	clip     clipalgo.ExampleClipper
	sigma    float64 // noise multiplier σ the run is accounted at
	sumSigma float64 // noise multiplier of the clipped sum (σ but for dp_quantile)
	q        float64 // sampling rate B/N
	delta    float64
	expected float64 // the expected batch size B the clipped sum is divided by
	noise    privacy.Noise
	poisson  *privacy.Poisson // nil for shuffled batches
	examples data.Examples
	acct     privacy.Accountant

	sq  []float64 // squared norms, b rows of one per tensor
	w   []float32 // clip factors, then weights of the row gradients
	idx []int     // a Poisson batch's examples
}

func newPrivate(c config.Config, model nn.Model, ds data.Dataset) (*private, error) {
	pe, ok := model.(nn.PerExample)
	if !ok {
		return nil, fmt.Errorf("arch %s has no per-example gradients", c.ArchName)
	}
	sigma, err := c.NoiseMultiplier()
	if err != nil {
		return nil, err
	}
	expected := float64(c.BatchSize)
	count := privacy.Noise{Seed: c.Seed, Stream: countStream}
	clip, err := clipalgo.NewExample(c.Clip, clipalgo.DP{Sigma: sigma, Expected: expected,
		Normal: func(t uint64) float64 { return count.Normal(t, 0) }})
	if err != nil {
		return nil, err
	}
	sumSigma, _, err := clipalgo.Sigmas(c.Clip, sigma, expected)
	if err != nil {
		return nil, err
	}
	p := &private{model: pe, clip: clip, sigma: sigma, sumSigma: sumSigma, q: c.SamplingRate(), delta: c.DP.Delta,
		expected: expected, noise: privacy.Noise{Seed: c.Seed, Stream: noiseStream}}
	if c.DP.Sampling == config.Poisson {
		ex, ok := ds.(data.Examples)
		if !ok {
			return nil, fmt.Errorf("sampling poisson: dataset %s does not give examples by index", c.Dataset)
		}
		p.examples, p.poisson = ex, &privacy.Poisson{Seed: c.Seed, Rate: p.q}
	}
	return p, nil
}

// batch fills dst with step n's Poisson batch: each of the n training
// examples in with probability q.
func (p *private) batch(dst *data.Batch, n, trainSize int) {
	p.idx = p.poisson.Batch(p.idx[:0], uint64(n), trainSize)
	p.examples.TrainExamples(dst, p.idx)
}

// backward replaces Backward and Clip for DP-SGD: each example's gradient
// g_i (of its own loss: b times its row of the mean loss's gradient) is
// clipped, the clipped gradients summed, N(0, σ²C²) added to every
// coordinate (σ_Δ for dp_quantile, clipalgo.Sigmas), and the sum divided by the expected batch size B (Opacus's
// DPOptimizer: add_noise then scale_grad). dout is the mean loss's gradient
// of b examples, b ≥ 0 (b·k rows for a task with k output positions: the
// loss is their mean, so an example's rows are still 1/b of its own loss's
// gradient, the mean over its k positions). The step's noise is drawn at
// step n.
func (p *private) backward(dout []float32, b, n int) (clipalgo.Stats, error) {
	ps := p.model.Params()
	nt := len(ps)
	p.sq = grow(p.sq, b*nt)
	p.w = grow(p.w, b*nt)
	if b > 0 {
		p.model.BackwardNorms(dout, p.sq)
		b2 := float64(b) * float64(b)
		for j := range p.sq {
			p.sq[j] *= b2
		}
	}
	st, err := p.clip.Weights(p.w, p.sq, b, nt)
	if err != nil {
		return st, err
	}
	if b > 0 {
		scale := float32(float64(b) / p.expected)
		for j := range p.w {
			p.w[j] *= scale
		}
		p.model.BackwardWeighted(p.w)
	} else {
		for _, t := range ps {
			clear(t.G)
		}
	}
	if std := p.sumSigma * st.Threshold / p.expected; std > 0 {
		off := 0
		for _, t := range ps {
			privacy.AddNoise(t.G, p.noise, std, uint64(n), off)
			off += len(t.G)
		}
	}
	return st, nil
}

// step records one step with the accountant.
func (p *private) step() {
	if err := p.acct.Compose(p.sigma, p.q, 1); err != nil {
		panic(err) // σ and q were validated with the configuration
	}
}

// epsilon is the ε spent so far.
func (p *private) epsilon() float64 {
	eps, _, err := p.acct.Spent(p.delta)
	if err != nil {
		panic(err) // δ was validated with the configuration
	}
	return eps
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
