// Pascanu et al.'s (2013) initialisations of the tanh RNN.

package nn

import (
	"math/cmplx"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// RNN initialisations besides PyTorch's default (ArchSpec.Init unset),
// those of Pascanu et al. (2013) §5 and RNN.py in pascanur/trainingRNNs.
const (
	// InitBasicTanh: every weight N(0, 0.1²), biases zero.
	InitBasicTanh = "basic_tanh"
	// InitSmartTanh: input and output weights N(0, 0.01²); the recurrent
	// matrix N(0, 0.01²) with all but SmartTanhFanOut of each unit's
	// outgoing weights zeroed, then scaled to spectral radius
	// ArchSpec.Radius (default DefaultRadius); biases zero.
	InitSmartTanh = "smart_tanh"
)

// RNNInits are the values of an rnn's init besides unset (PyTorch's).
var RNNInits = []string{InitBasicTanh, InitSmartTanh}

// DefaultRadius is smart_tanh's spectral radius, RNN.py's .95.
const DefaultRadius = 0.95

// SmartTanhFanOut is how many of a unit's outgoing recurrent weights
// smart_tanh keeps (RNN.py: W_hh[dx][spng[15:]] = 0).
const SmartTanhFanOut = 15

// initPascanu initialises the tanh RNN l and its output layer fc as RNN.py's
// init does (basic_tanh or smart_tanh, radius for smart_tanh), drawing from
// rng in the order W_ih, W_hh, (the sparsity pattern), fc's weight. RNN.py's
// h·W_hh is h·W_hhᵀ here, so its rows (a unit's outgoing weights) are
// columns of W_hh. It panics for another init.
func initPascanu(init string, radius float64, l *rnnTanh, fc *dense, rng *rand.Rand) {
	sd := 0.01
	switch init {
	case InitBasicTanh:
		sd = 0.1
	case InitSmartTanh:
	default:
		panic("nn: no Pascanu initialisation " + init)
	}
	normal(l.wih.W, sd, rng)
	normal(l.whh.W, sd, rng)
	clear(l.bih.W)
	clear(l.bhh.W)
	if init == InitSmartTanh {
		sparsify(l.whh.W, l.h, SmartTanhFanOut, rng)
		if r := SpectralRadius(l.whh.W, l.h); r > 0 {
			s := radius / r
			for i, w := range l.whh.W {
				l.whh.W[i] = float32(float64(w) * s)
			}
		}
	}
	normal(fc.w.W, sd, rng)
	clear(fc.b.W)
}

// sparsify keeps k random entries of each column of the h×h row-major w
// and zeroes the others (all are kept when k ≥ h).
func sparsify(w []float32, h, k int, rng *rand.Rand) {
	if k >= h {
		return
	}
	for j := range h {
		perm := rng.Perm(h)
		for _, i := range perm[k:] {
			w[i*h+j] = 0
		}
	}
}

// SpectralRadius returns the largest modulus of the eigenvalues of the h×h
// row-major matrix w (gonum's mat.Eigen), or 0 when the factorization
// fails. It panics if len(w) is not h².
func SpectralRadius(w []float32, h int) float64 {
	if len(w) != h*h {
		panic("nn: SpectralRadius: matrix is not h×h")
	}
	d := make([]float64, h*h)
	for i, v := range w {
		d[i] = float64(v)
	}
	var e mat.Eigen
	if !e.Factorize(mat.NewDense(h, h, d), mat.EigenNone) {
		return 0
	}
	var r float64
	for _, v := range e.Values(nil) {
		r = max(r, cmplx.Abs(v))
	}
	return r
}
