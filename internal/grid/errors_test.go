package grid

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
)

// base is a small valid file; the cases below change one thing each.
const base = `name: t
dataset: mnist
data: {train_size: 1000, test_size: 500}
archs:
  mlp2: {type: mlp, hidden: [16]}
grid:
  arch: [mlp2]
  lr: [0.1]
  seed: [1]
  clip: [none]
`

// mark is put in a case's source just before the text the error must point
// at; the test removes it and computes the wanted line and column from where
// it stood, so positions come from the text, not from the code under test.
const mark = "⟨"

func edit(old, new string) string { return strings.Replace(base, old, new, 1) }

// TestErrors checks that each bad file is refused with a message naming the
// file, line, column, field and what is allowed.
func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want string // "field: message" (or a prefix of it), after "x.yaml:line:col: "
	}{
		{"empty", mark + "", "empty file"},
		{"comments only", mark + "# nothing\n", "empty file"},
		{"two documents", base + mark + "---\nname: u\n", "a second YAML document (---): an experiment file holds one"},
		{"not a mapping", mark + "- a\n- b\n", "expected a mapping, got a list"},
		{"unknown top field", base + mark + "seeds: [1]\n", "seeds: unknown field (allowed: name, description, dataset, data, train, archs, grid, exclude)"},
		{"missing name", mark + strings.Replace(base, "name: t\n", "", 1), "name: missing: an experiment needs name, dataset, archs and grid"},
		{"bad name", edit("name: t", "name: "+mark+"'my grid'"), `name: "my grid": use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`},
		{"unknown dataset", edit("dataset: mnist", "dataset: "+mark+"cifar"),
			`dataset: unknown dataset "cifar" (allowed: mnist, addition, temporal-order, modular, copy)`},
		{"unknown data field", edit("test_size: 500", mark+"test_sz: 500"),
			"data.test_sz: unknown field (allowed: train_size, test_size, train_eval_size, seq_len, vocab, generator, modulus, operation, train_fraction)"},
		{"mnist train_size too big", edit("train_size: 1000", "train_size: "+mark+"70000"),
			"data.train_size: must be from 1 to 60000, got 70000 (MNIST has 60000 training and 10000 test images)"},
		{"mnist test_size too big", edit("test_size: 500", "test_size: "+mark+"10001"),
			"data.test_size: must be from 1 to 10000, got 10001"},
		{"train_size as 6e4 is fine, 6.5e4 is not", edit("train_size: 1000", "train_size: "+mark+"6.5e4"),
			"data.train_size: must be from 1 to 60000, got 65000"},
		{"train_eval_size zero", edit("test_size: 500", "test_size: 500, train_eval_size: "+mark+"0"),
			"data.train_eval_size: must be from 1 to 60000, got 0"},
		{"train_eval_size above train_size", edit("test_size: 500", "test_size: 500, train_eval_size: "+mark+"2000"),
			"data.train_eval_size: train_eval_size 2000 is more than train_size 1000"},
		{"duplicate key", edit("  mlp2: {type: mlp, hidden: [16]}\n", "  mlp2: {type: mlp, hidden: [16]}\n  "+mark+"mlp2: {type: mlp}\n"),
			"archs.mlp2: duplicate key (first given at line 5)"},
		{"no archs", edit("archs:\n  mlp2: {type: mlp, hidden: [16]}\n", "archs: "+mark+"{}\n"),
			"archs: empty: define at least one arch, e.g. mlp2: {type: mlp, hidden: [256, 256]}"},
		{"unknown arch type", edit("type: mlp", "type: "+mark+"resnet"),
			`archs.mlp2.type: unknown arch type "resnet" (allowed: mlp, cnn, rnn, transformer)`},
		{"arch without type", edit("{type: mlp, hidden: [16]}", mark+"{hidden: [16]}"),
			"archs.mlp2.type: missing (allowed: mlp, cnn, rnn, transformer)"},
		{"arch field of another type", edit("hidden: [16]", "hidden: [16], "+mark+"cell: lstm"),
			"archs.mlp2.cell: unknown field (allowed: type, hidden, activation)"},
		{"bad activation", edit("hidden: [16]", "hidden: [16], activation: "+mark+"gelu"),
			`archs.mlp2.activation: "gelu" is not allowed (allowed: relu, tanh)`},
		{"hidden not a number", edit("hidden: [16]", "hidden: [16, "+mark+"wide]"),
			`archs.mlp2.hidden[1]: expected a whole number, got string "wide"`},
		{"rnn two hidden sizes", edit("{type: mlp, hidden: [16]}", "{type: rnn, hidden: "+mark+"[16, 16]}"),
			"archs.mlp2.hidden: an rnn takes one hidden size ≥ 1, e.g. hidden: 128"},
		{"cnn kernel 0", edit("{type: mlp, hidden: [16]}", "{type: cnn, channels: [4], kernel: "+mark+"0}"),
			"archs.mlp2.kernel: 0 means unset here and would become the default 5; leave it out, or give another value"},
		{"cnn too deep for 28×28", strings.Replace(edit("{type: mlp, hidden: [16]}", "{type: cnn, channels: [4, 8, 16]}"), "arch: [mlp2]", "arch: ["+mark+"mlp2]", 1),
			"grid.arch[0]: arch mlp2 (line 5) does not fit dataset mnist: channels: 3 conv layers of kernel 5 and pool 2 do not fit a 28×28 image"},
		{"cnn on a sequence task", "name: t\ndataset: addition\ndata: {seq_len: 20}\narchs:\n  c: {type: cnn, channels: [4]}\ngrid: {arch: " + mark + "c, lr: 0.1, seed: 1, clip: none}\n",
			"grid.arch: arch c (line 5) does not fit dataset addition: type: a cnn needs image inputs; use an rnn for sequence tasks"},
		{"mlp on a sequence task", "name: t\ndataset: temporal-order\ndata: {seq_len: 20}\narchs:\n  m: {type: mlp}\ngrid: {arch: " + mark + "m, lr: 0.1, seed: 1, clip: none}\n",
			"grid.arch: arch m (line 5) does not fit dataset temporal-order: type: an mlp needs fixed-size inputs"},
		{"missing seq_len", "name: t\ndataset: addition\ndata: " + mark + "{train_size: 100}\narchs:\n  r: {type: rnn, hidden: 8}\ngrid: {arch: r, lr: 0.1, seed: 1, clip: none}\n",
			"data.seq_len: missing: dataset addition needs a sequence length, e.g. data: {seq_len: 50}, or an axis grid.seq_len"},
		{"seq_len too short", "name: t\ndataset: addition\ndata: {seq_len: " + mark + "5}\narchs:\n  r: {type: rnn, hidden: 8}\ngrid: {arch: r, lr: 0.1, seed: 1, clip: none}\n",
			"data.seq_len: must be from 10 to 100000, got 5"},
		{"seq_len axis on mnist", edit("  seed: [1]\n", "  seed: [1]\n  seq_len: ["+mark+"10, 20]\n"),
			"grid.seq_len[0]: dataset mnist takes no seq_len"},
		{"unknown arch in grid", edit("arch: [mlp2]", "arch: [mlp2, "+mark+"mlp3]"),
			`grid.arch[1]: unknown arch "mlp3" (defined under archs: mlp2)`},
		{"unknown grid axis", edit("  seed: [1]\n", "  seed: [1]\n  "+mark+"width: [1]\n"),
			"grid.width: unknown field (allowed: arch, seed, clip, epochs, batch_size, optimizer, eval_every, log_every, divergence_loss, lr, lr_schedule, drop_last, tail_fraction, spike_z, prune, quantize, noise_multiplier, target_epsilon, delta, sampling, train_size, test_size, train_eval_size, seq_len, vocab, generator, modulus, operation, train_fraction)"},
		{"missing clip axis", strings.Replace(edit("  clip: [none]\n", ""), "  arch:", "  "+mark+"arch:", 1),
			"grid.clip: missing: the grid needs arch, seed and clip axes"},
		{"missing lr", strings.Replace(edit("  lr: [0.1]\n", ""), "  arch:", "  "+mark+"arch:", 1),
			"grid.lr: missing: give a learning rate as train.lr or as the axis grid.lr"},
		{"lr not a number", edit("lr: [0.1]", "lr: "+mark+"fast"), `grid.lr: expected a number, got string "fast"`},
		{"lr under train not a number", edit("  lr: [0.1]\n", "") + "train:\n  lr: " + mark + "fast\n",
			`train.lr: expected a number, got string "fast"`},
		{"lr zero", edit("lr: [0.1]", "lr: [0.1, "+mark+"0]"), "grid.lr[1]: must be a finite number > 0, got 0"},
		{"lr negative", edit("lr: [0.1]", "lr: "+mark+"-1"), "grid.lr: must be a finite number > 0, got -1"},
		{"lr infinite", edit("lr: [0.1]", "lr: "+mark+".inf"), "grid.lr: expected a finite number, got .inf"},
		{"lr a list under train", edit("  lr: [0.1]\n", "") + "train: {lr: " + mark + "[0.1, 1]}\n",
			"train.lr: expected one value, got a list; a list of values to try goes under grid:"},
		{"lr in train and grid", edit("  lr: [0.1]\n", "  "+mark+"lr: [0.1]\n") + "train: {lr: 0.1}\n",
			"grid.lr: also given in train: (line 11); give it in one place"},
		{"duplicate lr", edit("lr: [0.1]", "lr: [0.1, 1.0, "+mark+"0.10]"), "grid.lr[2]: duplicate value (also at line 8, column 8)"},
		{"empty seed axis", edit("seed: [1]", "seed: "+mark+"[]"), "grid.seed: empty: give at least one value"},
		{"negative seed", edit("seed: [1]", "seed: ["+mark+"-1]"), "grid.seed[0]: must be ≥ 0, got -1"},
		{"fractional seed", edit("seed: [1]", "seed: ["+mark+"1.5]"), "grid.seed[0]: expected a whole number, got number 1.5"},
		{"seed too big", edit("seed: [1]", "seed: ["+mark+"18446744073709551615]"), "grid.seed[0]: must be ≥ 0, got 18446744073709551615"},
		{"batch_size zero", base + "train: {batch_size: " + mark + "0}\n", "train.batch_size: must be from 1 to 2147483647, got 0"},
		{"batch_size above train_size", base + "train: {batch_size: " + mark + "4096}\n", "train.batch_size: batch_size 4096 is more than train_size 1000"},
		{"default batch_size above train_size", edit("train_size: 1000", "train_size: "+mark+"50"), "data.train_size: batch_size 64 is more than train_size 50"},
		{"epochs zero", base + "train: {epochs: " + mark + "0}\n", "train.epochs: must be from 1 to 1000000, got 0"},
		{"log_every zero", base + "train: {log_every: " + mark + "0}\n", "train.log_every: must be from 1 to 2147483647, got 0"},
		{"divergence_loss negative", base + "train: {divergence_loss: " + mark + "-3}\n", "train.divergence_loss: must be a finite number > 0, got -3"},
		{"tail_fraction zero", base + "train: {tail_fraction: " + mark + "0}\n", "train.tail_fraction: must be in (0, 1], got 0"},
		{"tail_fraction above 1", base + "train: {tail_fraction: " + mark + "1.5}\n", "train.tail_fraction: must be in (0, 1], got 1.5"},
		{"spike_z zero", base + "train: {spike_z: " + mark + "0}\n", "train.spike_z: must be a positive number, got 0"},
		{"drop_last not a boolean", base + "train: {drop_last: " + mark + "1}\n", "train.drop_last: expected true or false, got "},
		{"unknown train field", base + "train: {" + mark + "steps: 10}\n",
			"train.steps: unknown field (allowed: epochs, batch_size, optimizer, eval_every, log_every, divergence_loss, lr, lr_schedule, drop_last, tail_fraction, spike_z, prune, quantize, noise_multiplier, target_epsilon, delta, sampling)"},
		{"unknown optimizer", base + "train: {optimizer: " + mark + "rmsprop}\n",
			`train.optimizer: unknown optimizer "rmsprop" (allowed: sgd, momentum, adam, adamw)`},
		{"unknown optimizer in a mapping", base + "train: {optimizer: {name: " + mark + "lion}}\n",
			`train.optimizer.name: unknown optimizer "lion" (allowed: sgd, momentum, adam, adamw)`},
		{"optimizer option of another", base + "train: {optimizer: {name: sgd, " + mark + "beta1: 0.8}}\n",
			`train.optimizer.beta1: sgd takes no option "beta1" (allowed: name, weight_decay, no_decay)`},
		{"optimizer without name", base + "train: {optimizer: " + mark + "{momentum: 0.9}}\n",
			"train.optimizer.name: missing (allowed: sgd, momentum, adam, adamw)"},
		{"momentum out of range", base + "train: {optimizer: {name: momentum, momentum: " + mark + "1.5}}\n",
			"train.optimizer.momentum: must be in (0, 1), got 1.5"},
		{"momentum zero", base + "train: {optimizer: {name: momentum, momentum: " + mark + "0}}\n",
			"train.optimizer.momentum: 0 means unset here and would become the default 0.9"},
		{"adamw weight_decay zero", base + "train: {optimizer: {name: adamw, weight_decay: " + mark + "0}}\n",
			"train.optimizer.weight_decay: 0 means unset here and would become the default 0.01"},
		{"duplicate optimizers on an axis", edit("  seed: [1]\n", "  seed: [1]\n  optimizer: [sgd, "+mark+"{name: sgd}]\n"),
			"grid.optimizer[1]: duplicate value (also at line 10, column 15)"},
		{"unknown method", edit("clip: [none]", "clip: [none, {method: "+mark+"clamp, threshold: 1}]"),
			`grid.clip[1].method: unknown clip method "clamp" (allowed: ` + strings.Join(clipalgo.MethodNames(), ", ") + ")"},
		{"threshold negative", edit("clip: [none]", "clip:\n    - method: value\n      threshold: "+mark+"-1\n"),
			"grid.clip[0].threshold: method value needs a threshold > 0, got -1"},
		{"threshold zero in a list", edit("clip: [none]", "clip: [{method: norm, threshold: [1, "+mark+"0]}]"),
			"grid.clip[0].threshold: method norm needs a threshold > 0, got 0"},
		{"threshold missing", edit("clip: [none]", "clip: ["+mark+"{method: norm}]"),
			"grid.clip[0].threshold: missing: method norm needs a threshold, e.g. threshold: [0.1, 1]"},
		{"threshold missing, bare name", edit("clip: [none]", "clip: ["+mark+"value]"),
			"grid.clip[0].threshold: missing: method value needs a threshold"},
		{"threshold on none", edit("clip: [none]", "clip: [{method: none, "+mark+"threshold: 1}]"),
			"grid.clip[0].threshold: method none takes no threshold"},
		{"threshold not a number", edit("clip: [none]", "clip: [{method: norm, threshold: [1, "+mark+"big]}]"),
			`grid.clip[0].threshold: expected a number, got string "big"`},
		{"autoclip percentile above 100", edit("clip: [none]", "clip: [{method: autoclip, threshold: "+mark+"110}]"),
			"grid.clip[0].threshold: autoclip's percentile must be in (0, 100], got 110"},
		{"option of another method", edit("clip: [none]", "clip: [{method: agc, threshold: 0.01, "+mark+"norm_type: inf}]"),
			`grid.clip[0].norm_type: method agc takes no option "norm_type" (allowed: threshold, exclude_last, eps)`},
		{"option on none", edit("clip: [none]", "clip: [{method: none, "+mark+"variant: optax}]"),
			`grid.clip[0].variant: method none takes no option "variant" (allowed: none)`},
		{"bad option value", edit("clip: [none]", "clip: [{method: norm, threshold: 1, norm_type: "+mark+"1}]"),
			`grid.clip[0].norm_type: "1" is not allowed (allowed: 2, inf)`},
		{"bool option not a bool", edit("clip: [none]", "clip: [{method: agc, threshold: 0.01, exclude_last: "+mark+"'yes'}]"),
			`grid.clip[0].exclude_last: expected true or false, got string "yes"`},
		{"zclip option that does not apply", edit("clip: [none]", "clip: [{method: zclip, threshold: 2.5, mode: percentile, clip_option: "+mark+"mean}]"),
			"grid.clip[0].clip_option: does not apply with the other settings of this entry and would be dropped; leave it out"},
		{"zclip max_grad_norm normalized", edit("clip: [none]", "clip: [{method: zclip, threshold: 2.5, max_grad_norm: "+mark+"-5}]"),
			"grid.clip[0].max_grad_norm: -5 would be stored as -1; write -1"},
		{"duplicate clip settings", edit("clip: [none]", "clip: [{method: norm, threshold: 1}, {method: norm, threshold: [2, "+mark+"1], variant: torch}]"),
			"grid.clip[1]: duplicate clip setting norm:1 (also at line 10, column 36)"},
		{"clip entry of a wrong kind", edit("clip: [none]", "clip: ["+mark+"[norm, 1]]"),
			"grid.clip[0]: expected a clip entry such as {method: norm, threshold: [1, 10]}, got a list"},
		{"warm-up longer than the run", base + "train: {lr_schedule: " + mark + "{warmup: 17, decay: cosine}}\n",
			"train.lr_schedule: warm-up of 17 steps exceeds the run's 16 steps"},
		{"warm-up longer than the run, on the grid", edit("  clip: [none]\n", "  clip: [none]\n  lr_schedule: [{warmup: 16}, "+mark+"{warmup: 20}]\n"),
			"grid.lr_schedule[1]: warm-up of 20 steps exceeds the run's 16 steps"},
		{"warm-up not whole", base + "train: {lr_schedule: {warmup: " + mark + "2.5}}\n",
			"train.lr_schedule.warmup: must be a whole number of steps ≥ 1 or a fraction in (0, 1), got 2.5"},
		{"unknown decay", base + "train: {lr_schedule: {decay: " + mark + "exp}}\n",
			`train.lr_schedule.decay: unknown decay "exp" (allowed: none, cosine, linear)`},
		{"min_lr without decay", base + "train: {lr_schedule: {warmup: 2, min_lr: " + mark + "0.01}}\n",
			"train.lr_schedule.min_lr: does not apply with the other settings of this entry and would be dropped; leave it out"},
		{"min_lr above lr", base + "train: {lr_schedule: " + mark + "{decay: cosine, min_lr: 0.5}}\n",
			"train.lr_schedule: min_lr 0.5 is above lr 0.1"},
		{"lr_schedule unknown name", base + "train: {lr_schedule: " + mark + "step}\n",
			`train.lr_schedule: expected constant or a mapping such as {warmup: 100, decay: cosine, min_lr: 1e-5}, got string "step"`},
		{"lr_schedule unknown field", base + "train: {lr_schedule: {warmup: 1, " + mark + "gamma: 0.5}}\n",
			`train.lr_schedule.gamma: unknown field "gamma" (allowed: warmup, decay, min_lr)`},
		{"no_decay unknown group", base + "train: {optimizer: {name: adamw, no_decay: [bias, " + mark + "weights]}}\n",
			`train.optimizer.no_decay[1]: unknown parameter group "weights" (allowed: bias, norm, embedding)`},
		{"no_decay twice", base + "train: {optimizer: {name: adamw, no_decay: [bias, " + mark + "bias]}}\n",
			"train.optimizer.no_decay[1]: bias is listed twice"},
		{"no_decay without weight decay", base + "train: {optimizer: {name: sgd, no_decay: " + mark + "[bias]}}\n",
			"train.optimizer.no_decay: does not apply with the other settings of this entry and would be dropped; leave it out"},
		{"exclude unknown field", base + "exclude:\n  - {arch: mlp2, " + mark + "width: 3}\n",
			"exclude[0].width: unknown field (allowed: arch, seq_len, vocab, generator, modulus, operation, train_fraction, train_size, test_size, train_eval_size, optimizer, batch_size, epochs, eval_every, log_every, divergence_loss, drop_last, tail_fraction, spike_z, noise_multiplier, target_epsilon, delta, sampling, prune, quantize, lr, lr_schedule, seed, method, threshold, "},
		{"exclude unknown arch", base + "exclude:\n  - {arch: " + mark + "mlp9}\n", `exclude[0].arch: unknown arch "mlp9" (defined under archs: mlp2)`},
		{"exclude unknown method", base + "exclude:\n  - {method: [none, " + mark + "clamp]}\n", `exclude[0].method[1]: unknown clip method "clamp" (allowed: none, value, norm`},
		{"exclude empty entry", base + "exclude:\n  - " + mark + "{}\n", "exclude[0]: an empty entry would exclude every configuration"},
		{"exclude matches nothing", base + "exclude:\n  - " + mark + "{arch: mlp2, lr: 3.0}\n", "exclude[0]: matches no configuration of the grid; check its values against the axes"},
		{"excludes remove everything", base + "exclude:\n  " + mark + "- {lr: 0.1}\n", "exclude: the exclude entries remove all 1 configurations"},
		{"exclude not a list", base + "exclude: " + mark + "{arch: mlp2}\n", "exclude: expected a list of entries such as - {arch: cnn, lr: 3.0}, got a mapping"},
		{"bad merge key", edit("  mlp2: {type: mlp, hidden: [16]}\n", "  mlp2: {<<: "+mark+"3, type: mlp}\n"), "archs.mlp2: a merge key (<<) needs a mapping or a list of mappings, got number 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, tc.src, tc.want)
		})
	}
}

// modBase is a small valid modular file with a transformer.
const modBase = `name: t
dataset: modular
data: {modulus: 11, operation: "+", train_fraction: 0.5}
archs:
  gpt: {type: transformer, layers: 1, d_model: 8, heads: 2, context: 4}
  mlp2: {type: mlp, hidden: [16]}
train: {batch_size: full, optimizer: adamw}
grid:
  arch: [gpt]
  lr: [0.001]
  seed: [1]
  clip: [none]
`

// TestModularErrors: the transformer and the modular task's bad input, each
// at the value to change (issue 12).
func TestModularErrors(t *testing.T) {
	mod := func(old, new string) string { return strings.Replace(modBase, old, new, 1) }
	if _, err := loadSource("x.yaml", []byte(modBase)); err != nil {
		t.Fatalf("the base file: %v", err)
	}
	cases := []struct {
		name string
		src  string
		want string
	}{
		{"heads not dividing d_model", mod("heads: 2", "heads: "+mark+"3"), "archs.gpt.heads: 3 heads do not divide d_model 8"},
		{"context shorter than the task", mod("arch: [gpt]", "arch: ["+mark+"gpt]") + "", ""},
		{"division by a non-prime modulus", mod("modulus: 11, operation: \"+\"", "modulus: "+mark+"12, operation: \"/\""),
			"data.modulus: division needs a prime modulus (every b ≠ 0 invertible), got 12"},
		{"division, non-prime modulus on an axis", mod("modulus: 11, operation: \"+\", ", "operation: \"/\", ") + "  modulus: [11, " + mark + "15]\n",
			"grid.modulus[1]: division needs a prime modulus (every b ≠ 0 invertible), got 15"},
		{"unknown operation", mod(`"+"`, mark+`"%"`), `data.operation: "%" is not allowed (allowed: +, -, *, /)`},
		{"train_fraction 0", mod("train_fraction: 0.5", "train_fraction: "+mark+"0"), "data.train_fraction: must be in (0, 1), got 0"},
		{"train_fraction 1", mod("train_fraction: 0.5", "train_fraction: "+mark+"1"), "data.train_fraction: must be in (0, 1), got 1"},
		{"train_fraction leaving no test set", strings.Replace(mod("modulus: 11", "modulus: 2"), ", train_fraction: 0.5", "", 1) + "  train_fraction: [0.5, " + mark + "0.9]\n",
			"grid.train_fraction[1]: 0.9 of 4 equations leaves the training or the test set empty"},
		{"modulus too big", mod("modulus: 11", "modulus: "+mark+"2001"), "data.modulus: must be from 2 to 2000, got 2001"},
		{"train_size with modular", mod("train_fraction: 0.5}", "train_fraction: 0.5, "+mark+"train_size: 30}"),
			"data.train_size: dataset modular splits its equations by modulus and train_fraction; leave train_size out"},
		{"modulus with mnist", edit("test_size: 500}", "test_size: 500, "+mark+"modulus: 7}"), "data.modulus: dataset mnist takes no modulus (only modular does)"},
		{"transformer on mnist", edit("  mlp2: {type: mlp, hidden: [16]}\n", "  mlp2: {type: mlp, hidden: [16]}\n  gpt: {type: transformer, layers: 1, d_model: 8, heads: 2, context: 4}\n") + "",
			""},
		{"mlp on modular", mod("arch: [gpt]", "arch: ["+mark+"mlp2]"), "grid.arch[0]: arch mlp2 (line 6) does not fit dataset modular: type: an mlp needs fixed-size inputs"},
		{"batch_size neither number nor full", mod("batch_size: full", "batch_size: "+mark+"all"), `train.batch_size: expected a whole number or full (the whole training set), got string "all"`},
		{"transformer field on an mlp", mod("mlp2: {type: mlp, hidden: [16]}", "mlp2: {type: mlp, hidden: [16], "+mark+"heads: 2}"), "archs.mlp2.heads: unknown field (allowed: type, hidden, activation)"},
	}
	// Cases whose source needs the mark placed after editing.
	cases[1].src = strings.Replace(strings.Replace(modBase, "context: 4", "context: 3", 1), "arch: [gpt]", "arch: ["+mark+"gpt]", 1)
	cases[1].want = "grid.arch[0]: arch gpt (line 5) does not fit dataset modular: context: 3 positions are fewer than the task's 4 tokens per sequence"
	cases[11].src = strings.Replace(strings.Replace(base, "  mlp2: {type: mlp, hidden: [16]}\n", "  mlp2: {type: mlp, hidden: [16]}\n  gpt: {type: transformer, layers: 1, d_model: 8, heads: 2, context: 4}\n", 1), "arch: [mlp2]", "arch: [mlp2, "+mark+"gpt]", 1)
	cases[11].want = "grid.arch[1]: arch gpt (line 6) does not fit dataset mnist: type: a transformer reads token sequences"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, tc.src, tc.want)
		})
	}
}

// copyBase is a small valid copy-task file with a transformer.
const copyBase = `name: t
dataset: copy
data: {seq_len: 4, vocab: 6, train_size: 100, test_size: 20}
archs:
  gpt: {type: transformer, layers: 1, d_model: 8, heads: 2, context: 9}
  lstm: {type: rnn, cell: lstm, hidden: 8}
train: {batch_size: 10, optimizer: adamw}
grid:
  arch: [gpt]
  lr: [0.001]
  seed: [1]
  clip: [none]
`

// TestCopyErrors: the copy task's bad input, each at the value to change
// (issue 12).
func TestCopyErrors(t *testing.T) {
	cp := func(old, new string) string {
		if !strings.Contains(copyBase, old) {
			t.Fatalf("copyBase lacks %q", old)
		}
		return strings.Replace(copyBase, old, new, 1)
	}
	if _, err := loadSource("x.yaml", []byte(copyBase)); err != nil {
		t.Fatalf("the base file: %v", err)
	}
	for _, tc := range []struct {
		name string
		src  string
		want string
	}{
		{"context shorter than 2·seq_len+1", strings.Replace(cp("context: 9", "context: 8"), "arch: [gpt]", "arch: ["+mark+"gpt]", 1),
			"grid.arch[0]: arch gpt (line 5) does not fit dataset copy: context: 8 positions are fewer than the task's 9 tokens per sequence"},
		{"a longer seq_len on an axis", cp("seq_len: 4, ", "") + "  seq_len: [4, 5]\n",
			"does not fit dataset copy: context: 9 positions are fewer than the task's 11 tokens per sequence"},
		{"vocab 1", cp("vocab: 6", "vocab: "+mark+"1"), "data.vocab: must be from 2 to 65536, got 1"},
		{"vocab too big", cp("vocab: 6", "vocab: "+mark+"65537"), "data.vocab: must be from 2 to 65536, got 65537"},
		{"vocab not a number", cp("vocab: 6", "vocab: "+mark+"ten"), `data.vocab: expected a whole number, got string "ten"`},
		{"vocab on an axis", cp("vocab: 6, ", "") + "  vocab: [4, " + mark + "0]\n", "grid.vocab[1]: must be from 2 to 65536, got 0"},
		{"seq_len 0", cp("seq_len: 4", "seq_len: "+mark+"0"), "data.seq_len: must be from 1 to 4096, got 0"},
		{"seq_len too long", cp("seq_len: 4", "seq_len: "+mark+"4097"), "data.seq_len: must be from 1 to 4096, got 4097"},
		{"lstm on copy", cp("arch: [gpt]", "arch: ["+mark+"lstm]"),
			"grid.arch[0]: arch lstm (line 6) does not fit dataset copy: type: arch type rnn (rnn: tanh or lstm cell) gives one output per example"},
		{"modulus with copy", cp("vocab: 6,", "vocab: 6, "+mark+"modulus: 7,"), "data.modulus: dataset copy takes no modulus (only modular does)"},
		{"generator with copy", cp("vocab: 6,", "vocab: 6, generator: "+mark+"pascanu,"), "data.generator: dataset copy takes no generator"},
		{"vocab with modular", strings.Replace(modBase, "modulus: 11,", mark+"vocab: 4, modulus: 11,", 1), "data.vocab: dataset modular takes no vocab (only copy does)"},
		{"vocab with mnist", edit("test_size: 500}", "test_size: 500, "+mark+"vocab: 7}"), "data.vocab: dataset mnist takes no vocab (only copy does)"},
		{"batch larger than train_size", cp("train_size: 100", "train_size: 5"), "batch_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.src, mark) {
				_, err := loadSource("x.yaml", []byte(tc.src))
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want one containing %q", err, tc.want)
				}
				return
			}
			checkError(t, tc.src, tc.want)
		})
	}
}

// TestCopyDefaults: a copy file without data: takes seq_len 10, vocab 10,
// train_size 10000 and test_size 1000 (the grid doc's defaults).
func TestCopyDefaults(t *testing.T) {
	src := strings.Replace(strings.Replace(copyBase, "data: {seq_len: 4, vocab: 6, train_size: 100, test_size: 20}\n", "", 1), "context: 9", "context: 21", 1)
	cfgs, err := loadSource("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d := cfgs[0].Data
	if d.SeqLen != 10 || d.Vocab != 10 || d.TrainSize != 10000 || d.TestSize != 1000 || d.TrainEvalSize != 1000 {
		t.Errorf("data %+v, want seq_len 10, vocab 10, train_size 10000, test_size 1000, train_eval_size 1000", d)
	}
}

// checkError loads src (with the mark in it) and checks the error.
func checkError(t *testing.T, src, want string) {
	t.Helper()
	i := strings.Index(src, mark)
	if i < 0 {
		t.Fatalf("case has no %s mark", mark)
	}
	before := src[:i]
	line := strings.Count(before, "\n") + 1
	col := len([]rune(before[strings.LastIndex(before, "\n")+1:])) + 1
	src = before + src[i+len(mark):]
	_, err := loadSource("x.yaml", []byte(src))
	if err == nil {
		t.Fatalf("accepted:\n%s", src)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not match ErrInvalid: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != "x.yaml" {
		t.Errorf("error is not a grid *Error naming the file: %v", err)
	}
	full := fmt.Sprintf("x.yaml:%d:%d: %s", line, col, want)
	if !strings.Contains(err.Error(), full) {
		t.Errorf("error\n%v\ndoes not contain\n%s\nin\n%s", err, full, src)
	}
}

// loadSource is Load on bytes: parse and expand.
func loadSource(path string, src []byte) ([]config.Config, error) {
	e, err := Parse(path, src)
	if err != nil {
		return nil, err
	}
	return e.Expand()
}
