package grid

// Typed reads of yaml.Node values, each reporting a positioned error.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"cliplab/internal/config"

	"gopkg.in/yaml.v3"
)

// checker reads nodes and records what is wrong with them.
type checker struct {
	errorList
}

// errAt records a problem at node n (nil: the start of the file).
func (c *checker) errAt(n *yaml.Node, field, format string, args ...any) {
	e := &Error{Path: c.path, Line: 1, Col: 1, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	if o, ok := c.origin[n]; ok && n != nil {
		e.Path, e.Line, e.Col = o, 0, 0
	}
	c.add(e)
}

// resolve follows aliases (*name) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// describe says what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("string %q", v)
		case "!!int", "!!float":
			return "number " + v
		case "!!bool":
			return "bool " + v
		case "!!null":
			return "null"
		default:
			return n.ShortTag() + " " + strconv.Quote(v)
		}
	}
	return "an unexpected node"
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// pair is one key: value of a mapping.
type pair struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node // resolved
}

// mapping returns the pairs of mapping n in file order, with << merge keys
// expanded (keys given explicitly win over merged ones, as YAML specifies)
// and duplicate keys reported. ok is false when n is not a mapping.
func (c *checker) mapping(n *yaml.Node, field string) (pairs []pair, ok bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		c.errAt(n, field, "expected a mapping, got %s", describe(n))
		return nil, false
	}
	seen := map[string]*yaml.Node{}
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = append(merged, c.merge(v, field, 0)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.errAt(k, field, "keys must be plain names, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.errAt(k, join(field, k.Value), "duplicate key (first given at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		pairs = append(pairs, pair{key: k.Value, keyNode: k, val: resolve(v)})
	}
	for _, p := range merged {
		if _, dup := seen[p.key]; dup {
			continue
		}
		seen[p.key] = p.keyNode
		pairs = append(pairs, p)
	}
	return pairs, true
}

// merge returns the pairs a << key brings in: from one mapping or a list of
// them, earlier ones winning.
func (c *checker) merge(v *yaml.Node, field string, depth int) []pair {
	v = resolve(v)
	if depth > 8 {
		c.errAt(v, field, "merge keys (<<) nested too deeply")
		return nil
	}
	var srcs []*yaml.Node
	switch {
	case v != nil && v.Kind == yaml.MappingNode:
		srcs = []*yaml.Node{v}
	case v != nil && v.Kind == yaml.SequenceNode:
		srcs = v.Content
	default:
		c.errAt(v, field, "a merge key (<<) needs a mapping or a list of mappings, got %s", describe(v))
		return nil
	}
	var out []pair
	seen := map[string]bool{}
	for _, s := range srcs {
		s = resolve(s)
		if s == nil || s.Kind != yaml.MappingNode {
			c.errAt(s, field, "a merge key (<<) needs a mapping or a list of mappings, got %s", describe(s))
			continue
		}
		var ps []pair
		for i := 0; i+1 < len(s.Content); i += 2 {
			k, val := s.Content[i], s.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
				ps = append(ps, c.merge(val, field, depth+1)...)
				continue
			}
			if k.Kind != yaml.ScalarNode {
				continue
			}
			ps = append(ps, pair{key: k.Value, keyNode: k, val: resolve(val)})
		}
		for _, p := range ps {
			if !seen[p.key] {
				seen[p.key] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// known reports every key of pairs that is not in allowed.
func (c *checker) known(pairs []pair, field string, allowed []string) {
	for _, p := range pairs {
		if !contains(allowed, p.key) {
			c.errAt(p.keyNode, join(field, p.key), "unknown field (allowed: %s)", strings.Join(allowed, ", "))
		}
	}
}

// items returns the elements of list n, or n itself as a one-element list
// when it is not a list. An empty list or null is reported as an empty axis.
func (c *checker) items(n *yaml.Node, field string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if isNull(n) || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		c.errAt(n, field, "empty: give at least one value")
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		return []*yaml.Node{n}, true
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		out[i] = resolve(e)
	}
	return out, true
}

func (c *checker) str(n *yaml.Node, field string) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		c.errAt(n, field, "expected a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// text reads any non-null scalar as its text: names that YAML would read as
// numbers (arch "1", norm_type 2) stay names.
func (c *checker) text(n *yaml.Node, field string) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		c.errAt(n, field, "expected a name, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

func (c *checker) boolean(n *yaml.Node, field string) (bool, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		c.errAt(n, field, "expected true or false, got %s", describe(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		c.errAt(n, field, "expected true or false, got %s", describe(n))
		return false, false
	}
	return b, true
}

// num reads a finite number.
func (c *checker) num(n *yaml.Node, field string) (float64, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		c.errAt(n, field, "expected a number, got %s", describe(n))
		return 0, false
	}
	var x float64
	if err := n.Decode(&x); err != nil {
		c.errAt(n, field, "expected a number, got %s", describe(n))
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		c.errAt(n, field, "expected a finite number, got %s", n.Value)
		return 0, false
	}
	return x, true
}

// integer reads a whole number in [lo, hi]; 6e4 is accepted as 60000. why,
// if given, is added to a range error.
func (c *checker) integer(n *yaml.Node, field string, lo, hi int64, why ...string) (int64, bool) {
	n = resolve(n)
	var v int64
	switch {
	case n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
		if err := n.Decode(&v); err != nil {
			c.errAt(n, field, "must be %s, got %s%s", config.RangeText(lo, hi), n.Value, strings.Join(why, ""))
			return 0, false
		}
	case n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float":
		var x float64
		if err := n.Decode(&x); err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			c.errAt(n, field, "expected a whole number, got %s", describe(n))
			return 0, false
		}
		v = int64(x)
	default:
		c.errAt(n, field, "expected a whole number, got %s", describe(n))
		return 0, false
	}
	if v < lo || v > hi {
		c.errAt(n, field, "must be %s, got %d%s", config.RangeText(lo, hi), v, strings.Join(why, ""))
		return 0, false
	}
	return v, true
}

// join appends a key to a dotted field path.
func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// index appends a list index to a field path.
func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
