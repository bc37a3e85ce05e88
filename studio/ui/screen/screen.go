// Package screen connects the ui package to Ebiten: it reads Ebiten's input
// into ui.Input and draws a ui.Painter's display list onto an Ebiten image.
// Everything above it (widgets, editors) is plain Go that tests run without a
// display; this package is the only part that needs one.
package screen

import (
	"image"
	"image/color"
	"unsafe"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"

	"latentstudio/studio/ui"
)

// ui.Vertex must have ebiten.Vertex's layout: both sizes must match.
var (
	_ [unsafe.Sizeof(ebiten.Vertex{}) - unsafe.Sizeof(ui.Vertex{})]byte
	_ [unsafe.Sizeof(ui.Vertex{}) - unsafe.Sizeof(ebiten.Vertex{})]byte
	_ [unsafe.Offsetof(ebiten.Vertex{}.ColorR) - unsafe.Offsetof(ui.Vertex{}.ColorR)]byte
	_ [unsafe.Offsetof(ui.Vertex{}.ColorR) - unsafe.Offsetof(ebiten.Vertex{}.ColorR)]byte
)

// Input samples Ebiten's input state for one tick. scale converts the game's
// device pixels to logical pixels. A first touch acts as the left button, so
// the canvas works on tablets too.
type Input struct {
	keys    []ebiten.Key
	touched bool
	tx, ty  int
}

// Read returns this tick's input.
func (r *Input) Read(scale float64) ui.Input {
	x, y := ebiten.CursorPosition()
	in := ui.Input{}
	in.Buttons[ui.MouseLeft] = ebiten.IsMouseButtonPressed(ebiten.MouseButtonLeft)
	in.Buttons[ui.MouseRight] = ebiten.IsMouseButtonPressed(ebiten.MouseButtonRight)
	in.Buttons[ui.MouseMiddle] = ebiten.IsMouseButtonPressed(ebiten.MouseButtonMiddle)
	if ids := ebiten.AppendTouchIDs(nil); len(ids) > 0 {
		r.tx, r.ty = ebiten.TouchPosition(ids[0])
		r.touched = true
		in.Buttons[ui.MouseLeft] = true
	}
	if r.touched {
		// Keep the last touch point after lift-off so that the release lands
		// where the finger was.
		x, y = r.tx, r.ty
		if !in.Buttons[ui.MouseLeft] {
			r.touched = false
		}
	}
	in.X, in.Y = float64(x)/scale, float64(y)/scale
	in.WheelX, in.WheelY = ebiten.Wheel()
	r.keys = inpututil.AppendPressedKeys(r.keys[:0])
	for _, k := range r.keys {
		in.Keys = append(in.Keys, ui.Key(k.String()))
	}
	in.Chars = ebiten.AppendInputChars(nil)
	return in
}

var whiteImage *ebiten.Image

func white() *ebiten.Image {
	if whiteImage == nil {
		img := ebiten.NewImage(3, 3)
		img.Fill(color.White)
		// The inner pixel, so that filtering never samples transparent edges.
		whiteImage = img.SubImage(image.Rect(1, 1, 2, 2)).(*ebiten.Image)
	}
	return whiteImage
}

// Draw submits p's display list to dst in order. p is left as it is: the
// shell resets it when it builds the next list (Ebiten may draw a frame
// twice between two updates).
func Draw(dst *ebiten.Image, p *ui.Painter, fonts *Fonts) {
	src := white()
	opt := &ebiten.DrawTrianglesOptions{}
	for op := range p.Ops {
		if op.Text != "" {
			if fonts != nil {
				fonts.Draw(dst, op.Text, op.X, op.Y, op.Size, op.Color, op.Align)
			}
			continue
		}
		vs := unsafe.Slice((*ebiten.Vertex)(unsafe.Pointer(unsafe.SliceData(op.Verts))), len(op.Verts))
		dst.DrawTriangles(vs, op.Indices, src, opt)
	}
}
