package grid

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cliplab/internal/config"
)

// TestKeysPinned checks that every configuration of the fixtures in
// testdata/keys and of ../../experiments keeps the key (and, for the
// fixtures, the canonical JSON) recorded in testdata/keys.golden before the
// configuration moved out of this package (issue 10). The golden file has no
// -update: a run key never changes for an existing configuration (DESIGN.md,
// "Identity of a run"), so a failure here is a bug in the change, not in the
// file.
func TestKeysPinned(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "keys.golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type pinned struct {
		path, gridHash string
		count          int
		keys, json     []string
	}
	var files []*pinned
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "== "):
			fs := strings.Fields(line)
			n, err := strconv.Atoi(fs[2])
			if err != nil || len(fs) != 4 {
				t.Fatalf("bad header %q", line)
			}
			files = append(files, &pinned{path: fs[1], count: n, gridHash: fs[3]})
		default:
			p := files[len(files)-1]
			key, js, _ := strings.Cut(line, " ")
			p.keys = append(p.keys, key)
			p.json = append(p.json, js)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("keys.golden pins %d files, want at least 8", len(files))
	}
	for _, p := range files {
		t.Run(filepath.Base(p.path), func(t *testing.T) {
			if len(p.keys) != p.count {
				t.Fatalf("golden lists %d keys, header says %d", len(p.keys), p.count)
			}
			_, cfgs, err := Load(filepath.Join("..", "..", filepath.FromSlash(p.path)))
			if err != nil {
				t.Fatal(err)
			}
			if len(cfgs) != p.count {
				t.Fatalf("%d configurations, pinned %d", len(cfgs), p.count)
			}
			for i, c := range cfgs {
				if k := c.Key(); k != p.keys[i] {
					t.Errorf("configuration %d (%s): key %s, pinned %s\n got %s\nwant %s",
						i+1, c.Label(), k, p.keys[i], c.Canonical(), p.json[i])
					continue
				}
				if p.json[i] != "" && string(c.Canonical()) != p.json[i] {
					t.Errorf("configuration %d: canonical JSON\n got %s\nwant %s", i+1, c.Canonical(), p.json[i])
				}
			}
			if h := config.GridHash(cfgs); h != p.gridHash {
				t.Errorf("grid hash %s, pinned %s", h, p.gridHash)
			}
		})
	}
}
