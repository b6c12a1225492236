package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/grid"
	"cliplab/internal/nn"
	"cliplab/internal/record"
)

func TestMain(m *testing.M) {
	if err := nn.EnsureBLAS(); err != nil {
		fmt.Fprintf(os.Stderr, "train test: WARNING: %v\n", err)
	}
	os.Exit(m.Run())
}

// mnistDir is the repository's data/mnist, where make data puts the files.
func mnistDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "data", "mnist")
	if _, err := data.LoadMNIST(dir); err != nil {
		t.Skipf("MNIST not available (%v): run make data", err)
	}
	return dir
}

// recorder is a Sink that keeps everything.
type recorder struct {
	steps []record.Step
	evals []record.Eval
}

func (r *recorder) Step(s record.Step) error { r.steps = append(r.steps, s); return nil }
func (r *recorder) Eval(e record.Eval) error { r.evals = append(r.evals, e); return nil }

// withoutTimes returns the metrics with timings zeroed, for comparing runs.
func (r *recorder) withoutTimes() ([]record.Step, []record.Eval) {
	s := append([]record.Step(nil), r.steps...)
	e := append([]record.Eval(nil), r.evals...)
	for i := range s {
		s[i].ElapsedS = 0
	}
	for i := range e {
		e[i].ElapsedS = 0
	}
	return s, e
}

// config parses a one-configuration experiment file written inline.
func parseConfig(t testing.TB, yaml string) config.Config {
	t.Helper()
	exp, err := grid.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := exp.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 1 {
		t.Fatalf("%d configs, want 1", len(cfgs))
	}
	return cfgs[0]
}

func run(t testing.TB, ctx context.Context, c config.Config, dir string) (record.Result, *recorder) {
	t.Helper()
	ds, err := data.Load(c.Dataset, DataOptions(c, dir))
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	res, err := Run(ctx, c, ds, &r)
	if err != nil {
		t.Fatal(err)
	}
	return res, &r
}

const mlpYAML = `
name: t
dataset: mnist
data: {train_size: 5000, test_size: 2000, train_eval_size: 1000}
train: {epochs: 3, batch_size: 64, optimizer: {name: momentum, momentum: 0.9}, eval_every: 0}
archs:
  mlp2: {type: mlp, hidden: [256, 256]}
grid:
  arch: [mlp2]
  lr: [0.05]
  seed: [1]
  clip: [{method: norm, threshold: 5}]
`

// TestMLPLearnsMNIST: mlp2 on 5,000 MNIST images reaches a test accuracy
// only a working network reaches. Reference: the same model, data,
// optimizer and clipping in PyTorch 1.13 on this machine (SGD momentum 0.9,
// lr 0.05, clip_grad_norm_ 5, 3 epochs, first 2,000 test images) reached
// 0.886, 0.879, 0.896, 0.901, 0.889 for seeds 1–5; chance is 0.1.
func TestMLPLearnsMNIST(t *testing.T) {
	dir := mnistDir(t)
	c := parseConfig(t, mlpYAML)
	res, r := run(t, context.Background(), c, dir)
	if res.Status != record.Done {
		t.Fatalf("status %s (%s)", res.Status, res.Error)
	}
	if want := 3 * 79; res.Steps != want { // ⌈5000/64⌉ = 79 batches per epoch
		t.Fatalf("steps %d, want %d", res.Steps, want)
	}
	// One evaluation of each split at the end of each epoch, and five in
	// the tail window (the last ⌈0.05·237⌉ = 12 steps: 237 − ⌊12k/5⌋), the
	// last of them the end of the third epoch.
	var at []int
	for _, e := range r.evals {
		if e.Split == data.SplitTest {
			at = append(at, e.Step)
		}
	}
	if want := []int{79, 158, 228, 230, 233, 235, 237}; !slices.Equal(at, want) || len(r.evals) != 2*len(want) {
		t.Fatalf("test evaluations at steps %v, want %v (%d evaluations in all)", at, want, len(r.evals))
	}
	last := r.evals[len(r.evals)-2]
	if last.Split != data.SplitTest || last.Step != res.Steps {
		t.Fatalf("last test eval %+v", last)
	}
	t.Logf("test acc %.4f loss %.4f after %d steps; train-sample acc %.4f", last.Acc, last.Loss, res.Steps, r.evals[len(r.evals)-1].Acc)
	if last.Acc < 0.87 {
		t.Fatalf("test accuracy %.4f < 0.87", last.Acc)
	}
	if r.steps[0].Loss < 2.0 || r.steps[0].Loss > 2.6 {
		t.Fatalf("first loss %.4f, want about ln 10 = 2.30", r.steps[0].Loss)
	}
	if len(r.steps) != res.Steps {
		t.Fatalf("%d logged steps with log_every 1, want %d", len(r.steps), res.Steps)
	}
	model, err := nn.Build(c.Arch, Input(data.Shape{C: 1, H: 28, W: 28, Outputs: 10}), rand.New(rand.NewPCG(1, 2)))
	if err == nil {
		// 78 full batches of 64 and one of 8 per epoch.
		want := 3 * float64(78*model.FLOPs(64, 0)+model.FLOPs(8, 0))
		if res.TrainFLOPs != want {
			t.Fatalf("train FLOPs %v, want %v", res.TrainFLOPs, want)
		}
	}
}

// TestRNNLearnsAddition: a 50-unit tanh RNN learns Pascanu's addition task
// at T = 10 with Adam (lr 0.01) and norm clipping at 1, as in PyTorch it
// does after about 2,000 steps (issue 2). Predicting the mean solves 64% of
// sequences (cmd/report derives it) with an MSE of 1/24 ≈ 0.042. Measured
// here: every one of the 1,000 test sequences solved from step 300 on, MSE
// 0.00092 at step 1,000; want ≥ 0.99 solved and MSE ≤ 0.005, as
// internal/nn's own addition test (2,000 steps) asked before it was folded
// into this one (issue 10).
func TestRNNLearnsAddition(t *testing.T) {
	c := parseConfig(t, `
name: t
dataset: addition
data: {seq_len: 10, train_size: 32000, test_size: 1000, train_eval_size: 1000}
train: {epochs: 2, batch_size: 64, optimizer: adam, eval_every: 100}
archs:
  rnn: {type: rnn, cell: tanh, hidden: 50}
grid:
  arch: [rnn]
  lr: [0.01]
  seed: [1]
  clip: [{method: norm, threshold: 1}]
`)
	res, r := run(t, context.Background(), c, "")
	if res.Status != record.Done {
		t.Fatalf("status %s (%s)", res.Status, res.Error)
	}
	var test []record.Eval
	for _, e := range r.evals {
		if e.Split == data.SplitTest {
			test = append(test, e)
		}
	}
	for _, e := range test {
		t.Logf("step %5d: test MSE %.5f solved %.3f", e.Step, e.Loss, e.Acc)
	}
	// Predicting the mean (0.5) has MSE Var(m) = 1/24 ≈ 0.042 for m the
	// mean of two U[0,1].
	last := test[len(test)-1]
	if last.Acc < 0.99 || last.Loss > 0.005 {
		t.Fatalf("solved %.3f of test sequences (MSE %.4f) after %d steps, want ≥ 0.99 (MSE ≤ 0.005)", last.Acc, last.Loss, res.Steps)
	}
	if first := r.steps[0]; first.Loss < 0.02 {
		t.Fatalf("first training loss %.4f: the task looks solved before training", first.Loss)
	}
}

// TestDeterminism: the same configuration gives bit-identical metrics,
// alone or beside other runs in other goroutines (DESIGN.md, "Seeds and
// determinism").
func TestDeterminism(t *testing.T) {
	dir := mnistDir(t)
	yaml := `
name: t
dataset: mnist
data: {train_size: 1000, test_size: 500, train_eval_size: 500}
train: {epochs: 2, batch_size: 32, optimizer: adam, eval_every: 10}
archs:
  cnn: {type: cnn, channels: [4, 8]}
grid: {arch: [cnn], lr: [0.003], seed: [7], clip: [{method: agc, threshold: 0.05}]}
`
	c := parseConfig(t, yaml)
	_, alone := run(t, context.Background(), c, dir)
	s0, e0 := alone.withoutTimes()

	// Four copies at once, beside two other configurations.
	other := c
	other.Seed = 8
	var wg sync.WaitGroup
	recs := make([]*recorder, 6)
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := c
			if i >= 4 {
				cc = other
			}
			_, recs[i] = run(t, context.Background(), cc, dir)
		}()
	}
	wg.Wait()
	for i := 0; i < 4; i++ {
		s, e := recs[i].withoutTimes()
		if !reflect.DeepEqual(s, s0) || !reflect.DeepEqual(e, e0) {
			t.Fatalf("copy %d differs from the run alone", i)
		}
	}
	s8, _ := recs[4].withoutTimes()
	if reflect.DeepEqual(s8, s0) {
		t.Fatalf("seed 8 gave the same metrics as seed 7")
	}
}

// TestDivergence: a huge learning rate without clipping diverges; the run
// stops at the first step whose loss is non-finite or above
// divergence_loss, and that step is logged, so the curve ends there.
func TestDivergence(t *testing.T) {
	dir := mnistDir(t)
	c := parseConfig(t, `
name: t
dataset: mnist
data: {train_size: 2000, test_size: 200, train_eval_size: 200}
train: {epochs: 1, batch_size: 64, divergence_loss: 100, log_every: 5}
archs: {mlp: {type: mlp, hidden: [64]}}
grid: {arch: [mlp], lr: [100], seed: [1], clip: [none]}
`)
	res, r := run(t, context.Background(), c, dir)
	if res.Status != record.Diverged {
		t.Fatalf("status %s, want diverged", res.Status)
	}
	if res.Steps >= 32 || res.Steps < 1 {
		t.Fatalf("diverged after %d steps: want early", res.Steps)
	}
	last := r.steps[len(r.steps)-1]
	if last.Step != res.Steps || !(last.Loss > 100 || math.IsNaN(last.Loss) || math.IsInf(last.Loss, 0)) {
		t.Fatalf("last logged step %+v; run ended at %d (%s)", last, res.Steps, res.Error)
	}
	if len(r.evals) != 0 {
		t.Fatalf("a diverged run was evaluated: %+v", r.evals)
	}
	t.Logf("%s", res.Error)

	// The same run with clipping trains.
	c.Clip = clipalgo.Spec{Method: "norm", Threshold: 0.5}.Normalize()
	c.LR = 1
	res, _ = run(t, context.Background(), c, dir)
	if res.Status != record.Done {
		t.Fatalf("clipped run: %s (%s)", res.Status, res.Error)
	}
}

// TestInterrupt: a cancelled context ends the run after the step in flight.
func TestInterrupt(t *testing.T) {
	dir := mnistDir(t)
	c := parseConfig(t, mlpYAML)
	ctx, cancel := context.WithCancel(context.Background())
	ds, err := data.Load(c.Dataset, DataOptions(c, dir))
	if err != nil {
		t.Fatal(err)
	}
	sink := &cancelAt{at: 10, cancel: cancel}
	res, err := Run(ctx, c, ds, sink)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != record.Interrupted || res.Steps != 10 {
		t.Fatalf("status %s after %d steps, want interrupted after 10", res.Status, res.Steps)
	}
}

type cancelAt struct {
	recorder
	at     int
	cancel func()
}

func (c *cancelAt) Step(s record.Step) error {
	if s.Step == c.at {
		c.cancel()
	}
	return c.recorder.Step(s)
}

// TestEveryMethodTrains: every clip method the grid accepts builds a
// clipper and trains a few steps of every arch type, so the grid, clipalgo
// and nn agree on names and roles.
func TestEveryMethodTrains(t *testing.T) {
	dir := mnistDir(t)
	for _, arch := range []string{"{type: mlp, hidden: [32]}", "{type: cnn, channels: [2]}", "{type: rnn, hidden: [16]}", "{type: rnn, cell: lstm, hidden: [16]}"} {
		for _, m := range clipalgo.MethodNames() {
			clip := "{method: " + m + ", threshold: 0.5}"
			train := "{epochs: 1, batch_size: 64}"
			if d, _ := clipalgo.Lookup(m); d.Needs == clipalgo.PerExampleGradients {
				train = "{epochs: 1, batch_size: 64, noise_multiplier: 1}"
			}
			if m == "none" {
				clip = "none"
			} else if m == "autoclip" {
				clip = "{method: autoclip, threshold: 10}"
			}
			c := parseConfig(t, `
name: t
dataset: mnist
data: {train_size: 256, test_size: 64, train_eval_size: 64}
train: `+train+`
archs: {a: `+arch+`}
grid: {arch: [a], lr: [0.1], seed: [1], clip: [`+clip+`]}
`)
			res, r := run(t, context.Background(), c, dir)
			if res.Status != record.Done || len(r.steps) != 4 {
				t.Errorf("%s %s: %s after %d steps (%s)", arch, m, res.Status, res.Steps, res.Error)
				continue
			}
			for _, s := range r.steps {
				if !(s.GradNorm > 0) || s.ClippedNorm > s.GradNorm*(1+1e-6) {
					t.Errorf("%s %s: step %+v", arch, m, s)
				}
			}
		}
	}
}

// TestDropLast: drop_last leaves out each epoch's partial batch (as
// PyTorch's DataLoader(drop_last=True)); without it the epoch ends with it.
func TestDropLast(t *testing.T) {
	dir := mnistDir(t)
	yaml := `
name: t
dataset: mnist
data: {train_size: 200, test_size: 100, train_eval_size: 50}
train: {epochs: 2, batch_size: 64, eval_every: 0, drop_last: DROP}
archs:
  m: {type: mlp, hidden: [8]}
grid:
  arch: [m]
  lr: [0.1]
  seed: [1]
  clip: [none]
`
	for _, tc := range []struct {
		drop  string
		steps int
	}{{"false", 2 * 4}, {"true", 2 * 3}} { // 200 = 3·64 + 8
		c := parseConfig(t, strings.ReplaceAll(yaml, "DROP", tc.drop))
		res, r := run(t, context.Background(), c, dir)
		if res.Status != record.Done || res.Steps != tc.steps || c.Steps() != tc.steps {
			t.Fatalf("drop_last %s: %s after %d steps (config says %d), want %d", tc.drop, res.Status, res.Steps, c.Steps(), tc.steps)
		}
		model, err := nn.Build(c.Arch, Input(data.Shape{C: 1, H: 28, W: 28, Outputs: 10}), rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		want := 2 * float64(3*model.FLOPs(64, 0))
		if tc.drop == "false" {
			want += 2 * float64(model.FLOPs(8, 0))
		}
		if res.TrainFLOPs != want {
			t.Errorf("drop_last %s: %v FLOPs, want %v (only full batches)", tc.drop, res.TrainFLOPs, want)
		}
		if len(r.steps) != tc.steps || r.steps[len(r.steps)-1].Epoch != 1 {
			t.Errorf("drop_last %s: %d logged steps, last %+v", tc.drop, len(r.steps), r.steps[len(r.steps)-1])
		}
	}
}
