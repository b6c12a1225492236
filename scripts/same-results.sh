#!/usr/bin/env bash
# same-results.sh: proves that the working tree trains bit-identical results
# to an earlier revision (issue 10: every refactor keeps results
# bit-identical).
#
# Usage:
#   scripts/same-results.sh OLD_REV [EXPERIMENT.yaml ...]
#
#   OLD_REV          any commit-ish: main, HEAD, HEAD~3, a hash, a tag.
#   EXPERIMENT.yaml  further experiment files to train and compare, beside
#                    experiments/demo.yaml and experiments/synthetic.yaml.
#
# What it does, in a temporary folder removed on exit:
#   1. Exports OLD_REV with `git archive` (the repository is not touched) and
#      builds its binaries and the working tree's (uncommitted changes
#      included), each with `go build -o DIR/ ./cmd/...`.
#   2. `runner plan -json` of every experiments/*.yaml and every file given,
#      by both builds: the output (each configuration's key and canonical
#      JSON) must be byte-identical. A file that is new since OLD_REV and
#      that OLD_REV's runner rejects is noted and skipped.
#   3. Trains demo.yaml, synthetic.yaml and the files given with each build,
#      each file into its own database per build. A reduced copy is trained
#      (reduce_grid_go below: first seed only, train_size at most 3000,
#      test_size and train_eval_size at most 1000, epochs at most 2): every
#      arch, clip method, threshold, learning rate and sequence length
#      stays. A file no rule applies to is trained as written.
#      SAME_RESULTS_FULL=1 trains every file as written; a file whose
#      reduced copy is not a valid grid (a warm-up longer than the reduced
#      run) is trained as written, with a note.
#   4. Compares per run, ordered by config_hash: config_hash, status,
#      test_acc, test_loss, train_acc, train_loss (run_summary), the number
#      of logged steps and sum(steps.loss), sum(steps.grad_norm),
#      sum(steps.clipped_norm). Floats are printed with 17 significant
#      digits (printf '%!.17g'; without '!' SQLite stops at 16) and compared
#      once more as the hex of their IEEE-754 bits. The sets of keys must be
#      equal, and every run must end done or diverged.
#
# Output: progress on stderr; on success one line on stdout,
#   same results: 40 runs of demo, 18 of synthetic identical between main (dd102e2) and the working tree
# SAME_RESULTS_KEEP=1 keeps the temporary folder (binaries, grids, databases,
# logs, the compared rows as old/*.rows and new/*.rows) and prints its path.
# Exit status: 0 identical; 1 a difference (the differing rows are printed),
# a failed build or a failed training; 2 bad usage, OLD_REV not a commit, a
# missing experiment file or missing MNIST files.
#
# Needs: go, git, sqlite3 (the shell, with its ieee754 functions: Debian's
# sqlite3 package), and the MNIST files (`make data`; $CLIPLAB_DATA, or
# data/mnist, fetched with `make data` when missing). Results are compared on
# one machine: both builds run with the same environment, so with the same
# OpenBLAS kernels (OPENBLAS_CORETYPE). It costs about 1 CPU-minute in all
# (measured: 56-63 s user, 6-7 s sys; 225-275 s wall on a 2-core machine at
# load average 20-25, so about a minute on an idle one).
set -euo pipefail

prog=same-results
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
usage_err() {
	say "$*"
	echo "usage: scripts/same-results.sh OLD_REV [EXPERIMENT.yaml ...]" >&2
	exit 2
}
fail() {
	say "FAILED: $*"
	exit 1
}

[ $# -ge 1 ] || usage_err "missing OLD_REV"
case "$1" in -h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
esac
old_rev=$1
shift

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for tool in go git sqlite3; do
	command -v "$tool" >/dev/null || usage_err "$tool not found on PATH"
done
old_sha=$(git -C "$root" rev-parse --verify --quiet "${old_rev}^{commit}") ||
	usage_err "OLD_REV \"$old_rev\" is not a commit of $root"
old_short=$(git -C "$root" rev-parse --short "$old_sha")
old_label="$old_rev ($old_short)"
case "$old_sha" in "$old_rev"*) old_label=$old_short ;; esac

# Experiment files: absolute paths, checked before anything is built.
extra=()
for f in "$@"; do
	[ -f "$f" ] || usage_err "$f: no such experiment file"
	extra+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
done
train_files=("$root/experiments/demo.yaml" "$root/experiments/synthetic.yaml" "${extra[@]}")
plan_files=("$root"/experiments/*.yaml "${extra[@]}")

data=${CLIPLAB_DATA:-$root/data/mnist}
mnist_ok() {
	local f
	for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
		[ -f "$data/$f" ] || return 1
	done
}
if ! mnist_ok; then
	[ -z "${CLIPLAB_DATA:-}" ] || usage_err "CLIPLAB_DATA=$CLIPLAB_DATA lacks the MNIST files (make data)"
	say "fetching MNIST (make data)"
	make -C "$root" -s data >&2 || usage_err "make data failed: no MNIST files in $data"
fi

# reduce_grid_go prints the Go source of the grid reducer. It lives here, not
# in a .go file: the module holds only cliplab's layered packages
# (internal/config's TestImportLayers checks every .go file in the tree).
# build_reducer builds it as a module of its own with the yaml.v3 version of
# go.mod and the checksums of go.sum (from the module cache, no network).
reduce_grid_go() {
	cat <<'REDUCE_GRID'
// reduce-grid writes a smaller copy of an experiment file, for
// scripts/same-results.sh (which builds it from this text): every
// architecture, clip method, threshold, learning rate and sequence length
// stays; fewer seeds, examples and epochs are trained.
//
//	reduce-grid IN.yaml OUT.yaml
//
// Rules (each applies only where the file has what it changes):
//
//   - grid.seed with several values keeps its first.
//   - train_size (under data: or a grid axis) at most 3000, never below
//     the largest batch_size of the file; a file that gives none gets
//     data.train_size 3000 where its dataset's default is larger (mnist
//     60000, addition and temporal-order 10000).
//   - test_size at most 1000 (mnist's default 10000 becomes an explicit
//     1000); train_eval_size at most 1000 and at most the smallest
//     train_size.
//   - epochs (under train: or a grid axis) at most 2.
//
// A value on a grid axis is capped one by one and duplicates are dropped.
// Only integer values are changed; anything else is left as written. It
// prints one line to stdout saying what changed ("unchanged" when no rule
// applied) and copies the file as written then. Exit 2 on a file it cannot
// read as YAML; the runner checks the result.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	maxTrain  = 3000
	maxTest   = 1000
	maxEpochs = 2
)

// defaults of the datasets (internal/grid/doc.go, "data:").
var defaultTrain = map[string]int64{"mnist": 60000, "addition": 10000, "temporal-order": 10000}
var defaultTest = map[string]int64{"mnist": 10000, "addition": 1000, "temporal-order": 1000}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "reduce-grid: usage: reduce-grid IN.yaml OUT.yaml")
		os.Exit(2)
	}
	in, out := os.Args[1], os.Args[2]
	src, err := os.ReadFile(in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "reduce-grid: %v\n", err)
		os.Exit(2)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		fmt.Fprintf(os.Stderr, "reduce-grid: %s: %v\n", in, err)
		os.Exit(2)
	}
	var changes []string
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		changes = reduce(doc.Content[0])
	}
	outBytes := src
	if len(changes) > 0 {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&doc); err != nil {
			fmt.Fprintf(os.Stderr, "reduce-grid: %s: encode: %v\n", in, err)
			os.Exit(1)
		}
		outBytes = buf.Bytes()
	}
	if err := os.WriteFile(out, outBytes, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "reduce-grid: %v\n", err)
		os.Exit(1)
	}
	if len(changes) == 0 {
		fmt.Println("unchanged")
		return
	}
	fmt.Println(strings.Join(changes, "; "))
}

// reduce applies the rules to the file's top-level mapping and says what
// it changed.
func reduce(top *yaml.Node) []string {
	var changes []string
	note := func(format string, args ...any) { changes = append(changes, fmt.Sprintf(format, args...)) }
	grid := get(top, "grid")
	data := get(top, "data")
	train := get(top, "train")
	dataset := ""
	if d := get(top, "dataset"); d != nil && d.Kind == yaml.ScalarNode {
		dataset = d.Value
	}

	// seed: the first value only.
	if s := get(grid, "seed"); s != nil && s.Kind == yaml.SequenceNode && len(s.Content) > 1 {
		before := flow(s)
		s.Content = s.Content[:1]
		note("grid.seed %s → %s", before, flow(s))
	}

	// train_size, never below the largest batch size.
	floor := int64(64) // batch_size's default
	for _, b := range []*yaml.Node{get(train, "batch_size"), get(grid, "batch_size")} {
		for _, v := range ints(b) {
			floor = max(floor, v)
		}
	}
	trainCap := max(int64(maxTrain), floor)
	minTrain := capField("train_size", "data", data, grid, trainCap, note)
	if get(data, "train_size") == nil && get(grid, "train_size") == nil {
		if def, ok := defaultTrain[dataset]; ok {
			minTrain = def
			if def > trainCap {
				data = setData(top, data, "train_size", trainCap)
				minTrain = trainCap
				note("data.train_size (default %d) → %d", def, trainCap)
			}
		}
	}

	capField("test_size", "data", data, grid, maxTest, note)
	if get(data, "test_size") == nil && get(grid, "test_size") == nil {
		if def, ok := defaultTest[dataset]; ok && def > maxTest {
			data = setData(top, data, "test_size", maxTest)
			note("data.test_size (default %d) → %d", def, maxTest)
		}
	}
	evalCap := int64(maxTest)
	if minTrain > 0 {
		evalCap = min(evalCap, minTrain)
	}
	capField("train_eval_size", "data", data, grid, evalCap, note)

	capField("epochs", "train", train, grid, maxEpochs, note)
	return changes
}

// capField caps the integer field name under section (data: or train:,
// called sectionName) and on the grid axis of that name; it returns the
// smallest value left (0 if there is none).
func capField(name, sectionName string, section, grid *yaml.Node, limit int64, note func(string, ...any)) int64 {
	smallest := int64(0)
	keep := func(v int64) {
		if smallest == 0 || v < smallest {
			smallest = v
		}
	}
	if n := get(section, name); n != nil && n.Kind == yaml.ScalarNode {
		if v, ok := intOf(n); ok {
			if v > limit {
				note("%s.%s %d → %d", sectionName, name, v, limit)
				setInt(n, limit)
				v = limit
			}
			keep(v)
		}
	}
	n := get(grid, name)
	switch {
	case n == nil:
	case n.Kind == yaml.ScalarNode:
		if v, ok := intOf(n); ok {
			if v > limit {
				note("grid.%s %d → %d", name, v, limit)
				setInt(n, limit)
				v = limit
			}
			keep(v)
		}
	case n.Kind == yaml.SequenceNode:
		before := flow(n)
		seen := map[int64]bool{}
		var kept []*yaml.Node
		changed := false
		for _, e := range n.Content {
			v, ok := intOf(e)
			if !ok {
				kept = append(kept, e)
				continue
			}
			if v > limit {
				setInt(e, limit)
				v = limit
				changed = true
			}
			if seen[v] {
				changed = true
				continue
			}
			seen[v] = true
			keep(v)
			kept = append(kept, e)
		}
		if changed {
			n.Content = kept
			note("grid.%s %s → %s", name, before, flow(n))
		}
	}
	return smallest
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setData sets data.key (creating data: when the file has none) and
// returns the data mapping.
func setData(top, data *yaml.Node, key string, v int64) *yaml.Node {
	if data == nil {
		data = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "data"}, data)
	}
	val := &yaml.Node{Kind: yaml.ScalarNode}
	setInt(val, v)
	data.Content = append(data.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
	return data
}

func intOf(n *yaml.Node) (int64, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || (n.Tag != "" && n.Tag != "!!int") {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

func ints(n *yaml.Node) []int64 {
	var out []int64
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if v, ok := intOf(n); ok {
			out = append(out, v)
		}
		return out
	}
	for _, e := range n.Content {
		if v, ok := intOf(e); ok {
			out = append(out, v)
		}
	}
	return out
}

func setInt(n *yaml.Node, v int64) {
	n.Kind, n.Tag, n.Style, n.Value = yaml.ScalarNode, "!!int", 0, strconv.FormatInt(v, 10)
}

// flow renders a sequence as [a, b].
func flow(n *yaml.Node) string {
	var vs []string
	for _, e := range n.Content {
		vs = append(vs, e.Value)
	}
	return "[" + strings.Join(vs, ", ") + "]"
}
REDUCE_GRID
}
build_reducer() {
	local v
	mkdir -p "$tmp/reduce" &&
		reduce_grid_go >"$tmp/reduce/main.go" &&
		v=$(cd "$root" && go list -m -f '{{.Version}}' gopkg.in/yaml.v3) &&
		printf 'module reducegrid\n\ngo 1.22\n\nrequire gopkg.in/yaml.v3 %s\n' "$v" >"$tmp/reduce/go.mod" &&
		cp "$root/go.sum" "$tmp/reduce/go.sum" &&
		(cd "$tmp/reduce" && GOWORK=off GOFLAGS=-mod=mod go build -o "$tmp/reduce-grid" .)
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/same-results.XXXXXX")
cleanup() {
	if [ -n "${SAME_RESULTS_KEEP:-}" ]; then
		say "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start=$SECONDS

# 1. Build both.
say "exporting $old_label"
mkdir -p "$tmp/old-src" "$tmp/old" "$tmp/new" "$tmp/grids"
git -C "$root" archive --format=tar "$old_sha" | tar -x -C "$tmp/old-src" ||
	fail "git archive of $old_label"
say "building $old_label"
(cd "$tmp/old-src" && go build -o "$tmp/old/" ./cmd/...) >"$tmp/old/build.log" 2>&1 || {
	cat "$tmp/old/build.log" >&2
	fail "build of $old_label"
}
say "building the working tree"
(cd "$root" && go build -o "$tmp/new/" ./cmd/...) >"$tmp/new/build.log" 2>&1 || {
	cat "$tmp/new/build.log" >&2
	fail "build of the working tree"
}
build_reducer >&2 || fail "build of the grid reducer (reduce_grid_go in this script)"

# 2. Plans: the keys and canonical configurations of every file.
status=0
plans=0
for f in "${plan_files[@]}"; do
	rel=${f#"$root"/}
	if ! "$tmp/new/runner" plan -json "$f" >"$tmp/new/plan" 2>"$tmp/new/plan.err"; then
		cat "$tmp/new/plan.err" >&2
		fail "the working tree's runner rejects $rel"
	fi
	if ! "$tmp/old/runner" plan -json "$f" >"$tmp/old/plan" 2>"$tmp/old/plan.err"; then
		if [ "$rel" != "$f" ] || ! git -C "$root" cat-file -e "$old_sha:$rel" 2>/dev/null; then
			say "note: $rel is not in $old_label and its runner rejects it ($(head -n1 "$tmp/old/plan.err")); plan not compared"
			continue
		fi
		cat "$tmp/old/plan.err" >&2
		fail "the runner of $old_label rejects $rel, which it holds"
	fi
	if ! cmp -s "$tmp/old/plan" "$tmp/new/plan"; then
		diff -U0 --label "$old_label" --label "working tree" "$tmp/old/plan" "$tmp/new/plan" >"$tmp/plan.diff" || true
		say "DIFFERENT: runner plan -json $rel: $(grep -c '^+{' "$tmp/plan.diff" || true) of $(wc -l <"$tmp/new/plan") lines (key and canonical configuration) differ; the first:"
		grep '^[-+]{' "$tmp/plan.diff" | head -n 6 >&2 || true
		status=1
	fi
	plans=$((plans + 1))
done

# 3. Train. The same reduced copy goes to both builds.
grids=()
i=0
for f in "${train_files[@]}"; do
	i=$((i + 1))
	g="$tmp/grids/$i-$(basename "$f")"
	# Section 2 planned every file as written; a reduced copy is planned
	# here, and one that is not a valid grid (e.g. a warm-up longer than the
	# reduced run) is replaced by the file as written.
	if [ -n "${SAME_RESULTS_FULL:-}" ]; then
		cp "$f" "$g"
	else
		what=$("$tmp/reduce-grid" "$f" "$g") || fail "reducing ${f#"$root"/}"
		say "reduced ${f#"$root"/}: $what"
		if ! "$tmp/new/runner" plan "$g" >/dev/null 2>"$tmp/new/plan.err"; then
			say "the reduced copy of ${f#"$root"/} is not a valid grid ($(head -c 300 "$tmp/new/plan.err")); training it as written"
			cp "$f" "$g"
		fi
	fi
	grids+=("$g")
done
for build in old new; do
	label=$old_label
	[ "$build" = new ] && label="the working tree"
	for g in "${grids[@]}"; do
		b=$(basename "$g" .yaml)
		say "training $b with $label"
		if ! "$tmp/$build/runner" run -db "$tmp/$build/$b.db" -data "$data" "$g" >"$tmp/$build/$b.log" 2>&1; then
			tail -n 20 "$tmp/$build/$b.log" >&2
			fail "runner run of $b with $label"
		fi
	done
done

# 4. Compare.
# rows DB FMT: one line per run, ordered by config_hash; FMT formats a float
# (a SQL expression in @, the value).
rows() {
	local f=$2
	sqlite3 -batch -bail "$1" "
	WITH r AS (
		SELECT s.config_hash, s.status, s.test_acc, s.test_loss, s.train_acc, s.train_loss,
			(SELECT count(*)            FROM steps t WHERE t.run_id = s.run_id) AS logged_steps,
			(SELECT sum(t.loss)         FROM steps t WHERE t.run_id = s.run_id) AS sum_loss,
			(SELECT sum(t.grad_norm)    FROM steps t WHERE t.run_id = s.run_id) AS sum_grad_norm,
			(SELECT sum(t.clipped_norm) FROM steps t WHERE t.run_id = s.run_id) AS sum_clipped_norm
		FROM run_summary s)
	SELECT config_hash || ' ' || status
		|| ' test_acc='         || ${f//@/test_acc}
		|| ' test_loss='        || ${f//@/test_loss}
		|| ' train_acc='        || ${f//@/train_acc}
		|| ' train_loss='       || ${f//@/train_loss}
		|| ' steps='            || logged_steps
		|| ' sum_loss='         || ${f//@/sum_loss}
		|| ' sum_grad_norm='    || ${f//@/sum_grad_norm}
		|| ' sum_clipped_norm=' || ${f//@/sum_clipped_norm}
	FROM r ORDER BY config_hash;"
}
# differing OLD NEW: the rows of the keys in both files whose rows differ,
# old above new, and a count.
differing() {
	awk 'NR == FNR { old[$1] = $0; next }
		($1 in old) && old[$1] != $0 { n++; print "  old " old[$1]; print "  new " $0 }
		($1 in old) { both++ }
		END { printf "  %d of %d runs in both differ\n", n, both }' "$1" "$2"
}
text_fmt="(CASE WHEN @ IS NULL THEN 'NULL' ELSE printf('%!.17g', @) END)"
hex_fmt="(CASE WHEN @ IS NULL THEN 'NULL' ELSE hex(ieee754_to_blob(@)) END)"
summary=()
for g in "${grids[@]}"; do
	b=$(basename "$g" .yaml)
	name=$(sqlite3 -batch "$tmp/new/$b.db" "SELECT group_concat(DISTINCT experiment) FROM runs")
	for build in old new; do
		rows "$tmp/$build/$b.db" "$text_fmt" >"$tmp/$build/$b.rows" || fail "reading $tmp/$build/$b.db"
		rows "$tmp/$build/$b.db" "$hex_fmt" >"$tmp/$build/$b.hex" || fail "reading $tmp/$build/$b.db"
		cut -d' ' -f1 "$tmp/$build/$b.rows" >"$tmp/$build/$b.keys"
	done
	n=$(wc -l <"$tmp/new/$b.rows")
	same=1
	if ! cmp -s "$tmp/old/$b.keys" "$tmp/new/$b.keys"; then
		say "DIFFERENT: $name: the sets of config_hash differ"
		comm -23 "$tmp/old/$b.keys" "$tmp/new/$b.keys" | sed 's/^/  only in OLD: /' >&2
		comm -13 "$tmp/old/$b.keys" "$tmp/new/$b.keys" | sed 's/^/  only in the working tree: /' >&2
		same=0
	fi
	for kind in rows hex; do
		cmp -s "$tmp/old/$b.$kind" "$tmp/new/$b.$kind" && continue
		if [ "$kind" = rows ]; then
			say "DIFFERENT: $name: runs whose results differ (old: $old_label, new: the working tree):"
		else
			say "DIFFERENT: $name: equal to 17 digits but not in their bits (hex of the doubles):"
		fi
		differing "$tmp/old/$b.$kind" "$tmp/new/$b.$kind" >&2
		same=0
		break
	done
	unended=$(sqlite3 -batch "$tmp/new/$b.db" "SELECT count(*) FROM runs WHERE status NOT IN ('done', 'diverged')")
	if [ "$unended" != 0 ]; then
		say "FAILED: $name: $unended runs did not end done or diverged:"
		sqlite3 -batch "$tmp/new/$b.db" "SELECT '  ' || config_hash || ' ' || status || ' ' || coalesce(error, '') FROM runs WHERE status NOT IN ('done', 'diverged')" >&2
		same=0
	fi
	if [ "$n" = 0 ]; then
		say "FAILED: $name: no runs"
		same=0
	fi
	[ "$same" = 1 ] || status=1
	if [ ${#summary[@]} = 0 ]; then
		summary+=("$n runs of $name")
	else
		summary+=("$n of $name")
	fi
done

if [ "$status" != 0 ]; then
	say "FAILED after $((SECONDS - start)) s: results differ between $old_label and the working tree (see above)"
	exit 1
fi
say "done in $((SECONDS - start)) s; runner plan -json identical for $plans experiment files"
list=$(printf '%s, ' "${summary[@]}")
echo "same results: ${list%, } identical between $old_label and the working tree"
