package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSpectralRadius checks SpectralRadius on matrices whose eigenvalues
// are known: a scaled rotation (±2i), a triangular matrix (its diagonal),
// and a 3-cycle permutation scaled by 0.5 (the cube roots of 1/8).
func TestSpectralRadius(t *testing.T) {
	for _, c := range []struct {
		w    []float32
		h    int
		want float64
	}{
		{[]float32{0, -2, 2, 0}, 2, 2},
		{[]float32{3, 1, 7, 0, -5, 2, 0, 0, 1}, 3, 5},
		{[]float32{0, 0.5, 0, 0, 0, 0.5, 0.5, 0, 0}, 3, 0.5},
		{[]float32{0, 0, 0, 0}, 2, 0},
	} {
		if got := SpectralRadius(c.w, c.h); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("SpectralRadius(%v) = %v, want %v", c.w, got, c.want)
		}
	}
}

// rnnParams builds an rnn of 50 units on 2 features and 1 output (the
// addition task) and returns its parameters by name.
func rnnParams(t *testing.T, spec ArchSpec, seed uint64) map[string]*Param {
	t.Helper()
	spec = spec.Normalize()
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := Build(spec, Input{Feature: 2, Outputs: 1}, rand.New(rand.NewPCG(seed, 2)))
	if err != nil {
		t.Fatal(err)
	}
	ps := map[string]*Param{}
	for _, p := range m.Params() {
		ps[p.Name] = p
	}
	return ps
}

func stdDev(w []float32) float64 {
	var s float64
	for _, v := range w {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(w)))
}

// TestPascanuInits checks RNN.py's two tanh initialisations (Pascanu et al.
// 2013 §5; pascanur/trainingRNNs): the weights' scale (0.1 and 0.01;
// 2,500 recurrent draws put the sample deviation within 5% of it), zero
// biases, and for smart_tanh 15 non-zero outgoing weights per unit and the
// recurrent matrix's spectral radius at 0.95 or the radius given.
func TestPascanuInits(t *testing.T) {
	for _, c := range []struct {
		spec   ArchSpec
		sd     float64
		radius float64 // 0: not rescaled
	}{
		{ArchSpec{Type: "rnn", Hidden: []int{50}, Init: InitBasicTanh}, 0.1, 0},
		{ArchSpec{Type: "rnn", Hidden: []int{50}, Init: InitSmartTanh}, 0.01, 0.95},
		{ArchSpec{Type: "rnn", Hidden: []int{50}, Init: InitSmartTanh, Radius: 1.2}, 0.01, 1.2},
	} {
		for seed := range uint64(3) {
			ps := rnnParams(t, c.spec, seed)
			whh := ps["rnn.weight_hh_l0"].W
			for _, name := range []string{"rnn.bias_ih_l0", "rnn.bias_hh_l0", "fc.bias"} {
				for _, v := range ps[name].W {
					if v != 0 {
						t.Fatalf("%s: %s holds %v, want zeros", c.spec.Init, name, v)
					}
				}
			}
			if sd := stdDev(ps["rnn.weight_ih_l0"].W); sd < c.sd/2 || sd > 2*c.sd {
				t.Errorf("%s: weight_ih deviation %v, want about %v", c.spec.Init, sd, c.sd)
			}
			if sd := stdDev(ps["fc.weight"].W); sd < c.sd/3 || sd > 3*c.sd {
				t.Errorf("%s: fc.weight deviation %v, want about %v", c.spec.Init, sd, c.sd)
			}
			if c.radius == 0 {
				if sd := stdDev(whh); math.Abs(sd-c.sd) > 0.05*c.sd {
					t.Errorf("%s seed %d: weight_hh deviation %v, want %v within 5%%", c.spec.Init, seed, sd, c.sd)
				}
				continue
			}
			for j := range 50 {
				n := 0
				for i := range 50 {
					if whh[i*50+j] != 0 {
						n++
					}
				}
				if n != SmartTanhFanOut {
					t.Fatalf("%s: unit %d has %d outgoing recurrent weights, want %d", c.spec.Init, j, n, SmartTanhFanOut)
				}
			}
			if r := SpectralRadius(whh, 50); math.Abs(r-c.radius) > 1e-5 {
				t.Errorf("%s: spectral radius %v, want %v", c.spec.Init, r, c.radius)
			}
		}
	}
}

// TestRNNInitDefault: an rnn without init keeps PyTorch's initialisation
// and no radius (its key and weights as before init existed).
func TestRNNInitDefault(t *testing.T) {
	spec := ArchSpec{Type: "rnn", Hidden: []int{50}, Radius: 3}.Normalize()
	if spec.Init != "" || spec.Radius != 0 {
		t.Fatalf("Normalize: init %q radius %v, want both unset", spec.Init, spec.Radius)
	}
	if sd := stdDev(rnnParams(t, spec, 1)["rnn.bias_hh_l0"].W); sd == 0 {
		t.Fatal("PyTorch's init left the bias at zero")
	}
	if s := (ArchSpec{Type: "rnn", Hidden: []int{8}, Init: InitBasicTanh, Radius: 2}).Normalize(); s.Radius != 0 {
		t.Errorf("basic_tanh kept radius %v", s.Radius)
	}
}

func TestRNNInitValidate(t *testing.T) {
	for _, c := range []struct {
		spec ArchSpec
		want string
	}{
		{ArchSpec{Type: "rnn", Hidden: []int{8}, Init: "torch"}, `init: "torch" is not allowed for an rnn (allowed: basic_tanh, smart_tanh`},
		{ArchSpec{Type: "rnn", Hidden: []int{8}, Init: "gpt2"}, `init: "gpt2" is not allowed`},
		{ArchSpec{Type: "rnn", Hidden: []int{8}, Cell: "lstm", Init: InitSmartTanh}, "init: smart_tanh is for cell tanh"},
		{ArchSpec{Type: "rnn", Hidden: []int{8}, Init: InitSmartTanh, Radius: -1}, "radius: must be a finite number > 0, got -1"},
		{ArchSpec{Type: "rnn", Hidden: []int{8}, Init: InitSmartTanh, Radius: math.Inf(1)}, "radius: must be a finite number > 0"},
		{ArchSpec{Type: "rnn", Hidden: []int{8}, Init: InitSmartTanh}, ""},
		{ArchSpec{Type: "rnn", Hidden: []int{8}, Init: InitBasicTanh}, ""},
	} {
		err := c.spec.Normalize().Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.spec, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: got %v, want %q", c.spec, err, c.want)
		}
	}
}
