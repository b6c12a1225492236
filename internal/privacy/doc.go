// Package privacy holds what DP-SGD needs besides clipping: the RDP
// accountant of the sampled Gaussian mechanism, σ for a target ε, Gaussian
// noise and Poisson sampling that are functions of a seed. It imports
// nothing of cliplab.
//
// # Accounting
//
// One DP-SGD step with sampling rate q (each example in the batch with
// probability q) and noise multiplier σ (noise standard deviation over the
// clip norm C, the sum's L2 sensitivity) is the sampled Gaussian mechanism.
// RDP(q, σ, α) is its Rényi DP at order α (Mironov, Talwar and Zhang 2019),
// computed line for line as Opacus computes it
// (opacus/accountants/analysis/rdp.py): log-space sums, the binomial
// expansion for integer α and the two-sided erfc series for fractional α;
// q = 1 gives α/(2σ²), σ = 0 gives +Inf. Steps compose by adding RDP
// (Accountant, as Opacus's RDPAccountant keeps a history of (σ, q, steps)).
// Epsilon converts RDP to (ε, δ)-DP by Balle et al. (2020), Theorem 21,
// minimised over DefaultOrders, Opacus's default orders (1.1 to 10.9 in
// steps of 0.1, then 12 to 63); Spend does both for one (σ, q, steps).
// NoiseMultiplier solves for σ by Opacus's get_noise_multiplier bisection
// with tolerance min(0.01, 0.01·ε): the σ it returns spends between 99% and
// 100% of the target, and is Opacus's σ for targets ≥ 1.
//
// ε agrees with Opacus's code to 1e-9 relative (testdata/opacus_reference.txt,
// produced from Opacus's rdp.py by testdata/opacus_reference.py), RDP with
// TF Privacy's published test values, and both with a numerical integration
// of the mechanism's definition written in the tests.
//
// The accountant assumes Poisson sampling. Opacus and most papers apply it
// to shuffled fixed-size batches as well (q = B/N); cliplab reports that ε
// too, and says so.
//
// # Randomness
//
// AddNoise(dst, noise, std, step, offset) adds N(0, std²) noise, std = σC
// in DP-SGD, to coordinates offset … offset+len(dst)−1 of a flattened
// gradient at a step. The value of each
// coordinate is a function of (Seed, Stream, step, coordinate) only:
// coordinate k's bits are wyrand's output at state base + (k+1)·γ, base a
// hash of (Seed, Stream, step), so a coordinate needs no other; they go
// through the Marsaglia–Tsang ziggurat (math/rand/v2's NormFloat64's,
// bit for bit), whose rare slow path draws on from a wyrand seeded by
// hashing (base, k). Any split of the vector, on any worker, shard or
// process, gives the same bits. (Until this generator, coordinates came in
// blocks of 1024 from PCG-DXSM; no DP result had been published with it.)
//
// Poisson.Batch draws the batch of a step: each of N examples in with
// probability q, independently, found by geometric skips between the
// examples taken; a function of (Seed, step, N), from PCG-DXSM.
//
// References:
//
//   - M. Abadi et al., Deep learning with differential privacy, CCS 2016
//     (DP-SGD, the moments accountant).
//   - I. Mironov, Rényi differential privacy, CSF 2017.
//   - I. Mironov, K. Talwar, L. Zhang, Rényi differential privacy of the
//     sampled Gaussian mechanism, arXiv:1908.10530, 2019 (§3.3: A_α and
//     its series).
//   - B. Balle, G. Barthe, M. Gaboardi, J. Hsu, T. Sato, Hypothesis testing
//     interpretations and Rényi differential privacy, AISTATS 2020,
//     arXiv:1905.09982 (Theorem 21: RDP to (ε, δ)).
//   - Opacus, https://github.com/pytorch/opacus, commit 4d0ebc84:
//     opacus/accountants/analysis/rdp.py (RDP, ε), opacus/accountants/rdp.py
//     (default orders, history), opacus/accountants/utils.py
//     (get_noise_multiplier).
//   - TF Privacy, https://github.com/tensorflow/privacy, commit 09270afe:
//     tensorflow_privacy/privacy/analysis/rdp_accountant.py and its tests
//     (the published RDP values).
//   - G. Marsaglia, W. W. Tsang, The ziggurat method for generating random
//     variables, J. Stat. Softw. 5(8), 2000.
//   - M. E. O'Neill, PCG: a family of simple fast space-efficient
//     statistically good algorithms for random number generation, 2014
//     (PCG-DXSM as math/rand/v2 and numpy implement it).
//   - G. L. Steele, D. Lea, C. H. Flood, Fast splittable pseudorandom
//     number generators, OOPSLA 2014 (SplitMix64's mixing function).
//   - Wang Yi, wyhash and wyrand, https://github.com/wangyi-fudan/wyhash
//     (wyrand: state += 0xa0761d6478bd642f, output the xor of the halves
//     of state·(state ⊕ 0xe7037ed1a0b428db); Go's runtime used it as
//     fastrand64).
package privacy
