package train

import (
	"cliplab/internal/data"
	"cliplab/internal/nn"
)

// loss is the task's loss: softmax cross-entropy for classification, mean
// squared error for regression. It keeps the gradient buffer of the last
// forward.
//
// A task with outputs at k > 1 positions per example (data.Shape.OutSteps,
// the copy task) has B·k rows of logits and labels; its loss is the mean
// cross-entropy over all B·k target positions, as PyTorch's
// F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)
// with the other positions' targets -1, and an example is right when every
// one of its k positions is (the sequence is copied exactly).
type loss struct {
	task    data.Task
	outputs int
	k       int // output positions per example, at least 1
	grad    []float32
}

func newLoss(s data.Shape) *loss {
	return &loss{task: s.Task, outputs: s.Outputs, k: max(1, s.OutSteps)}
}

// forward returns the mean loss of out on batch b and leaves dL/dout in grad.
func (l *loss) forward(out []float32, b *data.Batch) float64 {
	v, _ := l.eval(out, b)
	return v
}

// eval returns the mean loss of out on batch b and the number of rows
// (example positions) classified right, leaving dL/dout in grad.
func (l *loss) eval(out []float32, b *data.Batch) (float64, int) {
	rows := b.B * l.k
	n := rows * l.outputs
	if cap(l.grad) < n {
		l.grad = make([]float32, n)
	}
	l.grad = l.grad[:n]
	if l.task == data.Classify {
		return nn.SoftmaxCrossEntropy(l.grad, out[:n], b.Labels[:rows], rows, l.outputs)
	}
	return nn.MSE(l.grad, out[:n], b.Targets[:n], b.B, l.outputs), 0
}

// score returns the mean loss and the number of examples right (classified
// correctly, every position of a multi-position example, or solved) of out
// on batch b.
func (l *loss) score(out []float32, b *data.Batch) (float64, int) {
	v, right := l.eval(out, b)
	switch {
	case l.task == data.Classify && l.k > 1:
		return v, exact(out, b.Labels, b.B, l.k, l.outputs)
	case l.task == data.Classify:
		return v, right
	}
	right = 0
	for i := 0; i < b.B; i++ {
		if data.Solved(out[i*l.outputs:(i+1)*l.outputs], b.Targets[i*l.outputs:(i+1)*l.outputs]) {
			right++
		}
	}
	return v, right
}

// exact counts the examples of logits (b, k, classes) whose every position's
// first maximum is its label.
func exact(logits []float32, labels []int, b, k, classes int) int {
	right := 0
	for i := 0; i < b; i++ {
		ok := true
		for t := 0; t < k && ok; t++ {
			r := i*k + t
			row := logits[r*classes : (r+1)*classes]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			ok = best == labels[r]
		}
		if ok {
			right++
		}
	}
	return right
}

// evaluator measures a model on a split, in batches of EvalBatch.
type evaluator struct {
	model nn.Model
	ds    data.Dataset
	loss  *loss
	batch data.Batch
}

// run returns the mean loss and the accuracy (or fraction solved) of the
// model on split.
func (e *evaluator) run(split string) (loss, acc float64) {
	nb := e.ds.NumEvalBatches(split, EvalBatch)
	var sum float64
	right, total := 0, 0
	for i := 0; i < nb; i++ {
		yield()
		e.ds.EvalBatch(&e.batch, split, i, EvalBatch)
		out := e.model.Forward(e.batch.X, e.batch.B, e.batch.Steps)
		l, r := e.loss.score(out, &e.batch)
		sum += l * float64(e.batch.B)
		right += r
		total += e.batch.B
	}
	if total == 0 {
		return 0, 0
	}
	return sum / float64(total), float64(right) / float64(total)
}
