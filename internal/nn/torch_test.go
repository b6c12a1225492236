package nn

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
)

// The PyTorch reference: Debian's python3-torch (not the python3 on PATH)
// and the script that also drives `runner bench`, so that the benchmark's
// PyTorch models are the ones this test proves equal to ours.
const (
	torchPython = "/usr/bin/python3"
	torchScript = "../../cmd/runner/bench_torch.py"
)

// runTorch sends req to bench_torch.py in the given mode and decodes its
// answer into resp, skipping the test where PyTorch is not installed.
func runTorch(t *testing.T, mode string, req, resp any) {
	t.Helper()
	if _, err := os.Stat(torchPython); err != nil {
		t.Skipf("PyTorch reference skipped: %s not found (Debian: apt-get install python3-torch)", torchPython)
	}
	if err := exec.Command(torchPython, "-c", "import torch").Run(); err != nil {
		t.Skipf("PyTorch reference skipped: %s cannot import torch (Debian: apt-get install python3-torch): %v", torchPython, err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(torchPython, torchScript, mode)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench_torch.py %s: %v\n%s", mode, err, stderr.String())
	}
	if err := json.Unmarshal(out, resp); err != nil {
		t.Fatalf("bench_torch.py %s: %v", mode, err)
	}
}

type torchCheckReq struct {
	Arch       ArchSpec             `json:"arch"`
	Input      Input                `json:"input"`
	Batch      int                  `json:"batch"`
	Steps      int                  `json:"steps"`
	X          []float32            `json:"x"`
	Labels     []int                `json:"labels,omitempty"`
	SeqLabels  []int                `json:"seq_labels,omitempty"` // b·steps targets, -1 where none
	Targets    []float32            `json:"targets,omitempty"`
	Params     map[string][]float32 `json:"params"`
	Optimizer  OptimSpec            `json:"optimizer"`
	LR         float64              `json:"lr"`
	TrainSteps int                  `json:"train_steps"`
	NoDecay    []string             `json:"no_decay,omitempty"`
	Schedule   *torchSchedule       `json:"schedule,omitempty"`
}

type torchCheckResp struct {
	Loss        float64              `json:"loss"`
	Out         []float64            `json:"out"`
	Grads       map[string][]float64 `json:"grads"`
	TrainLosses []float64            `json:"train_losses"`
	LRs         []float64            `json:"lrs"`
	ParamsAfter map[string][]float64 `json:"params_after"`
}

// maxDiff returns max|a−b| and max|b|.
func maxDiff(a []float32, b []float64) (d, scale float64) {
	for i := range b {
		d = max(d, math.Abs(float64(a[i])-b[i]))
		scale = max(scale, math.Abs(b[i]))
	}
	return d, scale
}

// TestAgainstPyTorch gives PyTorch the same weights and batch and compares
// outputs, loss, every gradient, and a few optimizer steps. Float32
// computations that sum in different orders agree to about 1e-6 of a
// tensor's scale; a wrong index or layout disagrees at the scale itself.
func TestAgainstPyTorch(t *testing.T) {
	seq := Input{Steps: 12, Feature: 2, Outputs: 1}
	cases := []struct {
		name  string
		spec  ArchSpec
		in    Input
		b, T  int
		optim OptimSpec
		lr    float64
		sched Schedule // over a run of trainSteps+1 steps
	}{
		{"mlp2", mlp2, mnist, 4, 0, OptimSpec{Name: "sgd"}, 0.1, Schedule{}},
		{"cnn", cnn, mnist, 3, 0, OptimSpec{Name: "momentum", Nesterov: true, WeightDecay: 1e-3}, 0.05, Schedule{}},
		{"rnn", rnn, mnist, 3, 0, OptimSpec{Name: "adam"}, 1e-3, Schedule{}},
		{"lstm", lstmRNN, mnist, 3, 0, OptimSpec{Name: "adamw"}, 1e-3, Schedule{}},
		{"rnn-addition-mse", ArchSpec{Type: "rnn", Hidden: []int{8}}, seq, 4, 13, OptimSpec{Name: "momentum", Dampening: 0.1}, 0.1, Schedule{}},
		{"lstm-addition-mse", ArchSpec{Type: "rnn", Hidden: []int{5}, Cell: "lstm"}, seq, 2, 12, OptimSpec{Name: "adam", WeightDecay: 0.01}, 0.01, Schedule{}},
		{"rnn-image-2ch", ArchSpec{Type: "rnn", Hidden: []int{6}}, Input{C: 2, H: 5, W: 3, Outputs: 4}, 3, 0, OptimSpec{Name: "sgd", WeightDecay: 0.1}, 0.1, Schedule{}},
		{"cnn-tanh-pool3-hidden", ArchSpec{Type: "cnn", Channels: []int{3}, Kernel: 3, Pool: 3, Hidden: []int{5}, Activation: "tanh"}, Input{C: 2, H: 11, W: 10, Outputs: 3}, 2, 0, OptimSpec{Name: "adam"}, 0.01, Schedule{}},
		{"mlp-tanh", ArchSpec{Type: "mlp", Hidden: []int{7, 5}, Activation: "tanh"}, Input{C: 1, H: 4, W: 3, Outputs: 3}, 5, 0, OptimSpec{Name: "momentum"}, 0.1, Schedule{}},
		// eps 1e-4, not 1e-8: the key bias (c_attn.bias[D:2D]) has gradient
		// zero in exact arithmetic (softmax ignores a constant added to a
		// row of scores), so both sides hold only rounding noise of ~1e-9
		// there, which Adam with eps 1e-8 turns into steps of size lr in
		// unrelated directions (a 4e-3 difference after 3 steps).
		{"transformer-2layer", ArchSpec{Type: "transformer", Layers: 2, DModel: 16, Heads: 4, Context: 8},
			Input{Steps: 6, Feature: 1, Vocab: 11, Outputs: 7}, 3, 6, OptimSpec{Name: "adamw", WeightDecay: 0.1, Eps: 1e-4}, 1e-2, Schedule{}},
		{"transformer-tied-gpt2-tanh", ArchSpec{Type: "transformer", Layers: 1, DModel: 8, Heads: 2, DFF: 20, Context: 5, Tied: true, Init: "gpt2", Approximate: "tanh"},
			Input{Steps: 5, Feature: 1, Vocab: 9, Outputs: 9}, 2, 5, OptimSpec{Name: "momentum", WeightDecay: 0.01}, 0.1, Schedule{}},
		{"transformer-tied-short", ArchSpec{Type: "transformer", Layers: 2, DModel: 8, Heads: 1, Context: 6, Tied: true},
			Input{Steps: 4, Feature: 1, Vocab: 9, Outputs: 5}, 3, 4, OptimSpec{Name: "sgd", WeightDecay: 0.1}, 0.1, Schedule{}},
		// Parameter groups (minGPT's, found by PyTorch from module types)
		// and a schedule (PyTorch's lr_scheduler) on the 2-layer model.
		{"transformer-2layer-adamw-nodecay-cosine", ArchSpec{Type: "transformer", Layers: 2, DModel: 16, Heads: 4, Context: 8},
			Input{Steps: 6, Feature: 1, Vocab: 11, Outputs: 7}, 3, 6,
			OptimSpec{Name: "adamw", WeightDecay: 0.5, Eps: 1e-4, NoDecay: GroupBias | GroupNorm | GroupEmbedding}, 3e-2,
			Schedule{Warmup: 1, Decay: "cosine", MinLR: 1e-3}},
		{"transformer-tied-adamw-nodecay-norm-linear", ArchSpec{Type: "transformer", Layers: 2, DModel: 8, Heads: 2, Context: 6, Tied: true},
			Input{Steps: 5, Feature: 1, Vocab: 9, Outputs: 5}, 2, 5,
			OptimSpec{Name: "adamw", WeightDecay: 1, Eps: 1e-4, NoDecay: GroupNorm}, 3e-2,
			Schedule{Warmup: 2, Decay: "linear"}},
		{"transformer-momentum-nodecay-embedding", ArchSpec{Type: "transformer", Layers: 1, DModel: 8, Heads: 2, Context: 6},
			Input{Steps: 5, Feature: 1, Vocab: 9, Outputs: 5}, 2, 5,
			OptimSpec{Name: "momentum", WeightDecay: 0.3, NoDecay: GroupEmbedding | GroupBias}, 0.1,
			Schedule{Decay: "cosine"}},
		{"mlp-sgd-nodecay-bias", mlp2, mnist, 4, 0, OptimSpec{Name: "sgd", WeightDecay: 0.5, NoDecay: GroupBias}, 0.1, Schedule{Warmup: 1}},
	}
	// One request per case, all sent in one run of the script (importing
	// torch takes seconds).
	models := make([]Model, len(cases))
	reqs := make([]torchCheckReq, len(cases))
	for i, tc := range cases {
		rng := rand.New(rand.NewPCG(1, 2))
		m, err := Build(tc.spec, tc.in, rng)
		if err != nil {
			t.Fatal(err)
		}
		n := tc.in.C * tc.in.H * tc.in.W
		if n == 0 {
			n = tc.T * tc.in.Feature
		}
		req := torchCheckReq{Arch: tc.spec.Normalize(), Input: tc.in, Batch: tc.b, Steps: tc.T,
			X: randu(rng, tc.b*n, 1), Params: map[string][]float32{},
			Optimizer: tc.optim.Normalize(), LR: tc.lr, TrainSteps: 3, NoDecay: tc.optim.NoDecay.Names()}
		if !tc.sched.Constant() {
			s := scheduleReq(tc.sched, 0, req.TrainSteps+1)
			req.Schedule = &s
		}
		for i := range req.X {
			req.X[i] = (req.X[i] + 1) / 2 // pixels in [0, 1]
		}
		if tc.in.Vocab > 0 {
			req.X = randTokens(rng, tc.b*tc.T, tc.in.Vocab)
		}
		if tc.in.Outputs == 1 {
			req.Targets = randu(rng, tc.b, 1)
		} else {
			for range tc.b {
				req.Labels = append(req.Labels, rng.IntN(tc.in.Outputs))
			}
		}
		for _, p := range m.Params() {
			req.Params[p.Name] = append([]float32(nil), p.W...)
		}
		models[i], reqs[i] = m, req
	}
	var resps []torchCheckResp
	runTorch(t, "check", reqs, &resps)
	if len(resps) != len(cases) {
		t.Fatalf("%d answers for %d cases", len(resps), len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, req, want := models[i], reqs[i], resps[i]
			regress := req.Targets != nil
			d := make([]float32, tc.b*tc.in.Outputs)
			lossStep := func() float64 {
				out := m.Forward(req.X, tc.b, tc.T)
				if regress {
					return MSE(d, out, req.Targets, tc.b, 1)
				}
				l, _ := SoftmaxCrossEntropy(d, out, req.Labels, tc.b, tc.in.Outputs)
				return l
			}
			loss := lossStep()
			out := m.Forward(req.X, tc.b, tc.T)
			diff, scale := maxDiff(out, want.Out)
			t.Logf("outputs: max diff %.3g, scale %.3g; loss %.9g, PyTorch %.9g", diff, scale, loss, want.Loss)
			if diff > 1e-5*(1+scale) {
				t.Errorf("outputs differ by %g (scale %g)", diff, scale)
			}
			if math.Abs(loss-want.Loss) > 1e-5*(1+math.Abs(want.Loss)) {
				t.Errorf("loss %.8g, PyTorch %.8g", loss, want.Loss)
			}
			lossStep()
			m.Backward(d)
			for _, p := range m.Params() {
				g, ok := want.Grads[p.Name]
				if !ok || len(g) != len(p.G) {
					t.Fatalf("%s: PyTorch has %d values", p.Name, len(g))
				}
				diff, scale := maxDiff(p.G, g)
				t.Logf("%s: gradient max diff %.3g, scale %.3g", p.Name, diff, scale)
				if diff > 1e-4*scale+1e-7 || scale == 0 {
					t.Errorf("%s: gradients differ by %g (scale %g)", p.Name, diff, scale)
				}
			}
			opt, err := NewOptimizer(tc.optim, m.Params())
			if err != nil {
				t.Fatal(err)
			}
			for s := range req.TrainSteps {
				l := lossStep()
				if w := want.TrainLosses[s]; math.Abs(l-w) > 1e-4*(1+math.Abs(w)) {
					t.Errorf("%s step %d: loss %.8g, PyTorch %.8g", tc.optim.Name, s, l, w)
				}
				m.Backward(d)
				lr := tc.sched.LR(tc.lr, s+1, req.TrainSteps+1)
				if w := want.LRs[s]; math.Abs(lr-w) > 1e-12*tc.lr {
					t.Errorf("step %d: lr %.15g, PyTorch %.15g", s+1, lr, w)
				}
				opt.Step(lr)
			}
			for _, p := range m.Params() {
				diff, scale := maxDiff(p.W, want.ParamsAfter[p.Name])
				t.Logf("%s after %d %s steps: weights max diff %.3g, scale %.3g", p.Name, req.TrainSteps, tc.optim.Name, diff, scale)
				if diff > 1e-5*(1+scale) {
					t.Errorf("%s after %d %s steps: weights differ by %g (scale %g)", p.Name, req.TrainSteps, tc.optim.Name, diff, scale)
				}
			}
		})
	}
}
