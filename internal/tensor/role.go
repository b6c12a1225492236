// Package tensor names what a model's parameter tensors are. The engine
// (nn) marks each parameter with a Role; the clipping methods (clipalgo),
// which know nothing of nn, read the same Role to find a tensor's output
// units. It imports nothing.
package tensor

import "fmt"

// Role says what a parameter tensor is. Every weight is laid out as PyTorch
// lays it out, output units first.
type Role uint8

const (
	DenseWeight     Role = iota // (out, in)
	ConvWeight                  // (out, in, kh, kw)
	Bias                        // (out)
	RecurrentWeight             // RNN/LSTM weight_ih (G·H, D) or weight_hh (G·H, H); G = 1 (tanh) or 4 (LSTM)
	Embedding                   // (rows, D): one row per token (or position), as torch.nn.Embedding
	NormWeight                  // (D): a layer norm's scale, as torch.nn.LayerNorm's weight
)

// String returns the role's name, e.g. "dense_weight".
func (r Role) String() string {
	switch r {
	case DenseWeight:
		return "dense_weight"
	case ConvWeight:
		return "conv_weight"
	case Bias:
		return "bias"
	case RecurrentWeight:
		return "recurrent_weight"
	case Embedding:
		return "embedding"
	case NormWeight:
		return "norm_weight"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Rank is the number of dimensions a tensor of role r has, 0 for a role
// whose rank is not fixed.
func (r Role) Rank() int {
	switch r {
	case DenseWeight, RecurrentWeight, Embedding:
		return 2
	case ConvWeight:
		return 4
	case Bias, NormWeight:
		return 1
	}
	return 0
}
