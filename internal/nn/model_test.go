package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

var (
	mnist   = Input{C: 1, H: 28, W: 28, Outputs: 10}
	mlp2    = ArchSpec{Type: "mlp", Hidden: []int{256, 256}}
	cnn     = ArchSpec{Type: "cnn", Channels: []int{8, 16}}
	rnn     = ArchSpec{Type: "rnn", Hidden: []int{128}}
	lstmRNN = ArchSpec{Type: "rnn", Hidden: []int{128}, Cell: "lstm"}
)

type paramWant struct {
	name  string
	role  Role
	shape []int
	last  bool
}

// TestBuildParams checks names, roles, shapes and counts against the
// state_dict of the equivalent PyTorch modules (see doc.go); the totals are
// sum(p.numel() for p in model.parameters()): mlp2 269,322 = 784·256+256 +
// 256·256+256 + 256·10+10; cnn 5,994 = 8·25+8 + 16·8·25+16 + 256·10+10;
// rnn 21,514 = 128·28 + 128·128 + 2·128 + 128·10+10.
func TestBuildParams(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  ArchSpec
		in    Input
		want  []paramWant
		total int
	}{
		{"mlp2", mlp2, mnist, []paramWant{
			{"0.weight", DenseWeight, []int{256, 784}, false}, {"0.bias", Bias, []int{256}, false},
			{"2.weight", DenseWeight, []int{256, 256}, false}, {"2.bias", Bias, []int{256}, false},
			{"4.weight", DenseWeight, []int{10, 256}, true}, {"4.bias", Bias, []int{10}, true},
		}, 269322},
		{"cnn", cnn, mnist, []paramWant{
			{"0.weight", ConvWeight, []int{8, 1, 5, 5}, false}, {"0.bias", Bias, []int{8}, false},
			{"3.weight", ConvWeight, []int{16, 8, 5, 5}, false}, {"3.bias", Bias, []int{16}, false},
			{"7.weight", DenseWeight, []int{10, 256}, true}, {"7.bias", Bias, []int{10}, true},
		}, 5994},
		{"cnn-nopool-hidden", ArchSpec{Type: "cnn", Channels: []int{4}, Kernel: 3, Pool: 1, Hidden: []int{7}}, Input{C: 2, H: 6, W: 5, Outputs: 3}, []paramWant{
			{"0.weight", ConvWeight, []int{4, 2, 3, 3}, false}, {"0.bias", Bias, []int{4}, false},
			{"3.weight", DenseWeight, []int{7, 48}, false}, {"3.bias", Bias, []int{7}, false},
			{"5.weight", DenseWeight, []int{3, 7}, true}, {"5.bias", Bias, []int{3}, true},
		}, 4*18 + 4 + 7*48 + 7 + 21 + 3},
		{"rnn", rnn, mnist, []paramWant{
			{"rnn.weight_ih_l0", RecurrentWeight, []int{128, 28}, false}, {"rnn.weight_hh_l0", RecurrentWeight, []int{128, 128}, false},
			{"rnn.bias_ih_l0", Bias, []int{128}, false}, {"rnn.bias_hh_l0", Bias, []int{128}, false},
			{"fc.weight", DenseWeight, []int{10, 128}, true}, {"fc.bias", Bias, []int{10}, true},
		}, 21514},
		{"lstm-addition", ArchSpec{Type: "rnn", Hidden: []int{50}, Cell: "lstm"}, Input{Steps: 10, Feature: 2, Outputs: 1}, []paramWant{
			{"rnn.weight_ih_l0", RecurrentWeight, []int{200, 2}, false}, {"rnn.weight_hh_l0", RecurrentWeight, []int{200, 50}, false},
			{"rnn.bias_ih_l0", Bias, []int{200}, false}, {"rnn.bias_hh_l0", Bias, []int{200}, false},
			{"fc.weight", DenseWeight, []int{1, 50}, true}, {"fc.bias", Bias, []int{1}, true},
		}, 200*2 + 200*50 + 400 + 51},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Build(tc.spec, tc.in, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			ps := m.Params()
			if len(ps) != len(tc.want) {
				t.Fatalf("%d params, want %d", len(ps), len(tc.want))
			}
			total := 0
			for i, p := range ps {
				w := tc.want[i]
				if p.Name != w.name || p.Role != w.role || !slices.Equal(p.Shape, w.shape) || p.Last != w.last {
					t.Errorf("param %d = %s %v %v last=%v, want %s %v %v last=%v", i, p.Name, p.Role, p.Shape, p.Last, w.name, w.role, w.shape, w.last)
				}
				if len(p.W) != p.Size() || len(p.G) != len(p.W) {
					t.Errorf("%s: len W %d, G %d", p.Name, len(p.W), len(p.G))
				}
				total += len(p.W)
			}
			if total != tc.total {
				t.Errorf("%d values, want %d", total, tc.total)
			}
		})
	}
}

// TestInit checks PyTorch's default bounds: nn.Linear and nn.Conv2d draw
// weight and bias from U(±1/√fan_in), nn.RNN and nn.LSTM from U(±1/√H)
// (torch.nn docs, "Variables"); and that the values fill the range.
func TestInit(t *testing.T) {
	for _, tc := range []struct {
		spec   ArchSpec
		bounds []float64 // per parameter
	}{
		{mlp2, []float64{1 / math.Sqrt(784), 1 / math.Sqrt(784), 1.0 / 16, 1.0 / 16, 1.0 / 16, 1.0 / 16}},
		{cnn, []float64{1.0 / 5, 1.0 / 5, 1 / math.Sqrt(200), 1 / math.Sqrt(200), 1.0 / 16, 1.0 / 16}},
		{lstmRNN, []float64{1 / math.Sqrt(128), 1 / math.Sqrt(128), 1 / math.Sqrt(128), 1 / math.Sqrt(128), 1 / math.Sqrt(128), 1 / math.Sqrt(128)}},
	} {
		m, err := Build(tc.spec, mnist, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range m.Params() {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range p.W {
				lo, hi = min(lo, float64(v)), max(hi, float64(v))
			}
			bound := tc.bounds[i]
			if lo < -bound || hi > bound {
				t.Errorf("%s %s: values in [%g, %g], want within ±%g", tc.spec.Type, p.Name, lo, hi, bound)
			}
			// n uniform draws leave a gap of about 2·bound/n at each end.
			if slack := 2 * bound * 20 / float64(len(p.W)); len(p.W) >= 100 && (lo > -bound+slack || hi < bound-slack) {
				t.Errorf("%s %s: values in [%g, %g] do not fill ±%g", tc.spec.Type, p.Name, lo, hi, bound)
			}
		}
	}
	a, _ := Build(cnn, mnist, rand.New(rand.NewPCG(7, 8)))
	b, _ := Build(cnn, mnist, rand.New(rand.NewPCG(7, 8)))
	c, _ := Build(cnn, mnist, rand.New(rand.NewPCG(7, 9)))
	if !slices.Equal(a.Params()[2].W, b.Params()[2].W) || slices.Equal(a.Params()[2].W, c.Params()[2].W) {
		t.Error("initial weights are not a function of the seed alone")
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		spec ArchSpec
		in   Input
	}{
		{ArchSpec{Type: "transformer"}, mnist},
		{ArchSpec{Type: "mlp", Hidden: []int{0}}, mnist},
		{ArchSpec{Type: "cnn", Channels: []int{8, 16, 32}}, mnist},                            // does not fit 28×28
		{ArchSpec{Type: "cnn", Channels: []int{4}}, Input{Steps: 10, Feature: 2, Outputs: 1}}, // sequence
		{ArchSpec{Type: "mlp", Hidden: []int{4}}, Input{Feature: 2, Outputs: 1}},              // variable length
		{rnn, Input{C: 1, H: 28, W: 28}},                                                      // no outputs
		{rnn, Input{Outputs: 3}},                                                              // no shape
	} {
		if _, err := Build(tc.spec, tc.in, rand.New(rand.NewPCG(1, 2))); err == nil {
			t.Errorf("Build(%+v, %+v) succeeded", tc.spec, tc.in)
		}
	}
	if _, err := Build(rnn, Input{Outputs: 3}, rand.New(rand.NewPCG(1, 2))); !errors.Is(err, ErrInput) {
		t.Errorf("missing shape: error %v, want ErrInput", err)
	}
}

// TestModelGrad checks every architecture end to end against central
// differences: L = Σ out·r, so dL/dout = r.
func TestModelGrad(t *testing.T) {
	img := Input{C: 1, H: 6, W: 5, Outputs: 3}
	seq := Input{Steps: 4, Feature: 3, Outputs: 2}
	for _, tc := range []struct {
		name string
		spec ArchSpec
		in   Input
		b, T int
	}{
		{"mlp-relu", ArchSpec{Type: "mlp", Hidden: []int{6, 5}}, img, 3, 0},
		{"mlp-tanh", ArchSpec{Type: "mlp", Hidden: []int{4}, Activation: "tanh"}, img, 2, 0},
		{"mlp-linear", ArchSpec{Type: "mlp"}, img, 2, 0},
		{"cnn", ArchSpec{Type: "cnn", Channels: []int{2, 3}, Kernel: 2, Hidden: []int{4}}, Input{C: 2, H: 7, W: 8, Outputs: 3}, 2, 0},
		{"cnn-tanh-nopool", ArchSpec{Type: "cnn", Channels: []int{3}, Kernel: 3, Pool: 1, Activation: "tanh"}, img, 2, 0},
		{"rnn-image", ArchSpec{Type: "rnn", Hidden: []int{4}}, img, 3, 0},
		{"rnn-image-2ch", ArchSpec{Type: "rnn", Hidden: []int{3}}, Input{C: 2, H: 3, W: 2, Outputs: 2}, 2, 0},
		{"rnn-seq", ArchSpec{Type: "rnn", Hidden: []int{5}}, seq, 2, 4},
		{"rnn-seq-longer", ArchSpec{Type: "rnn", Hidden: []int{5}}, seq, 2, 6},
		{"lstm-image", ArchSpec{Type: "rnn", Hidden: []int{3}, Cell: "lstm"}, img, 2, 0},
		{"lstm-seq", ArchSpec{Type: "rnn", Hidden: []int{4}, Cell: "lstm"}, seq, 3, 5},
		{"transformer", ArchSpec{Type: "transformer", Layers: 2, DModel: 8, Heads: 2, Context: 6}, Input{Steps: 5, Feature: 1, Vocab: 7, Outputs: 4}, 2, 5},
		{"transformer-tied-shorter", ArchSpec{Type: "transformer", Layers: 1, DModel: 6, Heads: 3, DFF: 10, Context: 6, Tied: true, Approximate: "tanh"}, Input{Steps: 5, Feature: 1, Vocab: 7, Outputs: 5}, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			m, err := Build(tc.spec, tc.in, rng)
			if err != nil {
				t.Fatal(err)
			}
			n := tc.in.C * tc.in.H * tc.in.W
			if n == 0 {
				n = tc.T * tc.in.Feature
			}
			x := randu(rng, tc.b*n, 1)
			if tc.in.Vocab > 0 {
				x = randTokens(rng, tc.b*n, tc.in.Vocab)
				// Off torch's layer norms (weight 1, bias 0), where a
				// gradient swapped between the two would pass.
				for _, p := range m.Params() {
					uniform(p.W, 0.6, rng)
				}
			}
			r := randu(rng, tc.b*tc.in.Outputs, 1)
			f := func() float64 { return dot(m.Forward(x, tc.b, tc.T), r) }
			f()
			m.Backward(r)
			for _, p := range m.Params() {
				checkGrad(t, p.Name, p.W, p.G, f)
			}
		})
	}
}

// trainSteps trains a fresh model from seed for n SGD steps on seeded
// random data and returns its weights and losses.
func trainSteps(t testing.TB, spec ArchSpec, in Input, seed uint64, b, n int) ([]float32, []float64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	m, err := Build(spec, in, rng)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := NewOptimizer(OptimSpec{Name: "momentum"}, m.Params())
	if err != nil {
		t.Fatal(err)
	}
	x := randu(rng, b*in.C*in.H*in.W, 1)
	labels := make([]int, b)
	for i := range labels {
		labels[i] = rng.IntN(in.Outputs)
	}
	d := make([]float32, b*in.Outputs)
	var losses []float64
	for range n {
		out := m.Forward(x, b, 0)
		loss, _ := SoftmaxCrossEntropy(d, out, labels, b, in.Outputs)
		losses = append(losses, loss)
		m.Backward(d)
		opt.Step(0.05)
	}
	var w []float32
	for _, p := range m.Params() {
		w = append(w, p.W...)
	}
	return w, losses
}

// TestDeterminism: the same seed gives bit-identical weights and losses,
// alone or while other goroutines train other models (DESIGN.md, "Seeds and
// determinism").
func TestDeterminism(t *testing.T) {
	for _, spec := range []ArchSpec{mlp2, cnn, rnn, lstmRNN} {
		t.Run(spec.Type+spec.Cell, func(t *testing.T) {
			const b, n = 16, 5
			w0, l0 := trainSteps(t, spec, mnist, 3, b, n)
			var wg sync.WaitGroup
			results := make([][]float32, 4)
			losses := make([][]float64, 4)
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if g%2 == 1 { // a different model beside it
						trainSteps(t, []ArchSpec{mlp2, cnn, rnn, lstmRNN}[g%4], mnist, uint64(10+g), 32, n)
					}
					results[g], losses[g] = trainSteps(t, spec, mnist, 3, b, n)
				}()
			}
			wg.Wait()
			if l0[n-1] >= l0[0] {
				t.Errorf("loss did not fall on a fixed batch: %v", l0)
			}
			for g := range results {
				if !slices.Equal(results[g], w0) || !slices.Equal(losses[g], l0) {
					t.Fatalf("goroutine %d: weights or losses differ from the lone run", g)
				}
			}
		})
	}
}

// TestStepAllocs: a training step at a fixed batch size allocates nothing
// after the first.
func TestStepAllocs(t *testing.T) {
	for _, spec := range []ArchSpec{mlp2, cnn, rnn, lstmRNN} {
		rng := rand.New(rand.NewPCG(1, 2))
		m, _ := Build(spec, mnist, rng)
		opt, _ := NewOptimizer(OptimSpec{Name: "adam"}, m.Params())
		const b = 8
		x := randu(rng, b*784, 1)
		labels := make([]int, b)
		d := make([]float32, b*10)
		step := func() {
			out := m.Forward(x, b, 0)
			SoftmaxCrossEntropy(d, out, labels, b, 10)
			m.Backward(d)
			opt.Step(1e-3)
		}
		step()
		if a := testing.AllocsPerRun(3, step); a != 0 {
			t.Errorf("%s%s: %v allocations per step", spec.Type, spec.Cell, a)
		}
	}
}

// TestBatchSizes: the outputs of an example do not depend on the batch it
// is in, whatever the batch size (big evaluation batches, a short last one).
func TestBatchSizes(t *testing.T) {
	for _, spec := range []ArchSpec{mlp2, cnn, rnn, lstmRNN} {
		rng := rand.New(rand.NewPCG(1, 2))
		m, _ := Build(spec, mnist, rng)
		x := randu(rng, 70*784, 1)
		big := slices.Clone(m.Forward(x, 70, 0))
		for _, b := range []int{1, 3, 64, 70} {
			out := m.Forward(x, b, 0)
			for i := range out {
				if d := math.Abs(float64(out[i] - big[i])); d > 1e-5 {
					t.Fatalf("%s%s batch %d: output %d = %v, in a batch of 70 %v", spec.Type, spec.Cell, b, i, out[i], big[i])
				}
			}
		}
	}
}

func TestFLOPs(t *testing.T) {
	// mlp 4 → 3 → 2 (ReLU), batch 5. Dense 4→3 (first layer, no dx):
	// forward 2·5·4·3 + 15 (bias), dW 2·5·4·3 + db 15, ReLU and ReLU' 2·15;
	// dense 3→2: forward 2·5·3·2 + 10, dW 60 + db 10, dx 60.
	m, _ := Build(ArchSpec{Type: "mlp", Hidden: []int{3}}, Input{C: 1, H: 2, W: 2, Outputs: 2}, rand.New(rand.NewPCG(1, 2)))
	want := int64(120+15+120+15+30) + int64(60+10+60+10+60)
	if got := m.FLOPs(5, 0); got != want {
		t.Errorf("FLOPs = %d, want %d", got, want)
	}
	// Per step, the GEMMs dominate: mlp2 at batch 64 multiplies-and-adds
	// 64·(784·256 + 256·256 + 256·10) = 17.2M times forward, twice that
	// backward less the input gradient of the first layer (12.8M).
	m, _ = Build(mlp2, mnist, rand.New(rand.NewPCG(1, 2)))
	mac := int64(64 * (784*256 + 256*256 + 2560))
	gemm := 2 * (3*mac - 64*784*256)
	if got := m.FLOPs(64, 0); got < gemm || got > gemm+gemm/100 {
		t.Errorf("mlp2 FLOPs = %d, want GEMMs %d plus under 1%%", got, gemm)
	}
	for _, spec := range []ArchSpec{cnn, rnn, lstmRNN} {
		m, _ := Build(spec, mnist, rand.New(rand.NewPCG(1, 2)))
		if f1, f2 := m.FLOPs(1, 0), m.FLOPs(2, 0); f1 <= 0 || f2 != 2*f1 {
			t.Errorf("%s%s: FLOPs(1) = %d, FLOPs(2) = %d: not linear in the batch", spec.Type, spec.Cell, f1, f2)
		}
	}
}
