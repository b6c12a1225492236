package config

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// allowedImports is the import graph of ../../shared/DESIGN.md ("Packages"):
// for each cliplab package, the cliplab packages it may import. Domain types
// at the bottom (tensor, record, config), adapters above, wiring in cmd/.
// No package imports one above it (issue 10).
var allowedImports = map[string][]string{
	"internal/tensor":   {},
	"internal/record":   {},
	"internal/compress": {},
	"internal/nn":       {"internal/tensor"},
	"internal/clipalgo": {"internal/tensor"},
	"internal/data":     {},
	"internal/privacy":  {},
	"internal/cmdflag":  {},
	"internal/config":   {"internal/nn", "internal/clipalgo", "internal/data", "internal/tensor", "internal/privacy", "internal/compress"},
	"internal/grid":     {"internal/config", "internal/nn", "internal/clipalgo", "internal/data", "internal/compress"},
	"internal/train":    {"internal/config", "internal/nn", "internal/clipalgo", "internal/data", "internal/privacy", "internal/record", "internal/tensor", "internal/compress"},
	"internal/db":       {"internal/config", "internal/clipalgo", "internal/record"},
	"internal/worker":   {"internal/train", "internal/db", "internal/config", "internal/data", "internal/record", "internal/nn"},
	"internal/report":   {"internal/db", "internal/config", "internal/clipalgo", "internal/record"},
	// reporttest writes the report's test databases (tests and benchmarks only).
	"internal/report/reporttest": {"internal/db", "internal/config", "internal/clipalgo", "internal/record", "internal/nn"},
	"cmd/runner":                 nil, // anything
	"cmd/report":                 nil,
}

// TestImportLayers parses every non-test Go file of the module and checks
// its cliplab imports against allowedImports. A new package must be added
// to the table, with its place in the layers.
func TestImportLayers(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "data" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		seen[pkg] = true
		allowed, known := allowedImports[pkg]
		if !known {
			t.Errorf("%s: package %s is not in the layer table (layers_test.go)", path, pkg)
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			dep, ok := strings.CutPrefix(p, "cliplab/")
			if !ok || allowed == nil {
				continue
			}
			if !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s: %s may import only %v", path, p, pkg, allowed)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 8 {
		t.Fatalf("found only %d packages under %s", len(seen), root)
	}
}
