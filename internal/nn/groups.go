package nn

// Parameter groups for weight decay: which tensors an optimizer's
// no_decay option exempts.

import (
	"encoding/json"
	"fmt"
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
