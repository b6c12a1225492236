// DP-SGD's part of a configuration: noise, privacy budget, sampling.

package config

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"cliplab/internal/clipalgo"
	"cliplab/internal/privacy"
)

// Sampling is how DP-SGD's batches are drawn.
type Sampling string

const (
	// Shuffle: fixed-size batches of a seeded permutation per epoch, as
	// without DP (the default).
	Shuffle Sampling = "shuffle"
	// Poisson: at every step each training example is in the batch with
	// probability q = batch_size/train_size, independently: the sampling
	// the accountant assumes.
	Poisson Sampling = "poisson"
)

// Samplings are the values train.sampling accepts.
var Samplings = []Sampling{Shuffle, Poisson}

// Defaults of the DP fields.
const (
	DefaultDelta    = 1e-5
	DefaultSampling = Shuffle
)

// DPSpec is DP-SGD's noise, budget and sampling (train: noise_multiplier,
// target_epsilon, delta, sampling). Exactly one of NoiseMultiplier and
// TargetEpsilon is given: TargetEpsilon > 0 means σ is solved from it
// (Config.NoiseMultiplier) and NoiseMultiplier is then 0.
type DPSpec struct {
	// NoiseMultiplier σ: the noise on each coordinate of the sum of clipped
	// gradients is N(0, σ²C²). 0 is clipping without noise (ε = +Inf).
	NoiseMultiplier float64 `json:"noise_multiplier"`
	// TargetEpsilon: σ such that the run's steps spend this ε at Delta
	// (Opacus's make_private_with_epsilon); 0 when σ is given.
	TargetEpsilon float64  `json:"target_epsilon,omitempty"`
	Delta         float64  `json:"delta"` // δ of (ε, δ)-DP, in (0, 1)
	Sampling      Sampling `json:"sampling"`
}

// Private reports whether c trains with DP-SGD: its clip method needs
// per-example gradients.
func (c Config) Private() bool {
	m, ok := clipalgo.Lookup(c.Clip.Method)
	return ok && m.Needs == clipalgo.PerExampleGradients
}

// SamplingRate is q = batch_size/train_size, the probability with which the
// accountant takes each example into a step's batch.
func (c Config) SamplingRate() float64 {
	return float64(c.BatchSize) / float64(c.Data.TrainSize)
}

type sigmaKey struct {
	eps, delta, q float64
	steps         int
}

var sigmaCache sync.Map // sigmaKey → sigmaVal

type sigmaVal struct {
	sigma float64
	err   error
}

// NoiseMultiplier returns the σ the run trains with: the one given, or the
// one solved for TargetEpsilon over the run's Steps at SamplingRate and
// Delta by privacy.NoiseMultiplier (an error wrapping privacy.ErrUnreachable
// when no σ reaches it). It returns 0 for a configuration without DP.
func (c Config) NoiseMultiplier() (float64, error) {
	if c.DP == nil {
		return 0, nil
	}
	if c.DP.TargetEpsilon == 0 {
		return c.DP.NoiseMultiplier, nil
	}
	k := sigmaKey{c.DP.TargetEpsilon, c.DP.Delta, c.SamplingRate(), c.Steps()}
	if v, ok := sigmaCache.Load(k); ok {
		return v.(sigmaVal).sigma, v.(sigmaVal).err
	}
	sigma, _, err := privacy.NoiseMultiplier(k.eps, k.delta, k.q, k.steps)
	sigmaCache.Store(k, sigmaVal{sigma, err})
	return sigma, err
}

// validateDP checks that DP is set exactly for a private method and holds
// values in range, that the arch gives per-example gradients and that a
// target ε can be reached.
func (c Config) validateDP() error {
	if !c.Private() {
		if c.DP != nil {
			return fmt.Errorf("dp: set, but method %s adds no noise (only the dp_ methods do)", c.Clip.Method)
		}
		return nil
	}
	d := c.DP
	if d == nil {
		return fmt.Errorf("dp: method %s needs noise_multiplier or target_epsilon", c.Clip.Method)
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case !finite(d.NoiseMultiplier) || d.NoiseMultiplier < 0:
		return fmt.Errorf("noise_multiplier: must be a finite number ≥ 0, got %v", d.NoiseMultiplier)
	case !finite(d.TargetEpsilon) || d.TargetEpsilon < 0:
		return fmt.Errorf("target_epsilon: must be a finite number > 0, got %v", d.TargetEpsilon)
	case d.TargetEpsilon > 0 && d.NoiseMultiplier != 0:
		return fmt.Errorf("target_epsilon: give noise_multiplier or target_epsilon, not both")
	case !(d.Delta > 0 && d.Delta < 1):
		return fmt.Errorf("delta: must be in (0, 1), got %v", d.Delta)
	}
	if err := CheckSampling(string(d.Sampling)); err != "" {
		return fmt.Errorf("sampling: %s", err)
	}
	if err := c.Arch.PerExampleSupport(); err != nil {
		return fmt.Errorf("arch_spec: method %s needs per-example gradients: %w", c.Clip.Method, err)
	}
	sigma, err := c.NoiseMultiplier()
	if err != nil {
		return fmt.Errorf("target_epsilon: %w", err)
	}
	if _, _, err := clipalgo.Sigmas(c.Clip, sigma, float64(c.BatchSize)); err != nil {
		return err
	}
	return nil
}

// CheckSampling says what is wrong with a sampling name ("" if nothing).
func CheckSampling(s string) string {
	var names []string
	for _, x := range Samplings {
		if string(x) == s {
			return ""
		}
		names = append(names, string(x))
	}
	return fmt.Sprintf("%q is not allowed (allowed: %s)", s, strings.Join(names, ", "))
}
