package poster

import (
	"bytes"
	"embed"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"slices"
	"sync"
	"unicode"

	"github.com/go-text/typesetting/di"
	"github.com/go-text/typesetting/font"
	ot "github.com/go-text/typesetting/font/opentype"
	"github.com/go-text/typesetting/shaping"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

//go:embed fonts/*.ttf
var fontFiles embed.FS

// fonts are the parsed fonts, read-only and shared; each drawing makes
// its own faces of them, since a font.Face caches and is not safe for
// concurrent use.
var fonts = sync.OnceValues(func() (map[string]*font.Font, error) {
	out := map[string]*font.Font{}
	for _, name := range []string{"NotoSans-Regular", "NotoSans-Bold", "NotoSansArabic-Regular", "NotoSansArabic-Bold"} {
		b, err := fontFiles.ReadFile("fonts/" + name + ".ttf")
		if err != nil {
			return nil, err
		}
		f, err := font.ParseTTF(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("poster: font %s: %w", name, err)
		}
		out[name] = f.Font
	}
	return out, nil
})

// faces are a weight's faces: Latin, and Arabic for the Arabic script.
type faces struct{ latin, arabic *font.Face }

// ResolveFace picks the face for r (shaping.Fontmap): the Arabic one for
// the Arabic script and for what the Latin one lacks (the Arabic comma,
// of the common script, is one).
func (f faces) ResolveFace(r rune) *font.Face {
	if _, ok := f.latin.NominalGlyph(r); unicode.Is(unicode.Arabic, r) || !ok {
		return f.arabic
	}
	return f.latin
}

// typesetter shapes text and draws it. It is used by one drawing at a time.
type typesetter struct {
	regular, bold faces
	shaper        shaping.HarfbuzzShaper
	seg           shaping.Segmenter
	wrap          shaping.LineWrapper
}

func newTypesetter() (*typesetter, error) {
	f, err := fonts()
	if err != nil {
		return nil, err
	}
	return &typesetter{
		regular: faces{font.NewFace(f["NotoSans-Regular"]), font.NewFace(f["NotoSansArabic-Regular"])},
		bold:    faces{font.NewFace(f["NotoSans-Bold"]), font.NewFace(f["NotoSansArabic-Bold"])},
	}, nil
}

// A line's height above and below its baseline, in ems.
const lineAscent, lineDescent = 1.0, 0.45

// paragraph is a text shaped and broken into lines that fit a width.
type paragraph struct {
	lines []shaping.Line
	// ascent and descent bound every line, in pixels from the baseline.
	ascent, descent int
	// right aligns the lines to the right; it is set for right-to-left text.
	right bool
}

// height is the paragraph's height in pixels.
func (p paragraph) height() int { return len(p.lines) * (p.ascent + p.descent) }

// set shapes text at size points, in bold or not, and breaks it into lines
// of at most width pixels. rtl sets the paragraph's direction: runs of
// the other direction inside it (a number, a word in Latin letters in
// Arabic) are ordered by the Unicode bidirectional algorithm.
func (t *typesetter) set(text string, bold bool, size float64, rtl bool, width int) paragraph {
	fm := t.regular
	if bold {
		fm = t.bold
	}
	dir := di.DirectionLTR
	if rtl {
		dir = di.DirectionRTL
	}
	runes := []rune(text)
	in := shaping.Input{Text: runes, RunEnd: len(runes), Direction: dir, Face: fm.latin, Size: fixed.Int26_6(size * Resolution / 72 * 64)}
	var runs []shaping.Output
	for _, r := range t.seg.Split(in, fm) {
		runs = append(runs, t.shaper.Shape(r))
	}
	p := paragraph{right: rtl}
	if len(runs) == 0 {
		return p
	}
	lines, _ := t.wrap.WrapParagraph(shaping.WrapConfig{Direction: dir}, width, runes, shaping.NewSliceIterator(runs))
	for _, l := range lines {
		p.lines = append(p.lines, slices.Clone(l)) // the wrapper reuses its lines
	}
	// One line height for both scripts, roomy enough for Arabic, whose
	// font's own metrics would space its lines twice as far as Latin ones.
	sizePx := size * Resolution / 72
	p.ascent, p.descent = int(math.Ceil(sizePx*lineAscent)), int(math.Ceil(sizePx*lineDescent))
	return p
}

// lineWidth is a line's advance in pixels.
func lineWidth(l shaping.Line) fixed.Int26_6 {
	var w fixed.Int26_6
	for _, r := range l {
		w += r.Advance
	}
	return w
}

// draw draws p in c, its lines starting at the left of the box from x to
// x+width (right to left: ending at its right), the first line's top at y.
// It returns the height drawn.
func (t *typesetter) draw(img *image.RGBA, p paragraph, x, y, width int, c color.Color) int {
	lh := p.ascent + p.descent
	src := image.NewUniform(c)
	for i, l := range p.lines {
		w := lineWidth(l).Ceil()
		left := x
		if p.right {
			left = x + width - w
		}
		baseline := y + i*lh + p.ascent
		// The glyphs' ink may stand a little outside the line's box.
		pad := lh / 2
		box := image.Rect(left-pad, y+i*lh-pad, left+w+pad, y+(i+1)*lh+pad).Intersect(img.Bounds())
		if box.Empty() {
			continue
		}
		ras := vector.NewRasterizer(box.Dx(), box.Dy())
		pen := float32(left - box.Min.X)
		for _, run := range visualOrder(l) {
			scale := float32(run.Size) / 64 / float32(run.Face.Upem())
			for _, g := range run.Glyphs {
				gx := pen + float32(g.XOffset)/64
				gy := float32(baseline-box.Min.Y) - float32(g.YOffset)/64
				if outline, ok := run.Face.GlyphData(g.GlyphID).(font.GlyphOutline); ok {
					addOutline(ras, outline, scale, gx, gy)
				}
				pen += float32(g.Advance) / 64
			}
		}
		ras.Draw(img, box, src, image.Point{})
	}
	return len(p.lines) * lh
}

// visualOrder returns a line's runs from left to right.
func visualOrder(l shaping.Line) shaping.Line {
	out := slices.Clone(l)
	slices.SortFunc(out, func(a, b shaping.Output) int { return int(a.VisualIndex - b.VisualIndex) })
	return out
}

// addOutline adds a glyph's contours, in font units with y up, to ras at
// (x, y), y down.
func addOutline(ras *vector.Rasterizer, o font.GlyphOutline, scale, x, y float32) {
	open := false
	for _, s := range o.Segments {
		a := s.Args
		switch s.Op {
		case ot.SegmentOpMoveTo:
			if open {
				ras.ClosePath()
			}
			ras.MoveTo(x+a[0].X*scale, y-a[0].Y*scale)
			open = true
		case ot.SegmentOpLineTo:
			ras.LineTo(x+a[0].X*scale, y-a[0].Y*scale)
		case ot.SegmentOpQuadTo:
			ras.QuadTo(x+a[0].X*scale, y-a[0].Y*scale, x+a[1].X*scale, y-a[1].Y*scale)
		case ot.SegmentOpCubeTo:
			ras.CubeTo(x+a[0].X*scale, y-a[0].Y*scale, x+a[1].X*scale, y-a[1].Y*scale, x+a[2].X*scale, y-a[2].Y*scale)
		}
	}
	if open {
		ras.ClosePath()
	}
}

// fill paints r in c.
func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}
