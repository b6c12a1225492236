// The split of a grid into shards, one per Slurm array task (runner run
// -shard i/n), and the names of the shard databases.

package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"cliplab/internal/config"
)

// shardSpec is shard I of N, 0 ≤ I < N. The zero value (N == 0) is the
// whole grid. It is a flag.Value: -shard i/n.
type shardSpec struct{ I, N int }

// maxShards bounds N: Slurm's own MaxArraySize default is 1001, and a grid
// split finer than this is a mistake rather than a plan.
const maxShards = 100000

// parseShard reads "i/n": shard i of n, counting from 0 so that
// $SLURM_ARRAY_TASK_ID/n with --array=0-(n-1) names every shard once.
func parseShard(s string) (shardSpec, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return shardSpec{}, fmt.Errorf("shard %q: want i/n, e.g. 0/4 (shard i of n, 0 ≤ i < n)", s)
	}
	i, err := strconv.Atoi(strings.TrimSpace(is))
	if err != nil {
		return shardSpec{}, fmt.Errorf("shard %q: index %q is not a whole number", s, is)
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil {
		return shardSpec{}, fmt.Errorf("shard %q: count %q is not a whole number", s, ns)
	}
	if n < 1 || n > maxShards {
		return shardSpec{}, fmt.Errorf("shard %q: count must be 1 to %d, got %d", s, maxShards, n)
	}
	if i < 0 || i >= n {
		return shardSpec{}, fmt.Errorf("shard %q: index must be 0 to %d (shards count from 0, like $SLURM_ARRAY_TASK_ID), got %d", s, n-1, i)
	}
	return shardSpec{I: i, N: n}, nil
}

// String returns "i/n", or "" for the whole grid.
func (s shardSpec) String() string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}

// Set parses "i/n" (flag.Value).
func (s *shardSpec) Set(v string) error {
	p, err := parseShard(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// shardOf returns the shard, 0 ≤ s < n, of the configuration whose key is
// given: its first 16 hex digits (the first 8 bytes of the SHA-256) as an
// unsigned integer, mod n. The split depends on the key alone, never on the
// grid's order or size, so shards never overlap, their union is the grid,
// and a configuration stays in its shard when others are added or removed.
// shardOf panics if n < 1 or key does not start with 16 hex digits (keys
// come from config.Config.Key).
func shardOf(key string, n int) int {
	if n < 1 {
		panic(fmt.Sprintf("runner: shardOf with n = %d", n))
	}
	if len(key) < 16 {
		panic(fmt.Sprintf("runner: shardOf with key %q shorter than 16 hex digits", key))
	}
	x, err := strconv.ParseUint(key[:16], 16, 64)
	if err != nil {
		panic(fmt.Sprintf("runner: shardOf with key %q: %v", key, err))
	}
	return int(x % uint64(n))
}

// filter returns the configurations of cfgs in shard s, in their order; the
// whole grid (cfgs itself) when s is the zero shardSpec.
func (s shardSpec) filter(cfgs []config.Config) []config.Config {
	if s.N == 0 {
		return cfgs
	}
	var out []config.Config
	for _, c := range cfgs {
		if shardOf(c.Key(), s.N) == s.I {
			out = append(out, c)
		}
	}
	return out
}

// shardDBPath names the database of shard s after base: runs.db becomes
// runs.shard-2-of-3.db (in base's folder). The zero shardSpec returns base.
func shardDBPath(base string, s shardSpec) string {
	if s.N == 0 {
		return base
	}
	ext := filepath.Ext(base)
	if ext == "" {
		ext = ".db"
	}
	return fmt.Sprintf("%s.shard-%d-of-%d%s", strings.TrimSuffix(base, filepath.Ext(base)), s.I, s.N, ext)
}

// shardOfPath reads the shard a database path names (as shardDBPath writes
// it); ok is false when the name says none.
func shardOfPath(path string) (s shardSpec, ok bool) {
	name := filepath.Base(path)
	at := strings.LastIndex(name, ".shard-")
	if at < 0 {
		return shardSpec{}, false
	}
	rest := strings.TrimSuffix(name[at+len(".shard-"):], filepath.Ext(name))
	is, ns, found := strings.Cut(rest, "-of-")
	if !found {
		return shardSpec{}, false
	}
	p, err := parseShard(is + "/" + ns)
	if err != nil {
		return shardSpec{}, false
	}
	return p, true
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
