// Text beyond ASCII in the PDF figures: gonum's PDF backend encodes text
// in Windows-1252 and writes other characters (ρ, τ, λ, −, ×, even the em
// dash) as garbage, so outlinedText draws each of them as its glyph's
// outline, a filled path, from the same font; PNG and SVG draw them as
// text.

package main

import (
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
)

// outlinedText is a canvas whose FillString draws ASCII as text and every
// other character as a filled outline.
type outlinedText struct {
	vg.CanvasWriterTo
}

func (c outlinedText) FillString(fnt font.Face, pt vg.Point, str string) {
	start := 0
	flush := func(end int) {
		if end > start {
			c.CanvasWriterTo.FillString(fnt, pt, str[start:end])
			pt.X += fnt.Width(str[start:end])
		}
	}
	for i, r := range str {
		if r < 0x80 {
			continue
		}
		flush(i)
		start = i + len(string(r))
		if p, ok := glyphPath(fnt, pt, r); ok {
			c.Fill(p)
		}
		pt.X += fnt.Width(string(r))
	}
	flush(len(str))
}

// glyphPath is r's outline in fnt with its origin (baseline, left) at pt.
func glyphPath(fnt font.Face, pt vg.Point, r rune) (vg.Path, bool) {
	var buf sfnt.Buffer
	f := fnt.Face
	idx, err := f.GlyphIndex(&buf, r)
	if err != nil || idx == 0 {
		return nil, false
	}
	// At ppem = units per em (in 26.6), the segments come in font units.
	upem := f.UnitsPerEm()
	segs, err := f.LoadGlyph(&buf, idx, fixed.Int26_6(upem), nil)
	if err != nil {
		return nil, false
	}
	scale := fnt.Font.Size / vg.Length(upem)
	at := func(p fixed.Point26_6) vg.Point { // sfnt's y grows downwards
		return vg.Point{X: pt.X + vg.Length(p.X)*scale, Y: pt.Y - vg.Length(p.Y)*scale}
	}
	var path vg.Path
	open := false
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			if open {
				path.Close()
			}
			path.Move(at(s.Args[0]))
			open = true
		case sfnt.SegmentOpLineTo:
			path.Line(at(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			path.QuadTo(at(s.Args[0]), at(s.Args[1]))
		case sfnt.SegmentOpCubeTo:
			path.CubeTo(at(s.Args[0]), at(s.Args[1]), at(s.Args[2]))
		}
	}
	if open {
		path.Close()
	}
	return path, len(path) > 0
}
