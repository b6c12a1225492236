package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/config"
	"cliplab/internal/grid"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want shardSpec
		err  string // part of the error; "" for none
	}{
		{"0/1", shardSpec{0, 1}, ""},
		{"2/3", shardSpec{2, 3}, ""},
		{" 1 / 4 ", shardSpec{1, 4}, ""},
		{"99999/100000", shardSpec{99999, 100000}, ""},
		{"3/3", shardSpec{}, "index must be 0 to 2"},
		{"-1/3", shardSpec{}, "index must be 0 to 2"},
		{"1/0", shardSpec{}, "count must be 1 to"},
		{"0/100001", shardSpec{}, "count must be 1 to"},
		{"1", shardSpec{}, "want i/n"},
		{"", shardSpec{}, "want i/n"},
		{"a/3", shardSpec{}, `index "a" is not a whole number`},
		{"1/b", shardSpec{}, `count "b" is not a whole number`},
		{"1/2/3", shardSpec{}, "is not a whole number"},
		{"$SLURM_ARRAY_TASK_ID/3", shardSpec{}, "is not a whole number"},
	} {
		got, err := parseShard(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("parseShard(%q): %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseShard(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
		case got != tc.want:
			t.Errorf("parseShard(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "2/3", "3/3", "-1/2", "1/0", "x", "1/2/3", " 7 / 9 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseShard(s)
		if err != nil {
			return
		}
		if p.N < 1 || p.N > maxShards || p.I < 0 || p.I >= p.N {
			t.Fatalf("parseShard(%q) = %+v, out of range", s, p)
		}
		q, err := parseShard(p.String())
		if err != nil || q != p {
			t.Fatalf("parseShard(%q) = %+v, whose String %q parses as %+v, %v", s, p, p.String(), q, err)
		}
	})
}

func TestShardOf(t *testing.T) {
	// Hand-made keys: the first 16 hex digits as an unsigned integer mod n.
	for _, tc := range []struct {
		key  string
		n    int
		want int
	}{
		{"0000000000000007" + strings.Repeat("0", 48), 3, 1},        // 7 mod 3
		{"ffffffffffffffff" + strings.Repeat("0", 48), 2, 1},        // 2⁶⁴−1 is odd: no sign
		{"ffffffffffffffff" + strings.Repeat("0", 48), 3, 0},        // 2⁶⁴−1 = 3·6148914691236517205
		{"8000000000000000" + strings.Repeat("f", 48), 10, 8},       // 2⁶³ = 9223372036854775808
		{"0000000000000005" + strings.Repeat("f", 48), 1, 0},        // one shard holds all
		{"00000000000000ff" + strings.Repeat("9", 48), 100000, 255}, // digits past 16 are ignored
		{"000000000000000A" + strings.Repeat("0", 48), 4, 2},        // upper-case hex reads too
		{"0123456789abcdef" + strings.Repeat("0", 48), 1000, 81985529216486895 % 1000},
	} {
		if got := shardOf(tc.key, tc.n); got != tc.want {
			t.Errorf("shardOf(%.16s…, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
	// SHA-256 keys of seeded random configs, against math/big.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		sum := sha256.Sum256(b[:])
		key := hex.EncodeToString(sum[:])
		n := 1 + rng.IntN(50)
		x, _ := new(big.Int).SetString(key[:16], 16)
		want := int(new(big.Int).Mod(x, big.NewInt(int64(n))).Int64())
		if got := shardOf(key, n); got != want {
			t.Fatalf("shardOf(%s, %d) = %d, want %d", key, n, got, want)
		}
	}
}

func TestShardOfPanics(t *testing.T) {
	for _, tc := range []struct {
		key string
		n   int
	}{
		{strings.Repeat("0", 64), 0},
		{"abc", 3},
		{"zzzzzzzzzzzzzzzz" + strings.Repeat("0", 48), 3},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("shardOf(%q, %d) did not panic", tc.key, tc.n)
				}
			}()
			shardOf(tc.key, tc.n)
		}()
	}
}

// TestShardFilter splits the 168 configurations of issue 4's example: the
// shards never overlap, their union is the grid, each keeps the grid's
// order, and the split does not depend on that order.
func TestShardFilter(t *testing.T) {
	_, cfgs, err := grid.Load(filepath.Join("..", "..", "internal", "grid", "testdata", "issue4.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := (shardSpec{}).filter(cfgs); len(got) != len(cfgs) {
		t.Fatalf("the zero shard holds %d configurations, want all %d", len(got), len(cfgs))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	shuffled := slices.Clone(cfgs)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, n := range []int{1, 2, 3, 7, 64, 200} {
		seen := map[string]int{}
		for i := range n {
			s := shardSpec{I: i, N: n}
			part := s.filter(cfgs)
			var pos []int
			for _, c := range part {
				k := c.Key()
				if _, dup := seen[k]; dup {
					t.Fatalf("n=%d: %.12s in shards %d and %d", n, k, seen[k], i)
				}
				seen[k] = i
				pos = append(pos, slices.IndexFunc(cfgs, func(x config.Config) bool { return x.Key() == k }))
			}
			if !slices.IsSorted(pos) {
				t.Errorf("n=%d shard %d: configurations out of the grid's order: %v", n, i, pos)
			}
			for _, c := range s.filter(shuffled) {
				if seen[c.Key()] != i {
					t.Errorf("n=%d: %.12s in shard %d of the grid, %d of the shuffled grid", n, c.Key(), seen[c.Key()], i)
				}
			}
		}
		if len(seen) != len(cfgs) {
			t.Errorf("n=%d: the shards hold %d configurations, want the grid's %d", n, len(seen), len(cfgs))
		}
	}
}

func TestShardDBPath(t *testing.T) {
	for _, tc := range []struct {
		base string
		s    shardSpec
		want string
	}{
		{"runs.db", shardSpec{}, "runs.db"},
		{"runs.db", shardSpec{2, 3}, "runs.shard-2-of-3.db"},
		{"out/x.sqlite", shardSpec{0, 10}, "out/x.shard-0-of-10.sqlite"},
		{"/a.b/runs", shardSpec{1, 2}, "/a.b/runs.shard-1-of-2.db"},
	} {
		got := shardDBPath(tc.base, tc.s)
		if got != tc.want {
			t.Errorf("shardDBPath(%q, %v) = %q, want %q", tc.base, tc.s, got, tc.want)
		}
		s, ok := shardOfPath(got)
		if ok != (tc.s.N > 0) || s != tc.s {
			t.Errorf("shardOfPath(%q) = %v, %v; want %v", got, s, ok, tc.s)
		}
	}
	for _, p := range []string{"runs.db", "x.shard-3-of-3.db", "x.shard-1-of-.db", "x.shard-a-of-2.db", "x.shard-1.db"} {
		if s, ok := shardOfPath(p); ok {
			t.Errorf("shardOfPath(%q) = %v, want none", p, s)
		}
	}
}

// TestRunShard trains a grid as three shards with runner run -shard: each
// default database holds exactly its shard, and the shards merge with a
// database of the whole grid (so each recorded the whole grid's hash).
func TestRunShard(t *testing.T) {
	file, err := filepath.Abs(filepath.Join("testdata", "slurm_short.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	_, cfgs, err := grid.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var shards []string
	for i := range 3 {
		runOK(t, "run", "-shard", shardSpec{i, 3}.String(), "-workers", "1", "-progress", "none", file)
		p := shardDBPath("runs.db", shardSpec{i, 3})
		shards = append(shards, p)
	}
	if _, err := os.Stat("runs.db"); err == nil {
		t.Errorf("runner run -shard wrote runs.db; want only the shard files")
	}
	checkShards(t, file, shards)
	// Resuming a finished shard adds and trains nothing.
	var stdout, stderr strings.Builder
	if err := run(t.Context(), []string{"run", "-shard", "1/3", "-workers", "1", "-progress", "none", file}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("(shard 1/3 of a grid of %d), 0 new, database %s", len(cfgs), shards[1]); !strings.Contains(stderr.String(), want) {
		t.Errorf("rerun of shard 1 printed %q, want %q", stderr.String(), want)
	}
	runOK(t, "run", "-workers", "2", "-progress", "none", "-db", "whole.db", file)
	for _, p := range shards {
		out := runOK(t, "merge", "-db", "whole.db", p)
		if !strings.Contains(out, p+": 0 added, 0 replaced by a better attempt, ") {
			t.Errorf("merge of %s into the whole grid's database printed %q, want every run kept", p, out)
		}
	}
	if got := len(snapshot(t, t.Context(), "whole.db")); got != len(cfgs) {
		t.Errorf("whole.db holds %d configurations after merging the shards, want %d", got, len(cfgs))
	}
}
