// The split of a grid into shards, one per Slurm array task (runner run
// -shard i/n), and the names of the shard databases.

package worker

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"cliplab/internal/config"
)

// Shard is shard I of N, 0 ≤ I < N. The zero value (N == 0) is the whole
// grid. It is a flag.Value: -shard i/n.
type Shard struct{ I, N int }

// MaxShards bounds N: Slurm's own MaxArraySize default is 1001, and a grid
// split finer than this is a mistake rather than a plan.
const MaxShards = 100000

// ParseShard reads "i/n": shard i of n, counting from 0 so that
// $SLURM_ARRAY_TASK_ID/n with --array=0-(n-1) names every shard once.
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want i/n, e.g. 0/4 (shard i of n, 0 ≤ i < n)", s)
	}
	i, err := strconv.Atoi(strings.TrimSpace(is))
	if err != nil {
		return Shard{}, fmt.Errorf("shard %q: index %q is not a whole number", s, is)
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil {
		return Shard{}, fmt.Errorf("shard %q: count %q is not a whole number", s, ns)
	}
	if n < 1 || n > MaxShards {
		return Shard{}, fmt.Errorf("shard %q: count must be 1 to %d, got %d", s, MaxShards, n)
	}
	if i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: index must be 0 to %d (shards count from 0, like $SLURM_ARRAY_TASK_ID), got %d", s, n-1, i)
	}
	return Shard{I: i, N: n}, nil
}

// String returns "i/n", or "" for the whole grid.
func (s Shard) String() string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}

// Set parses "i/n" (flag.Value).
func (s *Shard) Set(v string) error {
	p, err := ParseShard(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// ShardOf returns the shard, 0 ≤ s < n, of the configuration whose key is
// given: its first 16 hex digits (the first 8 bytes of the SHA-256) as an
// unsigned integer, mod n. The split depends on the key alone, never on the
// grid's order or size, so shards never overlap, their union is the grid,
// and a configuration stays in its shard when others are added or removed.
// ShardOf panics if n < 1 or key does not start with 16 hex digits (keys
// come from config.Config.Key).
func ShardOf(key string, n int) int {
	if n < 1 {
		panic(fmt.Sprintf("worker: ShardOf with n = %d", n))
	}
	if len(key) < 16 {
		panic(fmt.Sprintf("worker: ShardOf with key %q shorter than 16 hex digits", key))
	}
	x, err := strconv.ParseUint(key[:16], 16, 64)
	if err != nil {
		panic(fmt.Sprintf("worker: ShardOf with key %q: %v", key, err))
	}
	return int(x % uint64(n))
}

// Filter returns the configurations of cfgs in shard s, in their order; the
// whole grid (cfgs itself) when s is the zero Shard.
func (s Shard) Filter(cfgs []config.Config) []config.Config {
	if s.N == 0 {
		return cfgs
	}
	var out []config.Config
	for _, c := range cfgs {
		if ShardOf(c.Key(), s.N) == s.I {
			out = append(out, c)
		}
	}
	return out
}

// ShardDBPath names the database of shard s after base: runs.db becomes
// runs.shard-2-of-3.db (in base's folder). The zero Shard returns base.
func ShardDBPath(base string, s Shard) string {
	if s.N == 0 {
		return base
	}
	ext := filepath.Ext(base)
	if ext == "" {
		ext = ".db"
	}
	return fmt.Sprintf("%s.shard-%d-of-%d%s", strings.TrimSuffix(base, filepath.Ext(base)), s.I, s.N, ext)
}

// ShardOfPath reads the shard a database path names (as ShardDBPath writes
// it); ok is false when the name says none.
func ShardOfPath(path string) (s Shard, ok bool) {
	name := filepath.Base(path)
	at := strings.LastIndex(name, ".shard-")
	if at < 0 {
		return Shard{}, false
	}
	rest := strings.TrimSuffix(name[at+len(".shard-"):], filepath.Ext(name))
	is, ns, found := strings.Cut(rest, "-of-")
	if !found {
		return Shard{}, false
	}
	p, err := ParseShard(is + "/" + ns)
	if err != nil {
		return Shard{}, false
	}
	return p, true
}
