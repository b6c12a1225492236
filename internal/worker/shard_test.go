package worker

import (
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
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
		want Shard
		err  string // part of the error; "" for none
	}{
		{"0/1", Shard{0, 1}, ""},
		{"2/3", Shard{2, 3}, ""},
		{" 1 / 4 ", Shard{1, 4}, ""},
		{"99999/100000", Shard{99999, 100000}, ""},
		{"3/3", Shard{}, "index must be 0 to 2"},
		{"-1/3", Shard{}, "index must be 0 to 2"},
		{"1/0", Shard{}, "count must be 1 to"},
		{"0/100001", Shard{}, "count must be 1 to"},
		{"1", Shard{}, "want i/n"},
		{"", Shard{}, "want i/n"},
		{"a/3", Shard{}, `index "a" is not a whole number`},
		{"1/b", Shard{}, `count "b" is not a whole number`},
		{"1/2/3", Shard{}, "is not a whole number"},
		{"$SLURM_ARRAY_TASK_ID/3", Shard{}, "is not a whole number"},
	} {
		got, err := ParseShard(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseShard(%q): %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseShard(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
		case got != tc.want:
			t.Errorf("ParseShard(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "2/3", "3/3", "-1/2", "1/0", "x", "1/2/3", " 7 / 9 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseShard(s)
		if err != nil {
			return
		}
		if p.N < 1 || p.N > MaxShards || p.I < 0 || p.I >= p.N {
			t.Fatalf("ParseShard(%q) = %+v, out of range", s, p)
		}
		q, err := ParseShard(p.String())
		if err != nil || q != p {
			t.Fatalf("ParseShard(%q) = %+v, whose String %q parses as %+v, %v", s, p, p.String(), q, err)
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
		if got := ShardOf(tc.key, tc.n); got != tc.want {
			t.Errorf("ShardOf(%.16s…, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
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
		if got := ShardOf(key, n); got != want {
			t.Fatalf("ShardOf(%s, %d) = %d, want %d", key, n, got, want)
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
					t.Errorf("ShardOf(%q, %d) did not panic", tc.key, tc.n)
				}
			}()
			ShardOf(tc.key, tc.n)
		}()
	}
}

// TestShardFilter splits the 168 configurations of issue 4's example: the
// shards never overlap, their union is the grid, each keeps the grid's
// order, and the split does not depend on that order.
func TestShardFilter(t *testing.T) {
	_, cfgs, err := grid.Load(filepath.Join("..", "grid", "testdata", "issue4.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := (Shard{}).Filter(cfgs); len(got) != len(cfgs) {
		t.Fatalf("the zero shard holds %d configurations, want all %d", len(got), len(cfgs))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	shuffled := slices.Clone(cfgs)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, n := range []int{1, 2, 3, 7, 64, 200} {
		seen := map[string]int{}
		for i := range n {
			s := Shard{I: i, N: n}
			part := s.Filter(cfgs)
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
			for _, c := range s.Filter(shuffled) {
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
		s    Shard
		want string
	}{
		{"runs.db", Shard{}, "runs.db"},
		{"runs.db", Shard{2, 3}, "runs.shard-2-of-3.db"},
		{"out/x.sqlite", Shard{0, 10}, "out/x.shard-0-of-10.sqlite"},
		{"/a.b/runs", Shard{1, 2}, "/a.b/runs.shard-1-of-2.db"},
	} {
		got := ShardDBPath(tc.base, tc.s)
		if got != tc.want {
			t.Errorf("ShardDBPath(%q, %v) = %q, want %q", tc.base, tc.s, got, tc.want)
		}
		s, ok := ShardOfPath(got)
		if ok != (tc.s.N > 0) || s != tc.s {
			t.Errorf("ShardOfPath(%q) = %v, %v; want %v", got, s, ok, tc.s)
		}
	}
	for _, p := range []string{"runs.db", "x.shard-3-of-3.db", "x.shard-1-of-.db", "x.shard-a-of-2.db", "x.shard-1.db"} {
		if s, ok := ShardOfPath(p); ok {
			t.Errorf("ShardOfPath(%q) = %v, want none", p, s)
		}
	}
}
