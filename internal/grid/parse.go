package grid

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cliplab/internal/clipalgo"
	"cliplab/internal/compress"
	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/nn"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest experiment file Parse reads, in bytes.
const MaxFileSize = 1 << 20

// Experiment is a parsed, checked experiment file, ready to Expand.
type Experiment struct {
	Name        string
	Path        string
	Source      []byte // the file as given
	Dataset     string
	Description string
	// ArchNames are the names under archs:, in file order; Archs their
	// normalized specs (archs not used by the grid included).
	ArchNames []string
	Archs     map[string]nn.ArchSpec
	// Warnings are things the file says that have no effect, as
	// "path:line:col: field: message" (a data: field the dataset does not use).
	Warnings []string
	// Sets are the command line's overrides (ParseSet), in order; Source
	// then holds the document with them applied.
	Sets []string

	base     config.Config // defaults
	axes     []*axis       // in expansion order (see doc.go), one-value axes included
	excludes []*exclude    // in file order
	gridNode *yaml.Node
	exclNode *yaml.Node            // the exclude: list, nil if none
	origin   map[*yaml.Node]string // nodes an override added → "path -set FIELD=VALUE"
}

// axis is one field's values: a grid: axis, or a train:/data: scalar as an
// axis of one value.
type axis struct {
	name  string // as in config.Axes
	field string // where the file gives it: "grid.lr", "train.lr"
	list  bool   // given as a list: fields name elements, grid.lr[1]
	vals  []axisVal
}

type axisVal struct {
	node *yaml.Node
	set  func(*config.Config)
	key  string // equal keys: the same value, a duplicate
}

// exclude is one entry of exclude:, a conjunction of field tests.
type exclude struct {
	node  *yaml.Node
	field string
	tests []func(*config.Config) bool
}

func (x *exclude) matches(c *config.Config) bool {
	for _, t := range x.tests {
		if !t(c) {
			return false
		}
	}
	return true
}

// Sections and the fields each holds.
var (
	topKeys  = []string{"name", "description", "dataset", "data", "train", "archs", "grid", "exclude"}
	dataKeys = []string{"train_size", "test_size", "train_eval_size", "seq_len", "vocab", "generator", "modulus", "operation", "train_fraction"}
	// modularKeys are the data: fields of the modular task only.
	modularKeys = []string{"modulus", "operation", "train_fraction"}
	trainKeys   = []string{"epochs", "batch_size", "optimizer", "eval_every", "log_every", "divergence_loss", "lr", "lr_schedule", "drop_last", "tail_fraction", "spike_z",
		"prune", "quantize", "noise_multiplier", "target_epsilon", "delta", "sampling"}
	gridKeys = append([]string{"arch", "seed", "clip"}, append(append([]string(nil), trainKeys...), dataKeys...)...)
	// expansionOrder: seed outermost, clip fastest.
	expansionOrder = append([]string{"seed"}, config.Axes[:len(config.Axes)-1]...)
)

// Defaults of train:.
const (
	DefaultEpochs         = 1
	DefaultBatchSize      = 64
	DefaultOptimizer      = "sgd"
	DefaultEvalEvery      = 0
	DefaultLogEvery       = 1
	DefaultDivergenceLoss = 1e4
)

// parser holds the state of one Parse.
type parser struct {
	checker
	dataset string
	archs   map[string]*yaml.Node // name → its spec node
	order   []string              // arch names in file order
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads an experiment file: its YAML, every field's type and value,
// the archs and the axes, and the exclude entries. path only names the file
// in errors. The error lists every problem found (up to 20), each as an
// *Error at its line and column; all match ErrInvalid.
func Parse(path string, src []byte) (*Experiment, error) { return ParseSet(path, src, nil) }

// document parses src as one YAML document and returns its root node.
func (p *parser) document(src []byte) *yaml.Node {
	if len(src) > MaxFileSize {
		p.add(&Error{Path: p.path, Msg: "larger than " + strconv.Itoa(MaxFileSize) + " bytes; an experiment file is a page of YAML"})
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(&Error{Path: p.path, Line: 1, Col: 1, Msg: "empty file: an experiment needs at least name, dataset, archs and grid"})
		} else {
			p.syntaxErr(src, err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.errAt(&next, "", "a second YAML document (---): an experiment file holds one")
		return nil
	case !errors.Is(err, io.EOF):
		p.syntaxErr(src, err)
		return nil
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		p.add(&Error{Path: p.path, Line: 1, Col: 1, Msg: "empty file: an experiment needs at least name, dataset, archs and grid"})
		return nil
	}
	return resolve(doc.Content[0])
}

// yamlParserErrors are the messages of yaml.v3's parser (parserc.go), as
// against its scanner: for these its decode.go fail() prints the 0-based
// line of its mark, one less than the line meant (go-yaml/yaml#205).
var yamlParserErrors = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxErr reports an error of the YAML parser, which gives a line only.
// When a tab indents a line of src, that is the error reported, at its
// line and column: yaml.v3 says "found character that cannot start any
// token" or "found a tab character that violates indentation", often a line
// too early, and never that the tab is what to fix.
func (p *parser) syntaxErr(src []byte, err error) {
	if line, col, ok := tabIndent(src); ok {
		p.add(&Error{Path: p.path, Line: line, Col: col, Msg: "invalid YAML: a tab in the indentation; YAML indents with spaces only (replace the tab with spaces)"})
		return
	}
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if yamlParserErrors[m[2]] {
			line++
		}
		p.add(&Error{Path: p.path, Line: line, Msg: "invalid YAML: " + m[2]})
		return
	}
	// yaml.v3 leaves the line out when both of its marks are on the first
	// line (0-based line 0): that is line 1.
	p.add(&Error{Path: p.path, Line: 1, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
}

func (p *parser) experiment(e *Experiment, root *yaml.Node) {
	top, ok := p.mapping(root, "")
	if !ok {
		return
	}
	p.known(top, "", topKeys)
	sec := map[string]pair{}
	for _, kv := range top {
		sec[kv.key] = kv
	}
	for _, k := range []string{"name", "dataset", "archs", "grid"} {
		if _, ok := sec[k]; !ok {
			p.errAt(root, k, "missing: an experiment needs name, dataset, archs and grid")
		}
	}
	if kv, ok := sec["name"]; ok {
		if s, ok := p.text(kv.val, "name"); ok {
			if !config.ValidName(s) {
				p.errAt(kv.val, "name", "%q: use %s", s, config.NameRule)
			}
			e.Name = s
		}
	}
	if kv, ok := sec["description"]; ok && !isNull(kv.val) {
		e.Description, _ = p.str(kv.val, "description")
	}
	kv, ok := sec["dataset"]
	if !ok {
		return // nothing below can be checked without it
	}
	ds, ok := p.text(kv.val, "dataset")
	if !ok {
		return
	}
	info, known := config.Dataset(ds)
	if !known {
		p.errAt(kv.val, "dataset", "unknown dataset %q (allowed: %s)", ds, strings.Join(data.Names, ", "))
		return
	}
	p.dataset, e.Dataset = ds, ds
	e.base = config.Config{
		Dataset:        ds,
		Data:           config.DataSpec{TrainSize: info.DefTrain, TestSize: info.DefTest},
		Optimizer:      nn.OptimSpec{Name: DefaultOptimizer}.Normalize(),
		BatchSize:      DefaultBatchSize,
		Epochs:         DefaultEpochs,
		EvalEvery:      DefaultEvalEvery,
		LogEvery:       DefaultLogEvery,
		DivergenceLoss: DefaultDivergenceLoss,
	}
	if info.Modular {
		e.base.Data.Modulus, e.base.Data.Operation, e.base.Data.TrainFraction = data.DefaultModulus, data.DefaultOperation, data.DefaultTrainFraction
	}
	if info.Copy {
		e.base.Data.SeqLen, e.base.Data.Vocab = data.DefaultCopySeqLen, data.DefaultCopyVocab
	}

	if kv, ok := sec["archs"]; ok {
		p.archSection(e, kv.val)
	}

	// Where each field is given: grid:, train: or data:.
	given := map[string]pair{} // field → its pair
	from := map[string]string{}
	for _, s := range []struct {
		name string
		keys []string
	}{{"data", dataKeys}, {"train", trainKeys}, {"grid", gridKeys}} {
		kv, ok := sec[s.name]
		if !ok || (s.name != "grid" && isNull(kv.val)) {
			continue
		}
		pairs, ok := p.mapping(kv.val, s.name)
		if !ok {
			continue
		}
		if s.name == "grid" {
			e.gridNode = kv.val
		}
		p.known(pairs, s.name, s.keys)
		for _, f := range pairs {
			if !contains(s.keys, f.key) {
				continue
			}
			if prev, dup := from[f.key]; dup {
				p.errAt(f.keyNode, s.name+"."+f.key, "also given in %s: (line %d); give it in one place", prev, given[f.key].keyNode.Line)
				continue
			}
			from[f.key], given[f.key] = s.name, f
		}
	}
	for _, k := range []string{"arch", "seed", "clip"} {
		if _, ok := given[k]; !ok && e.gridNode != nil {
			p.errAt(e.gridNode, "grid."+k, "missing: the grid needs arch, seed and clip axes")
		}
	}
	if f, ok := given["target_epsilon"]; ok {
		if _, both := given["noise_multiplier"]; both {
			p.errAt(f.keyNode, from["target_epsilon"]+".target_epsilon", "give noise_multiplier (σ) or target_epsilon (σ solved for it), not both")
		}
	}
	if _, ok := given["lr"]; !ok && e.gridNode != nil {
		p.errAt(e.gridNode, "grid.lr", "missing: give a learning rate as train.lr or as the axis grid.lr")
	}
	if _, ok := given["seq_len"]; !ok && info.Sequences {
		n := root
		if kv, ok := sec["data"]; ok {
			n = kv.val
		}
		p.errAt(n, "data.seq_len", "missing: dataset %s needs a sequence length, e.g. data: {seq_len: 50}, or an axis grid.seq_len", ds)
	}

	for _, name := range expansionOrder {
		f, ok := given[name]
		if !ok {
			continue
		}
		if name == "seq_len" && !info.TakesSeqLen() && from[name] == "data" {
			// The example gives seq_len with mnist: data: holds
			// fields per dataset, and those a dataset does not use are
			// ignored (a grid axis over one is an error: it repeats runs).
			w := &Error{Path: p.path, Line: f.val.Line, Col: f.val.Column, Field: "data.seq_len",
				Msg: "dataset " + ds + " does not use seq_len; ignored"}
			if o, ok := p.origin[f.val]; ok {
				w.Path, w.Line, w.Col = o, 0, 0
			}
			e.Warnings = append(e.Warnings, w.Error())
			continue
		}
		if info.Modular && (name == "train_size" || name == "test_size") {
			p.errAt(f.keyNode, from[name]+"."+name, "dataset modular splits its equations by modulus and train_fraction; leave %s out", name)
			continue
		}
		if !info.Modular && contains(modularKeys, name) {
			p.errAt(f.keyNode, from[name]+"."+name, "dataset %s takes no %s (only modular does)", ds, name)
			continue
		}
		if !info.Copy && name == "vocab" {
			p.errAt(f.keyNode, from[name]+"."+name, "dataset %s takes no %s (only copy does)", ds, name)
			continue
		}
		if a := p.axis(name, from[name], f); a != nil {
			e.axes = append(e.axes, a)
		}
	}
	p.fitsAll(e)
	_, sigma := given["noise_multiplier"]
	_, eps := given["target_epsilon"]
	for _, a := range e.axes {
		for _, v := range a.vals {
			var c config.Config
			if v.set(&c); a.name == "clip" && c.Private() && !sigma && !eps {
				p.errAt(v.node, a.field, "method %s needs train.noise_multiplier (σ, 0 for no noise) or train.target_epsilon (σ solved for it)", c.Clip.Method)
				sigma = true // once
			}
		}
	}

	if kv, ok := sec["exclude"]; ok && !isNull(kv.val) {
		e.exclNode = kv.val
		p.excludes(e, kv.val)
	}
}

// archs reads the archs: section.
func (p *parser) archSection(e *Experiment, n *yaml.Node) {
	pairs, ok := p.mapping(n, "archs")
	if !ok {
		return
	}
	if len(pairs) == 0 {
		p.errAt(n, "archs", "empty: define at least one arch, e.g. mlp2: {type: mlp, hidden: [256, 256]}")
	}
	p.archs = map[string]*yaml.Node{}
	for _, kv := range pairs {
		field := "archs." + kv.key
		if !config.ValidName(kv.key) {
			p.errAt(kv.keyNode, field, "arch name %q: use %s", kv.key, config.NameRule)
			continue
		}
		p.archs[kv.key] = kv.val
		p.order = append(p.order, kv.key)
		e.ArchNames = append(e.ArchNames, kv.key)
		if spec, ok := p.arch(kv.val, field); ok {
			e.Archs[kv.key] = spec
		}
	}
}

// arch reads one arch spec.
func (p *parser) arch(n *yaml.Node, field string) (nn.ArchSpec, bool) {
	pairs, ok := p.mapping(n, field)
	if !ok {
		return nn.ArchSpec{}, false
	}
	var raw nn.ArchSpec
	given := map[string]*yaml.Node{}
	for _, kv := range pairs {
		given[kv.key] = kv.val
	}
	tn, ok := given["type"]
	if !ok {
		p.errAt(n, join(field, "type"), "missing (allowed: %s)", strings.Join(config.ArchTypes, ", "))
		return raw, false
	}
	if raw.Type, ok = p.text(tn, join(field, "type")); !ok {
		return raw, false
	}
	allowed, ok := config.ArchAllowed[raw.Type]
	if !ok {
		p.errAt(tn, join(field, "type"), "unknown arch type %q (allowed: %s)", raw.Type, strings.Join(config.ArchTypes, ", "))
		return raw, false
	}
	before := len(p.errs)
	p.known(pairs, field, allowed)
	for _, kv := range pairs {
		if opt, ok := config.ArchFields[kv.key]; ok && contains(allowed, kv.key) {
			readOption(&p.checker, &raw, opt, kv.val, join(field, kv.key))
		}
	}
	if len(p.errs) > before {
		return raw, false
	}
	return resolveSpec(&p.checker, config.ArchFields, given, raw, field, n)
}

// axis reads field name given in section sec ("grid", "train" or "data").
func (p *parser) axis(name, sec string, f pair) *axis {
	a := &axis{name: name, field: sec + "." + name}
	if name == "clip" {
		p.clipAxis(a, f.val)
		return a
	}
	var elems []*yaml.Node
	if sec == "grid" {
		var ok bool
		if elems, ok = p.items(f.val, a.field); !ok {
			return nil
		}
	} else {
		if f.val.Kind == yaml.SequenceNode {
			p.errAt(f.val, a.field, "expected one value, got a list; a list of values to try goes under grid:")
			return nil
		}
		elems = []*yaml.Node{f.val}
	}
	a.list = f.val.Kind == yaml.SequenceNode
	seen := map[string]*yaml.Node{}
	for i, n := range elems {
		field := a.field
		if a.list {
			field = index(a.field, i)
		}
		v, ok := p.value(name, n, field)
		if !ok {
			continue
		}
		if first, dup := seen[v.key]; dup {
			p.errAt(n, field, "duplicate value (also at line %d, column %d)", first.Line, first.Column)
			continue
		}
		seen[v.key] = n
		a.vals = append(a.vals, v)
	}
	return a
}

// value reads one value of field name (any axis but clip).
func (p *parser) value(name string, n *yaml.Node, field string) (axisVal, bool) {
	v := axisVal{node: n}
	switch name {
	case "arch":
		s, ok := p.text(n, field)
		if !ok {
			return v, false
		}
		if _, defined := p.archs[s]; !defined {
			p.errAt(n, field, "unknown arch %q (defined under archs: %s)", s, strings.Join(p.order, ", "))
			return v, false
		}
		v.key = s
		v.set = func(c *config.Config) { c.ArchName = s } // the spec is filled in by Expand
		return v, true
	case "drop_last":
		b, ok := p.boolean(n, field)
		if !ok {
			return v, false
		}
		v.key = strconv.FormatBool(b)
		v.set = func(c *config.Config) { c.DropLast = b }
		return v, true
	case "tail_fraction":
		x, ok := p.num(n, field)
		if !ok {
			return v, false
		}
		if x <= 0 || x > 1 {
			p.errAt(n, field, "must be in (0, 1], got %s", config.FormatFloat(x))
			return v, false
		}
		if x == config.DefaultTailFraction {
			x = 0 // the default, stored as 0 so that existing keys stay as they were
		}
		v.key = config.FormatFloat(x)
		v.set = func(c *config.Config) { c.TailFraction = x }
		return v, true
	case "spike_z":
		x, ok := p.num(n, field)
		if !ok {
			return v, false
		}
		if !(x > 0) || math.IsInf(x, 0) {
			p.errAt(n, field, "must be a positive number, got %s", config.FormatFloat(x))
			return v, false
		}
		if x == config.DefaultSpikeZ {
			x = 0 // the default, stored as 0 so that existing keys stay as they were
		}
		v.key = config.FormatFloat(x)
		v.set = func(c *config.Config) { c.SpikeZ = x }
		return v, true
	case "operation":
		s, ok := p.text(n, field)
		if !ok {
			return v, false
		}
		if !contains(data.Operations, s) {
			p.errAt(n, field, "%q is not allowed (allowed: %s)", s, strings.Join(data.Operations, ", "))
			return v, false
		}
		v.key = s
		v.set = func(c *config.Config) { c.Data.Operation = s }
		return v, true
	case "train_fraction":
		x, ok := p.num(n, field)
		if !ok {
			return v, false
		}
		if x <= 0 || x >= 1 {
			p.errAt(n, field, "must be in (0, 1), got %s", config.FormatFloat(x))
			return v, false
		}
		v.key = config.FormatFloat(x)
		v.set = func(c *config.Config) { c.Data.TrainFraction = x }
		return v, true
	case "batch_size":
		if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" {
			if r.Value != "full" {
				p.errAt(n, field, "expected a whole number or full (the whole training set), got %s", describe(r))
				return v, false
			}
			v.key = "full"
			v.set = func(c *config.Config) { c.BatchSize = fullBatch }
			return v, true
		}
	case "noise_multiplier", "target_epsilon", "delta":
		x, ok := p.num(n, field)
		if !ok {
			return v, false
		}
		switch {
		case name == "noise_multiplier" && x < 0:
			p.errAt(n, field, "must be ≥ 0 (0: clipping without noise), got %s", config.FormatFloat(x))
			return v, false
		case name == "target_epsilon" && x <= 0:
			p.errAt(n, field, "must be > 0, got %s", config.FormatFloat(x))
			return v, false
		case name == "delta" && (x <= 0 || x >= 1):
			p.errAt(n, field, "must be in (0, 1), got %s", config.FormatFloat(x))
			return v, false
		}
		v.key = config.FormatFloat(x)
		v.set = setDP(func(d *config.DPSpec) {
			switch name {
			case "noise_multiplier":
				d.NoiseMultiplier = x
			case "target_epsilon":
				d.TargetEpsilon = x
			default:
				d.Delta = x
			}
		})
		return v, true
	case "sampling":
		s, ok := p.text(n, field)
		if !ok {
			return v, false
		}
		if m := config.CheckSampling(s); m != "" {
			p.errAt(n, field, "%s", m)
			return v, false
		}
		v.key = s
		v.set = setDP(func(d *config.DPSpec) { d.Sampling = config.Sampling(s) })
		return v, true
	case "lr", "divergence_loss":
		x, ok := p.num(n, field)
		if !ok {
			return v, false
		}
		if m := config.Positive(x); m != "" {
			p.errAt(n, field, "%s", m)
			return v, false
		}
		v.key = config.FormatFloat(x)
		if name == "lr" {
			v.set = func(c *config.Config) { c.LR = x }
		} else {
			v.set = func(c *config.Config) { c.DivergenceLoss = x }
		}
		return v, true
	case "optimizer":
		o, ok := p.optimizer(n, field)
		if !ok {
			return v, false
		}
		v.key = config.OptimLabel(o)
		v.set = func(c *config.Config) { c.Optimizer = o }
		return v, true
	case "prune":
		pr, ok := p.prune(n, field)
		return optional(v, pr, func(c *config.Config) **compress.Prune { return &c.Prune }), ok
	case "quantize":
		q, ok := p.quantize(n, field)
		return optional(v, q, func(c *config.Config) **compress.Quantize { return &c.Quantize }), ok
	case "lr_schedule":
		s, ok := p.schedule(n, field)
		if !ok {
			return v, false
		}
		v.key = s.String()
		v.set = func(c *config.Config) { c.LRSchedule = s }
		return v, true
	case "generator":
		s, ok := p.text(n, field)
		if !ok {
			return v, false
		}
		if info, _ := config.Dataset(p.dataset); !info.Sequences {
			p.errAt(n, field, "dataset %s takes no generator (only the sequence datasets addition and temporal-order do)", p.dataset)
			return v, false
		}
		if !contains(data.Generators, s) {
			p.errAt(n, field, "%q is not allowed (allowed: %s)", s, strings.Join(data.Generators, ", "))
			return v, false
		}
		v.key = s
		if s == data.Generators[0] {
			s = "" // the default, stored as "" so that existing keys stay as they were
		}
		v.set = func(c *config.Config) { c.Data.Generator = s }
		return v, true
	case "seq_len":
		if info, _ := config.Dataset(p.dataset); !info.TakesSeqLen() {
			p.errAt(n, field, "dataset %s takes no seq_len (only the sequence datasets addition and temporal-order, and copy, do), so an axis over it would repeat every run", p.dataset)
			return v, false
		}
	}
	lo, hi := config.IntRange(p.dataset, name)
	why := ""
	if p.dataset == "mnist" && (name == "train_size" || name == "test_size" || name == "train_eval_size") {
		info, _ := config.Dataset(p.dataset)
		why = fmt.Sprintf(" (MNIST has %d training and %d test images)", info.MaxTrain, info.MaxTest)
	}
	x, ok := p.integer(n, field, lo, hi, why)
	if !ok {
		return v, false
	}
	v.key = strconv.FormatInt(x, 10)
	i := int(x)
	switch name {
	case "seed":
		v.set = func(c *config.Config) { c.Seed = uint64(x) }
	case "batch_size":
		v.set = func(c *config.Config) { c.BatchSize = i }
	case "epochs":
		v.set = func(c *config.Config) { c.Epochs = i }
	case "eval_every":
		v.set = func(c *config.Config) { c.EvalEvery = i }
	case "log_every":
		v.set = func(c *config.Config) { c.LogEvery = i }
	case "train_size":
		v.set = func(c *config.Config) { c.Data.TrainSize = i }
	case "test_size":
		v.set = func(c *config.Config) { c.Data.TestSize = i }
	case "train_eval_size":
		v.set = func(c *config.Config) { c.Data.TrainEvalSize = i }
	case "seq_len":
		v.set = func(c *config.Config) { c.Data.SeqLen = i }
	case "modulus":
		v.set = func(c *config.Config) { c.Data.Modulus = i }
	case "vocab":
		v.set = func(c *config.Config) { c.Data.Vocab = i }
	default:
		panic("grid: no setter for " + name)
	}
	return v, true
}

// optional fills v for a spec that may be absent (prune, quantize): key
// "none" for nil, else its String; the setter gives each configuration its
// own copy.
func optional[S fmt.Stringer](v axisVal, x *S, field func(*config.Config) **S) axisVal {
	v.key = "none"
	if x != nil {
		v.key = (*x).String()
	}
	v.set = func(c *config.Config) {
		*field(c) = nil
		if x != nil {
			cp := *x
			*field(c) = &cp
		}
	}
	return v
}

// setDP returns a setter that changes a copy of c.DP (a new one if nil),
// so that configurations never share a DPSpec.
func setDP(f func(*config.DPSpec)) func(*config.Config) {
	return func(c *config.Config) {
		var d config.DPSpec
		if c.DP != nil {
			d = *c.DP
		}
		f(&d)
		c.DP = &d
	}
}

// optimizer reads "sgd" or {name: momentum, momentum: 0.9, …}.
func (p *parser) optimizer(n *yaml.Node, field string) (nn.OptimSpec, bool) {
	var raw nn.OptimSpec
	given := map[string]*yaml.Node{}
	var pairs []pair
	nameNode := n
	if n.Kind == yaml.MappingNode {
		var ok bool
		if pairs, ok = p.mapping(n, field); !ok {
			return raw, false
		}
		for _, kv := range pairs {
			given[kv.key] = kv.val
		}
		if nameNode = given["name"]; nameNode == nil {
			p.errAt(n, join(field, "name"), "missing (allowed: %s)", strings.Join(nn.Optimizers, ", "))
			return raw, false
		}
		field = join(field, "name")
	}
	name, ok := p.text(nameNode, field)
	if !ok {
		return raw, false
	}
	allowed, ok := config.OptimAllowed[name]
	if !ok {
		p.errAt(nameNode, field, "unknown optimizer %q (allowed: %s)", name, strings.Join(nn.Optimizers, ", "))
		return raw, false
	}
	raw.Name = name
	field = strings.TrimSuffix(field, ".name")
	before := len(p.errs)
	for _, kv := range pairs {
		if kv.key == "name" {
			continue
		}
		opt, known := config.OptimFields[kv.key]
		if !known || !contains(allowed, kv.key) {
			p.errAt(kv.keyNode, join(field, kv.key), "%s takes no option %q (allowed: name, %s)", name, kv.key, strings.Join(allowed, ", "))
			continue
		}
		readOption(&p.checker, &raw, opt, kv.val, join(field, kv.key))
	}
	if len(p.errs) > before {
		return raw, false
	}
	return resolveSpec(&p.checker, config.OptimFields, given, raw, field, n)
}

// schedule reads "constant" or {warmup: 100, decay: cosine, min_lr: 1e-5}.
func (p *parser) schedule(n *yaml.Node, field string) (nn.Schedule, bool) {
	var raw nn.Schedule
	if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode {
		s, ok := p.text(r, field)
		if ok && s != "constant" {
			p.errAt(r, field, "expected constant or a mapping such as {warmup: 100, decay: cosine, min_lr: 1e-5}, got %s", describe(r))
			ok = false
		}
		return raw, ok
	}
	pairs, ok := p.mapping(n, field)
	if !ok {
		return raw, false
	}
	given, ok := readFields(&p.checker, pairs, config.ScheduleFields, config.ScheduleKeys, &raw, field)
	if !ok {
		return raw, false
	}
	if raw.Decay == "none" {
		delete(given, "decay") // stored as "", its zero: not a value dropped
	}
	return resolveSpec(&p.checker, config.ScheduleFields, given, raw, field, n)
}

// prune reads none or {sparsity: 0.9, scope: layer, schedule: gradual, …}
// (train.prune); sparsity 0 is no pruning, returned as nil like none.
func (p *parser) prune(n *yaml.Node, field string) (*compress.Prune, bool) {
	if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode {
		s, ok := p.text(r, field)
		if ok && s != "none" {
			p.errAt(r, field, "expected none or a mapping such as {sparsity: 0.9, scope: global, schedule: gradual}, got %s", describe(r))
			ok = false
		}
		return nil, ok
	}
	pairs, ok := p.mapping(n, field)
	if !ok {
		return nil, false
	}
	var raw compress.Prune
	given, ok := readFields(&p.checker, pairs, config.PruneFields, config.PruneKeys, &raw, field)
	if !ok {
		return nil, false
	}
	if given["sparsity"] == nil {
		p.errAt(n, join(field, "sparsity"), "missing: the fraction of the weights to prune, in [0, 1)")
		return nil, false
	}
	if given["start"] == nil {
		raw.Start = compress.DefaultStart(raw.Normalize().Schedule)
	}
	norm, ok := resolveSpec(&p.checker, config.PruneFields, given, raw, field, n)
	if !ok {
		return nil, false
	}
	if norm.Sparsity == 0 {
		return nil, true // no pruning, stored as none so that its key is the unpruned run's
	}
	return &norm, true
}

// quantize reads none, a number of bits, or {bits: 8, scheme: affine,
// granularity: channel, qat: true} (train.quantize).
func (p *parser) quantize(n *yaml.Node, field string) (*compress.Quantize, bool) {
	var raw compress.Quantize
	given := map[string]*yaml.Node{}
	if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode {
		if r.ShortTag() != "!!int" {
			s, ok := p.text(r, field)
			if ok && s != "none" {
				p.errAt(r, field, "expected none, a number of bits or a mapping such as {bits: 8, scheme: affine, granularity: channel, qat: true}, got %s", describe(r))
				ok = false
			}
			return nil, ok
		}
		if !readOption(&p.checker, &raw, config.QuantizeFields["bits"], r, field) {
			return nil, false
		}
		given["bits"] = r
	} else {
		pairs, ok := p.mapping(n, field)
		if !ok {
			return nil, false
		}
		if given, ok = readFields(&p.checker, pairs, config.QuantizeFields, config.QuantizeKeys, &raw, field); !ok {
			return nil, false
		}
		if given["bits"] == nil {
			p.errAt(n, join(field, "bits"), "missing: the bits of each stored weight, from %d to %d", compress.MinBits, compress.MaxBits)
			return nil, false
		}
	}
	norm, ok := resolveSpec(&p.checker, config.QuantizeFields, given, raw, field, n)
	if !ok {
		return nil, false
	}
	return &norm, true
}

// clipAxis reads grid.clip: a list of entries, each a method with its
// thresholds and options (or a bare method name).
func (p *parser) clipAxis(a *axis, n *yaml.Node) {
	elems, ok := p.items(n, a.field)
	if !ok {
		return
	}
	seen := map[string]*yaml.Node{}
	for i, en := range elems {
		field := a.field
		if n.Kind == yaml.SequenceNode {
			field = index(a.field, i)
		}
		for _, v := range p.clipEntry(en, field) {
			if first, dup := seen[v.key]; dup {
				var c config.Config
				v.set(&c)
				p.errAt(v.node, field, "duplicate clip setting %s (also at line %d, column %d)", c.Clip.Label(), first.Line, first.Column)
				continue
			}
			seen[v.key] = v.node
			a.vals = append(a.vals, v)
		}
	}
}

// clipEntry reads one clip entry into one value per threshold. Their keys
// are the canonical JSON of the normalized spec.
func (p *parser) clipEntry(n *yaml.Node, field string) []axisVal {
	var pairs []pair
	given := map[string]*yaml.Node{}
	methodNode := n
	if n.Kind == yaml.MappingNode {
		var ok bool
		if pairs, ok = p.mapping(n, field); !ok {
			return nil
		}
		for _, kv := range pairs {
			given[kv.key] = kv.val
		}
		if methodNode = given["method"]; methodNode == nil {
			p.errAt(n, join(field, "method"), "missing (allowed: %s)", strings.Join(clipalgo.MethodNames(), ", "))
			return nil
		}
	} else if n.Kind != yaml.ScalarNode {
		p.errAt(n, field, "expected a clip entry such as {method: norm, threshold: [1, 10]}, got %s", describe(n))
		return nil
	}
	name, ok := p.text(methodNode, join(field, "method"))
	if !ok {
		return nil
	}
	m, ok := clipalgo.Lookup(name)
	if !ok {
		p.errAt(methodNode, join(field, "method"), "unknown clip method %q (allowed: %s)", name, strings.Join(clipalgo.MethodNames(), ", "))
		return nil
	}
	raw := clipalgo.Spec{Method: name}
	before := len(p.errs)
	var thresholds []*yaml.Node
	for _, kv := range pairs {
		f := join(field, kv.key)
		switch kv.key {
		case "method":
			continue
		case "threshold":
			if !m.Threshold.Takes {
				p.errAt(kv.keyNode, f, "method %s takes no threshold", name)
				continue
			}
			thresholds, _ = p.items(kv.val, f)
			continue
		}
		o := m.Option(kv.key)
		if o == nil {
			allowed := "threshold"
			if !m.Threshold.Takes {
				allowed = "none"
			}
			if len(m.Options) > 0 {
				allowed += ", " + strings.Join(m.OptionNames(), ", ")
			}
			p.errAt(kv.keyNode, f, "method %s takes no option %q (allowed: %s)", name, kv.key, allowed)
			continue
		}
		if v, ok := p.clipOption(o.Kind, kv.val, f); ok {
			raw = raw.With(o.Name, v)
		}
	}
	if m.Threshold.Takes && given["threshold"] == nil {
		p.errAt(n, join(field, "threshold"), "missing: method %s needs a threshold, e.g. threshold: [0.1, 1]", name)
	}
	if len(p.errs) > before {
		return nil
	}
	if !m.Threshold.Takes {
		thresholds = []*yaml.Node{n}
	}
	var out []axisVal
	for _, tn := range thresholds {
		s := raw
		if m.Threshold.Takes {
			t, ok := p.num(tn, join(field, "threshold"))
			if !ok {
				continue
			}
			s.Threshold = t
		}
		norm := s.Normalize()
		at := map[string]*yaml.Node{}
		for k, v := range given {
			at[k] = v
		}
		at["threshold"] = tn
		if err := norm.Validate(); err != nil {
			p.specErr(err, field, at, n)
			continue
		}
		if !p.keptClipOptions(m, given, s, norm, field) {
			return nil
		}
		key, _ := json.Marshal(norm)
		out = append(out, axisVal{node: tn, key: string(key), set: func(c *config.Config) { c.Clip = norm }})
	}
	return out
}

// clipOption reads one clip option's value of kind k.
func (p *parser) clipOption(k clipalgo.Kind, n *yaml.Node, field string) (any, bool) {
	switch k {
	case clipalgo.KindString:
		return p.str(n, field)
	case clipalgo.KindText:
		return p.text(n, field)
	case clipalgo.KindBool:
		return p.boolean(n, field)
	case clipalgo.KindFloat:
		return p.num(n, field)
	case clipalgo.KindInt:
		v, ok := p.integer(n, field, math.MinInt32, math.MaxInt32)
		return int(v), ok
	}
	panic(fmt.Sprintf("grid: clip option of kind %v", k))
}

// keptClipOptions reports every option given in the file that Normalize
// dropped (it does not apply with the entry's other settings) or changed
// (zclip's negative max_grad_norm is stored as -1), so the key never holds a
// value the file did not say.
func (p *parser) keptClipOptions(m *clipalgo.Method, given map[string]*yaml.Node, raw, norm clipalgo.Spec, field string) bool {
	ok := true
	for _, o := range m.Options {
		n := given[o.Name]
		if n == nil {
			continue
		}
		a, _ := raw.Option(o.Name)
		switch b, _ := norm.Option(o.Name); {
		case !norm.Given(o.Name):
			p.errAt(n, join(field, o.Name), "does not apply with the other settings of this entry and would be dropped; leave it out")
			ok = false
		case a != b:
			p.errAt(n, join(field, o.Name), "%s would be stored as %s; write %s", clipalgo.FormatValue(a), clipalgo.FormatValue(b), clipalgo.FormatValue(b))
			ok = false
		}
	}
	return ok
}

// fitsAll checks every arch of the grid against the dataset at every
// sequence length of the grid.
func (p *parser) fitsAll(e *Experiment) {
	var archAxis *axis
	// The data sizes a model's shape depends on: every sequence length
	// and every modulus and vocabulary of the grid.
	sizes := []config.DataSpec{e.base.Data}
	for _, a := range e.axes {
		switch a.name {
		case "arch":
			archAxis = a
		case "seq_len", "modulus", "vocab":
			var next []config.DataSpec
			for _, d := range sizes {
				for _, v := range a.vals {
					c := config.Config{Data: d}
					v.set(&c)
					next = append(next, c.Data)
				}
			}
			sizes = next
		}
	}
	if archAxis == nil {
		return
	}
	for i, v := range archAxis.vals {
		name := v.key
		spec, ok := e.Archs[name]
		if !ok {
			continue // its own error is reported
		}
		for _, d := range sizes {
			if err := config.Fits(spec, p.dataset, d); err != nil {
				field := archAxis.field
				if archAxis.list {
					field = index(field, i)
				}
				p.errAt(v.node, field, "arch %s (line %d) does not fit dataset %s: %v", name, p.archs[name].Line, p.dataset, err)
				break
			}
		}
	}
}

// excludeKeys are the fields an exclude entry may test.
func excludeKeys() []string {
	keys := append([]string(nil), config.Axes...)
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "clip" })
	keys = append(keys, "method", "threshold")
	return append(keys, sortedKeys(clipalgo.OptionKinds())...)
}

// excludes reads exclude: a list of entries, each a mapping of fields to a
// value or a list of values (any of them).
func (p *parser) excludes(e *Experiment, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errAt(n, "exclude", "expected a list of entries such as - {arch: cnn, lr: 3.0}, got %s", describe(n))
		return
	}
	allowed := excludeKeys()
	for i, en := range n.Content {
		en = resolve(en)
		field := index("exclude", i)
		pairs, ok := p.mapping(en, field)
		if !ok {
			continue
		}
		if len(pairs) == 0 {
			p.errAt(en, field, "an empty entry would exclude every configuration")
			continue
		}
		p.known(pairs, field, allowed)
		x := &exclude{node: en, field: field}
		good := true
		for _, kv := range pairs {
			if !contains(allowed, kv.key) {
				good = false
				continue
			}
			t, ok := p.excludeTest(kv, join(field, kv.key))
			if !ok {
				good = false
				continue
			}
			x.tests = append(x.tests, t)
		}
		if good {
			e.excludes = append(e.excludes, x)
		}
	}
}

// excludeTest reads one field of an exclude entry: a value, or a list of
// values any of which matches.
func (p *parser) excludeTest(kv pair, field string) (func(*config.Config) bool, bool) {
	elems := []*yaml.Node{kv.val}
	isList := kv.val.Kind == yaml.SequenceNode
	if isList {
		var ok bool
		if elems, ok = p.items(kv.val, field); !ok {
			return nil, false
		}
	}
	var tests []func(*config.Config) bool
	for i, n := range elems {
		f := field
		if isList {
			f = index(field, i)
		}
		t, ok := p.excludeValue(kv.key, n, f)
		if !ok {
			return nil, false
		}
		tests = append(tests, t)
	}
	return func(c *config.Config) bool {
		for _, t := range tests {
			if t(c) {
				return true
			}
		}
		return false
	}, true
}

func (p *parser) excludeValue(key string, n *yaml.Node, field string) (func(*config.Config) bool, bool) {
	switch key {
	case "method":
		m, ok := p.text(n, field)
		if !ok {
			return nil, false
		}
		if _, known := clipalgo.Lookup(m); !known {
			p.errAt(n, field, "unknown clip method %q (allowed: %s)", m, strings.Join(clipalgo.MethodNames(), ", "))
			return nil, false
		}
		return func(c *config.Config) bool { return c.Clip.Method == m }, true
	case "threshold":
		t, ok := p.num(n, field)
		if !ok {
			return nil, false
		}
		return func(c *config.Config) bool {
			m, ok := clipalgo.Lookup(c.Clip.Method)
			return ok && m.Threshold.Takes && c.Clip.Threshold == t
		}, true
	case "batch_size":
		if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" && r.Value == "full" {
			return func(c *config.Config) bool { return c.BatchSize == c.Data.TrainSize }, true
		}
	case "optimizer":
		if n.Kind == yaml.ScalarNode {
			name, ok := p.text(n, field)
			if !ok {
				return nil, false
			}
			if _, known := config.OptimAllowed[name]; !known {
				p.errAt(n, field, "unknown optimizer %q (allowed: %s)", name, strings.Join(nn.Optimizers, ", "))
				return nil, false
			}
			return func(c *config.Config) bool { return c.Optimizer.Name == name }, true
		}
	}
	if k, ok := clipalgo.OptionKinds()[key]; ok {
		want, ok := p.clipOption(k, n, field)
		if !ok {
			return nil, false
		}
		return func(c *config.Config) bool {
			v, _ := c.Clip.Option(key)
			return c.Clip.Given(key) && v == want
		}, true
	}
	v, ok := p.value(key, n, field)
	if !ok {
		return nil, false
	}
	var ref config.Config
	v.set(&ref)
	want := ref.AxisValue(key)
	return func(c *config.Config) bool { return c.AxisValue(key) == want }, true
}

// tabIndent returns the 1-based line and column of the first tab in the
// indentation of a line of src (the blanks before its first other
// character).
func tabIndent(src []byte) (line, col int, ok bool) {
	for i, l := range bytes.Split(src, []byte("\n")) {
		for j, c := range l {
			if c == '\t' {
				return i + 1, j + 1, true
			}
			if c != ' ' {
				break
			}
		}
	}
	return 0, 0, false
}
