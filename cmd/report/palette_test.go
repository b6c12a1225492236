package main

import (
	"fmt"
	"image/color"
	"reflect"
	"testing"

	"cliplab/internal/clipalgo"
)

// TestPaletteDistinct: every declared method, and every method up to rank
// 16 (AdaGC is the ninth; four DP-SGD methods follow), with up to four
// variants each, has its own colour–dash pair (lines) and its own
// colour–marker pair (the scatter figures draw markers only); and the
// colours, dashes and markers the indices pick are themselves distinct, so
// that distinct indices look distinct.
func TestPaletteDistinct(t *testing.T) {
	ranks := max(16, len(clipalgo.Methods())+1) // +1: an undeclared method
	type pair struct{ a, b int }
	lines := map[pair]string{}
	marks := map[pair]string{}
	for r := range ranks {
		for v := range 4 {
			name := fmt.Sprintf("rank %d variant %d", r, v)
			if r < len(clipalgo.Methods()) {
				name = fmt.Sprintf("%s variant %d", clipalgo.Methods()[r].Name, v)
			}
			c, d, g := styleIndex(r, v)
			if other, ok := lines[pair{c, d}]; ok {
				t.Errorf("%s and %s share colour %d and dash %d", name, other, c, d)
			}
			if other, ok := marks[pair{c, g}]; ok {
				t.Errorf("%s and %s share colour %d and marker %d", name, other, c, g)
			}
			lines[pair{c, d}], marks[pair{c, g}] = name, name
		}
	}
	for i := range palette8 {
		for j := range i {
			if palette8[i] == palette8[j] {
				t.Errorf("colours %d and %d are the same", i, j)
			}
			if reflect.DeepEqual(dashes8[i], dashes8[j]) {
				t.Errorf("dashes %d and %d are the same", i, j)
			}
			if reflect.TypeOf(glyphs8[i]) == reflect.TypeOf(glyphs8[j]) {
				t.Errorf("markers %d and %d are the same", i, j)
			}
		}
	}
	// The baseline none: black, solid, a filled circle.
	if s := styleFor(clipalgo.Rank("none"), 0); s.Color != (color.RGBA{0, 0, 0, 0xff}) || s.Dashes != nil {
		t.Errorf("none is drawn %+v, want black and solid", s)
	}
}
