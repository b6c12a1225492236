package nn_test

import (
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"cliplab/internal/data"
	"cliplab/internal/nn"
)

// mnistDir is the repository's data/mnist, where `make data` puts the files.
func mnistDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "data", "mnist")
}

func loadMNIST(t *testing.T, train, test int) data.Dataset {
	ds, err := data.Load("mnist", data.Options{Dir: mnistDir(t), TrainSize: train, TestSize: test, TrainEvalSize: 100, Seed: 1})
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("MNIST files missing (run `make data`): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// accuracy returns the share of the test split a model classifies right.
func accuracy(m nn.Model, ds data.Dataset) float64 {
	const b = 500
	var batch data.Batch
	d := make([]float32, b*10)
	correct, n := 0, 0
	for i := range ds.NumEvalBatches(data.SplitTest, b) {
		ds.EvalBatch(&batch, data.SplitTest, i, b)
		out := m.Forward(batch.X, batch.B, batch.Steps)
		_, c := nn.SoftmaxCrossEntropy(d, out, batch.Labels, batch.B, 10)
		correct += c
		n += batch.B
	}
	return float64(correct) / float64(n)
}

// TestLearnMNIST: trained on 20,000 MNIST images for 2 epochs (SGD with
// momentum 0.9, lr 0.05, batch 64), mlp2 classifies at least 93% of the
// first 2,000 test images right and the cnn at least 95%. Measured here:
// mlp2 94.4%, cnn 96.6%, and a linear model (mlp without hidden layers)
// trained the same way 88.4%; chance is 10%.
func TestLearnMNIST(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec nn.ArchSpec
		want float64
	}{
		{"mlp2", nn.ArchSpec{Type: "mlp", Hidden: []int{256, 256}}, 0.93},
		{"cnn", nn.ArchSpec{Type: "cnn", Channels: []int{8, 16}}, 0.95},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := loadMNIST(t, 20000, 2000)
			shape := ds.Shape()
			in := nn.Input{C: shape.C, H: shape.H, W: shape.W, Outputs: shape.Outputs}
			m, err := nn.Build(tc.spec, in, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			opt, err := nn.NewOptimizer(nn.OptimSpec{Name: "momentum"}, m.Params())
			if err != nil {
				t.Fatal(err)
			}
			const b = 64
			var batch data.Batch
			d := make([]float32, b*10)
			for epoch := range 2 {
				for i := range ds.NumTrainBatches(b) {
					ds.TrainBatch(&batch, epoch, i, b)
					out := m.Forward(batch.X, batch.B, batch.Steps)
					nn.SoftmaxCrossEntropy(d, out, batch.Labels, batch.B, 10)
					m.Backward(d[:batch.B*10])
					opt.Step(0.05)
				}
			}
			acc := accuracy(m, ds)
			t.Logf("%s: test accuracy %.4f", tc.name, acc)
			if acc < tc.want {
				t.Errorf("%s: test accuracy %.4f, want ≥ %.2f", tc.name, acc, tc.want)
			}
		})
	}
}

// clipNorm scales all gradients so that their global L2 norm is at most c
// (torch.nn.utils.clip_grad_norm_), the clipping the addition task needs.
func clipNorm(ps []*nn.Param, c float64) {
	var s float64
	for _, p := range ps {
		for _, g := range p.G {
			s += float64(g) * float64(g)
		}
	}
	if n := math.Sqrt(s); n > c {
		f := float32(c / (n + 1e-6))
		for _, p := range ps {
			for i := range p.G {
				p.G[i] *= f
			}
		}
	}
}

// TestLearnAddition: a tanh RNN with 50 units learns Pascanu et al.'s
// addition task at T = 10 with Adam (lr 0.01) and clipping at norm 1; in
// PyTorch the same setup solves it after about 2,000 steps (issue 2). Solved
// means most test sequences have squared error below 0.04; predicting the
// mean of the target (the best a network that ignores the markers can do)
// leaves an MSE of Var[(x₁+x₂)/2] = 1/24 ≈ 0.042 and solves
// P(|x₁+x₂−1| < 0.4) = 1 − 0.6² = 64%. Measured here after 2,000 steps:
// every one of 1,000 test sequences solved.
func TestLearnAddition(t *testing.T) {
	ds, err := data.Load("addition", data.Options{SeqLen: 10, TrainSize: 64 * 2000, TestSize: 1000, TrainEvalSize: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	shape := ds.Shape()
	in := nn.Input{Steps: shape.Steps, Feature: shape.Features, Outputs: shape.Outputs}
	m, err := nn.Build(nn.ArchSpec{Type: "rnn", Hidden: []int{50}}, in, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	opt, err := nn.NewOptimizer(nn.OptimSpec{Name: "adam"}, m.Params())
	if err != nil {
		t.Fatal(err)
	}
	const b = 64
	var batch data.Batch
	d := make([]float32, b)
	for i := range 2000 {
		ds.TrainBatch(&batch, 0, i, b)
		out := m.Forward(batch.X, batch.B, batch.Steps)
		nn.MSE(d, out, batch.Targets, batch.B, 1)
		m.Backward(d[:batch.B])
		clipNorm(m.Params(), 1)
		opt.Step(0.01)
	}
	solved, n := 0, 0
	var mse float64
	for i := range ds.NumEvalBatches(data.SplitTest, 100) {
		ds.EvalBatch(&batch, data.SplitTest, i, 100)
		out := m.Forward(batch.X, batch.B, batch.Steps)
		for j := range batch.B {
			if data.Solved(out[j:j+1], batch.Targets[j:j+1]) {
				solved++
			}
			e := float64(out[j] - batch.Targets[j])
			mse += e * e
			n++
		}
	}
	mse /= float64(n)
	t.Logf("addition T=10: test MSE %.5f, solved %d of %d", mse, solved, n)
	if frac := float64(solved) / float64(n); frac < 0.99 || mse > 0.005 {
		t.Errorf("addition T=10 not learnt: test MSE %.5f (chance 0.042), solved %.3f (want ≥ 0.99)", mse, frac)
	}
}
