// Gaussian noise and Poisson sampling as functions of a seed.

package privacy

import (
	"math"
	"math/bits"
)

// Float is the element type of the gradients noise is added to.
type Float interface{ ~float32 | ~float64 }

// Domains keep the generators of noise and of sampling apart under one
// seed (the top byte of the key's last word).
const (
	domainPoisson   = 1
	domainNoiseTail = 2 // a coordinate's draws after its first
)

// generator seeds g for the key (seed, stream, step, domain):
// PCG-DXSM (math/rand/v2's PCG, numpy's default generator family) with its
// 128-bit state set from two 64-bit hashes of the key. Hashed states lie at
// unrelated places of PCG's period of 2^128, and Go's tests pin PCG's
// output for a state. Poisson sampling draws from it.
func generator(seed, stream, step uint64, domain byte) pcgNormal {
	h := mix64(seed ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ stream)
	h = mix64(h ^ step)
	h = mix64(h ^ uint64(domain)<<56)
	return pcgNormal{hi: h, lo: mix64(h ^ 0xd1b54a32d192ed03)} // rand.PCG.Seed(hi, lo)
}

// mix64 is SplitMix64's finaliser (Steele, Lea and Flood 2014), a bijection
// of 64-bit words whose every output bit depends on every input bit.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Noise is the Gaussian noise of DP-SGD, a pure function of its seed: the
// standard normal z(step, k) of coordinate k at a step depends on Seed,
// Stream, step and k only, so any split of the coordinates (tensors,
// workers, goroutines, shards, processes) and any rerun gives the same bits.
//
// z(step, k) is counter-based: the key (Seed, Stream, step) is hashed to a
// 64-bit base b, and coordinate k's first 64 random bits are wyrand's
// output at state b + (k+1)·γ (mum(s, s ⊕ c): the 128-bit product's halves
// xor-ed; Wang Yi's wyrand, the generator of Go's runtime.fastrand64 before
// Go 1.22), so the coordinates of a step are consecutive outputs of one
// wyrand stream and a coordinate needs no earlier one. The bits go through
// the Marsaglia–Tsang ziggurat as math/rand/v2's NormFloat64 does (same
// tables and steps, zigguratFrom): about 97% of coordinates take the first
// draw's fast path; the rest draw their further bits from a wyrand seeded
// by hashing (key, k) in a domain of its own. Stream separates independent
// noise sources under one seed (the gradient's noise, a quantile's count
// noise, …). TestNoiseKeys pins the first values.
type Noise struct {
	Seed, Stream uint64
}

// Normal returns z(step, k), a standard normal.
func (n Noise) Normal(step uint64, k int) float64 {
	var z [1]float64
	AddNoise(z[:], n, 1, step, k)
	return z[0]
}

// wyrand's constants (wyhash's _wyp0 and _wyp1).
const (
	wyInc = 0xa0761d6478bd642f
	wyMix = 0xe7037ed1a0b428db
)

// wyrand is Wang Yi's wyrand: state += γ, output mum(state, state ⊕ c).
type wyrand struct{ s uint64 }

func (w *wyrand) uint64() uint64 {
	w.s += wyInc
	hi, lo := bits.Mul64(w.s, w.s^wyMix)
	return hi ^ lo
}

func (w *wyrand) float64() float64 { return float64(w.uint64()<<11>>11) / (1 << 53) }

// noiseBase is the hash of a step's key: coordinate k's first draw is
// wyrand's output at state base + (k+1)·γ.
func noiseBase(n Noise, step uint64) uint64 {
	h := mix64(n.Seed ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ n.Stream)
	return mix64(h ^ step)
}

// AddNoise adds std·z(step, offset+i) to dst[i] for every i: the noise of
// coordinates offset … offset+len(dst)−1 of the flattened parameter vector,
// computed in float64 and rounded once to F. It panics if offset is
// negative.
func AddNoise[F Float](dst []F, n Noise, std float64, step uint64, offset int) {
	if offset < 0 {
		panic("privacy: negative noise offset")
	}
	base := noiseBase(n, step)
	s := base + uint64(offset)*wyInc // wyrand's state, in a register
	for i := range dst {
		s += wyInc
		hi, lo := bits.Mul64(s, s^wyMix)
		u := hi ^ lo
		// The ziggurat's fast path, as zigguratFrom's first iteration.
		j := int32(u)
		l := u >> 32 & 0x7F
		z := float64(j) * float64(wn[l])
		if absInt32(j) >= kn[l] {
			z = noiseTail(u, base, offset+i)
		}
		dst[i] = F(float64(dst[i]) + std*z)
	}
}

// noiseTail is z of coordinate k when its first draw u leaves the
// ziggurat's fast path: the rest of the ziggurat, its further draws from a
// wyrand seeded by hashing (base, k) in a domain of its own. Kept out of
// line so that AddNoise's loop keeps its state in registers.
//
//go:noinline
func noiseTail(u, base uint64, k int) float64 {
	rest := wyrand{s: mix64(base ^ mix64(uint64(k)^domainNoiseTail<<56))}
	return zigguratFrom(u, &rest)
}

// Poisson is Poisson sampling (the sampling the RDP accountant assumes):
// at every step each of the N examples is in the batch independently with
// probability Rate, as Opacus's UniformWithReplacementSampler does. The
// batch is a pure function of Seed, step and N.
//
// The indices are found by skipping: the gap before the next example taken
// is geometric, ⌊log U / log(1 − q)⌋ for U uniform on (0, 1] (P(gap ≥ k) =
// (1 − q)^k exactly), so a step costs O(qN) draws, not N. U is 53 random
// bits from a PCG generator seeded by (Seed, step) in a domain of its own,
// apart from Noise's.
type Poisson struct {
	Seed uint64
	Rate float64 // q in [0, 1]
}

// Batch appends to dst the indices in [0, n) of the examples in step's
// batch, ascending, and returns it. The batch may be empty. It panics
// unless 0 ≤ Rate ≤ 1.
func (p Poisson) Batch(dst []int, step uint64, n int) []int {
	q := p.Rate
	if !(q >= 0 && q <= 1) {
		panic("privacy: Poisson rate outside [0, 1]")
	}
	if q == 0 {
		return dst
	}
	if q == 1 {
		for i := range n {
			dst = append(dst, i)
		}
		return dst
	}
	g := generator(p.Seed, 0, step, domainPoisson)
	logKeep := math.Log1p(-q)
	for i := -1; ; {
		u := float64(g.uint64()>>11+1) / (1 << 53) // (0, 1]
		gap := math.Floor(math.Log(u) / logKeep)
		if gap >= float64(n-1-i) {
			return dst
		}
		i += int(gap) + 1
		dst = append(dst, i)
	}
}
