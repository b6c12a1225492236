package nn

import "math"

// SoftmaxCrossEntropy computes torch.nn.CrossEntropyLoss (mean over the
// batch) of logits (b, classes) against labels, writes its gradient
// dL/dlogits into dlogits, and returns the mean loss and the number of rows
// whose first maximum is the label. It works in float64 internally. It
// panics if a label is outside [0, classes).
func SoftmaxCrossEntropy(dlogits, logits []float32, labels []int, b, classes int) (loss float64, correct int) {
	inv := 1 / float64(b)
	for i := 0; i < b; i++ {
		row := logits[i*classes : (i+1)*classes]
		drow := dlogits[i*classes : (i+1)*classes]
		y := labels[i]
		if y < 0 || y >= classes {
			panic("nn: label out of range")
		}
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == y {
			correct++
		}
		m := float64(row[best])
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - m)
		}
		logSum := math.Log(sum)
		loss -= float64(row[y]) - m - logSum
		for j, v := range row {
			p := math.Exp(float64(v) - m - logSum)
			if j == y {
				p--
			}
			drow[j] = float32(p * inv)
		}
	}
	return loss * inv, correct
}

// MSE computes torch.nn.MSELoss (mean over all b·n values) of out against
// target, writes dL/dout = 2(out − target)/(b·n) into dout and returns the
// loss.
func MSE(dout, out, target []float32, b, n int) float64 {
	inv := 1 / float64(b*n)
	var loss float64
	for i := 0; i < b*n; i++ {
		d := float64(out[i]) - float64(target[i])
		loss += d * d
		dout[i] = float32(2 * d * inv)
	}
	return loss * inv
}
