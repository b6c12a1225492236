package nn

// Parameter groups for weight decay: which tensors an optimizer's
// no_decay option exempts; and the telemetry groups of step_norms.

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Groups is a set of parameter groups, as optimizer's no_decay lists them.
// Its JSON is the list of names in the order of GroupNames.
type Groups uint8

// The groups. A tensor may be in more than one (a layer norm's bias is in
// bias and norm).
const (
	GroupBias      Groups = 1 << iota // every bias (Role Bias)
	GroupNorm                         // a layer norm's weight and bias
	GroupEmbedding                    // token and position embeddings (Role Embedding)
)

// GroupNames are the names of the groups, in the order of their bits.
var GroupNames = []string{"bias", "norm", "embedding"}

// ParseGroup returns the group called name.
func ParseGroup(name string) (Groups, bool) {
	for i, n := range GroupNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// Names lists g's groups in the order of GroupNames.
func (g Groups) Names() []string {
	out := []string{}
	for i, n := range GroupNames {
		if g&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// String is "[bias, norm]", as the experiment file writes the list.
func (g Groups) String() string { return "[" + strings.Join(g.Names(), ", ") + "]" }

// MarshalJSON writes the names: ["bias","norm"].
func (g Groups) MarshalJSON() ([]byte, error) { return json.Marshal(g.Names()) }

// UnmarshalJSON reads a list of group names.
func (g *Groups) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	var out Groups
	for _, n := range names {
		x, ok := ParseGroup(n)
		if !ok {
			return fmt.Errorf("no_decay: unknown group %q (allowed: %s)", n, strings.Join(GroupNames, ", "))
		}
		out |= x
	}
	*g = out
	return nil
}

// GroupsOf returns the groups p is in (minGPT's configure_optimizers: biases,
// and every parameter of a LayerNorm or an Embedding).
func GroupsOf(p *Param) Groups {
	var g Groups
	switch p.Role {
	case Bias:
		g |= GroupBias
	case NormWeight:
		g |= GroupNorm
	case Embedding:
		g |= GroupEmbedding
	}
	if p.norm {
		g |= GroupNorm
	}
	return g
}

// NormGroups assigns each of params (a model's Params, in order) to a
// telemetry group, the groups whose gradient norms the step_norms table
// holds: index[i] is the group of params[i] in names, which lists each
// group once in order of first appearance. A transformer's groups are
// "embedding" (wte, wpe), per block i "h.i.attention" (c_attn, c_proj),
// "h.i.mlp" (c_fc, c_proj) and "h.i.norm" (ln_1, ln_2), then "final_norm"
// (ln_f) and "head" (lm_head; absent when tied, whose head gradient is in
// wte's). Every other architecture has one group per layer, named by the
// PyTorch module that holds its tensors: "0", "2", … for mlp and cnn,
// "rnn" and "fc" for the rnn.
func NormGroups(params []*Param) (names []string, index []int) {
	at := map[string]int{}
	index = make([]int, len(params))
	for i, p := range params {
		g := normGroup(p.Name)
		k, ok := at[g]
		if !ok {
			k = len(names)
			at[g] = k
			names = append(names, g)
		}
		index[i] = k
	}
	return names, index
}

// normGroup is the group of the parameter called name (NormGroups).
func normGroup(name string) string {
	switch {
	case strings.HasPrefix(name, "transformer.wte.") || strings.HasPrefix(name, "transformer.wpe."):
		return "embedding"
	case strings.HasPrefix(name, "transformer.ln_f."):
		return "final_norm"
	case strings.HasPrefix(name, "lm_head."):
		return "head"
	case strings.HasPrefix(name, "transformer.h."):
		// transformer.h.<i>.<module>.…
		parts := strings.SplitN(strings.TrimPrefix(name, "transformer."), ".", 4)
		if len(parts) < 4 {
			break
		}
		block := parts[0] + "." + parts[1]
		switch parts[2] {
		case "attn":
			return block + ".attention"
		case "mlp":
			return block + ".mlp"
		case "ln_1", "ln_2":
			return block + ".norm"
		}
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}

// GroupNorms returns the L2 norm of the gradients of each group of
// NormGroups(params) (names, index), summed in float64.
func GroupNorms(params []*Param, names []string, index []int) []float64 {
	sq := make([]float64, len(names))
	for i, p := range params {
		var s float64
		for _, g := range p.G {
			s += float64(g) * float64(g)
		}
		sq[index[i]] += s
	}
	for i := range sq {
		sq[i] = math.Sqrt(sq[i])
	}
	return sq
}
