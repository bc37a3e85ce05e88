package screen

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/text/v2"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/gofont/goregular"
	"latentstudio/studio/ui"
)

// Fonts holds the UI's typefaces (the Go fonts, compiled in, so no file ships)
// and caches a face per pixel size.
type Fonts struct {
	regular, medium *text.GoTextFaceSource
	faces           map[faceKey]*text.GoTextFace
}

type faceKey struct {
	size   float64
	medium bool
}

// NewFonts parses the built-in typefaces.
func NewFonts() (*Fonts, error) {
	r, err := text.NewGoTextFaceSource(bytes.NewReader(goregular.TTF))
	if err != nil {
		return nil, fmt.Errorf("ui: built-in font: %w", err)
	}
	m, err := text.NewGoTextFaceSource(bytes.NewReader(gomedium.TTF))
	if err != nil {
		return nil, fmt.Errorf("ui: built-in font: %w", err)
	}
	return &Fonts{regular: r, medium: m, faces: map[faceKey]*text.GoTextFace{}}, nil
}

// Face returns the face for a device-pixel size; a negative size asks for the
// medium weight (headings, buttons).
func (f *Fonts) Face(size float64) *text.GoTextFace {
	k := faceKey{math.Round(math.Abs(size)*2) / 2, size < 0}
	if fc, ok := f.faces[k]; ok {
		return fc
	}
	src := f.regular
	if k.medium {
		src = f.medium
	}
	fc := &text.GoTextFace{Source: src, Size: k.size}
	f.faces[k] = fc
	return fc
}

// Width measures s at a logical size (negative: medium weight).
func (f *Fonts) Width(s string, size float64) float64 {
	return text.Advance(s, f.Face(size))
}

// Draw renders s at device-pixel coordinates.
func (f *Fonts) Draw(dst *ebiten.Image, s string, x, y, size float64, c color.RGBA, align ui.Align) {
	op := &text.DrawOptions{}
	op.GeoM.Translate(math.Round(x), math.Round(y))
	op.ColorScale.ScaleWithColor(c)
	switch align {
	case ui.AlignCenter:
		op.PrimaryAlign = text.AlignCenter
	case ui.AlignRight:
		op.PrimaryAlign = text.AlignEnd
	}
	text.Draw(dst, s, f.Face(size), op)
}
