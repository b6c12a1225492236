package train

import (
	"cliplab/internal/data"
	"cliplab/internal/nn"
)

// loss is the task's loss: softmax cross-entropy for classification, mean
// squared error for regression. It keeps the gradient buffer of the last
// forward.
type loss struct {
	task    data.Task
	outputs int
	grad    []float32
}

func newLoss(s data.Shape) *loss { return &loss{task: s.Task, outputs: s.Outputs} }

// forward returns the mean loss of out on batch b and leaves dL/dout in grad.
func (l *loss) forward(out []float32, b *data.Batch) float64 {
	n := b.B * l.outputs
	if cap(l.grad) < n {
		l.grad = make([]float32, n)
	}
	l.grad = l.grad[:n]
	if l.task == data.Classify {
		v, _ := nn.SoftmaxCrossEntropy(l.grad, out[:n], b.Labels[:b.B], b.B, l.outputs)
		return v
	}
	return nn.MSE(l.grad, out[:n], b.Targets[:n], b.B, l.outputs)
}

// score returns the mean loss and the number of examples right (classified
// correctly, or solved) of out on batch b.
func (l *loss) score(out []float32, b *data.Batch) (float64, int) {
	n := b.B * l.outputs
	if cap(l.grad) < n {
		l.grad = make([]float32, n)
	}
	l.grad = l.grad[:n]
	if l.task == data.Classify {
		return nn.SoftmaxCrossEntropy(l.grad, out[:n], b.Labels[:b.B], b.B, l.outputs)
	}
	v := nn.MSE(l.grad, out[:n], b.Targets[:n], b.B, l.outputs)
	right := 0
	for i := 0; i < b.B; i++ {
		if data.Solved(out[i*l.outputs:(i+1)*l.outputs], b.Targets[i*l.outputs:(i+1)*l.outputs]) {
			right++
		}
	}
	return v, right
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
