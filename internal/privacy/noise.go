// Gaussian noise and Poisson sampling as functions of a seed.

package privacy

import (
	"math"
)

// Float is the element type of the gradients noise is added to.
type Float interface{ ~float32 | ~float64 }

// blockLen is the number of coordinates that share one generator: block b
// of a step holds coordinates [b·blockLen, (b+1)·blockLen).
const blockLen = 1024

// Domains keep the generators of noise and of sampling apart under one
// seed (the top byte of the key's last word).
const (
	domainNoise   = 0
	domainPoisson = 1
)

// generator seeds g for the block keyed by (seed, stream, step, domain,
// block): PCG-DXSM (math/rand/v2's PCG, numpy's default generator family)
// with its 128-bit state set from two 64-bit hashes of the key. Hashed
// states lie at unrelated places of PCG's period of 2^128, so the 1024
// draws of two blocks never overlap in practice, and Go's tests pin PCG's
// output for a state.
func generator(seed, stream, step uint64, domain byte, block uint64) pcgNormal {
	h := mix64(seed ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ stream)
	h = mix64(h ^ step)
	h = mix64(h ^ (block&(1<<56-1) | uint64(domain)<<56))
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
// Coordinates are grouped in blocks of 1024; block b of a step draws its
// 1024 values in order from a PCG generator seeded by (Seed, Stream, step,
// b), each as math/rand/v2's NormFloat64 draws it (the Marsaglia–Tsang
// ziggurat), bit for bit (pcgNormal, normal.go; Go's regression tests pin
// NormFloat64's output, and TestNoiseKeys pins ours). Stream separates independent noise sources
// under one seed (the gradient's noise, a quantile's count noise, …).
type Noise struct {
	Seed, Stream uint64
}

// Normal returns z(step, k), a standard normal.
func (n Noise) Normal(step uint64, k int) float64 {
	var z [1]float64
	AddNoise(z[:], n, 1, step, k)
	return z[0]
}

// AddNoise adds std·z(step, offset+i) to dst[i] for every i: the noise of
// coordinates offset … offset+len(dst)−1 of the flattened parameter vector,
// computed in float64 and rounded once to F. A call that starts inside a
// block draws and discards the block's earlier values. It panics if offset
// is negative.
func AddNoise[F Float](dst []F, n Noise, std float64, step uint64, offset int) {
	if offset < 0 {
		panic("privacy: negative noise offset")
	}
	for len(dst) > 0 {
		block, skip := offset/blockLen, offset%blockLen
		g := generator(n.Seed, n.Stream, step, domainNoise, uint64(block))
		for range skip {
			g.normal()
		}
		m := min(blockLen-skip, len(dst))
		for i := range m {
			dst[i] = F(float64(dst[i]) + std*g.normal())
		}
		dst, offset = dst[m:], offset+m
	}
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
	g := generator(p.Seed, 0, step, domainPoisson, 0)
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
