package pianoroll

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
)

// Channels of the roll image, in order.
const (
	ChanOnset   = 0 // 1 at a note's first step
	ChanSustain = 1 // 1 on every step a note sounds, onset included
	ChanVel     = 2 // vel/127 on sounding steps
	Channels    = 3
)

// Image rasterizes the steps [from, from+width) of notes into the model's roll image:
// float32 [3][128][width], channel-major, every value mapped from [0,1] to [-1,1] by x*2-1.
// A note that began before from sounds in the window without an onset.
func Image(notes []Note, from, width int) []float32 {
	img := make([]float32, Channels*Pitches*width)
	for i := range img {
		img[i] = -1
	}
	plane := Pitches * width
	for _, n := range Normalize(notes) {
		s, e := max(n.Start, from), min(n.End(), from+width)
		if s >= e {
			continue
		}
		row := int(n.Pitch) * width
		v := float32(n.Vel)/127*2 - 1
		for t := s; t < e; t++ {
			img[ChanSustain*plane+row+t-from] = 1
			img[ChanVel*plane+row+t-from] = v
		}
		if n.Start >= from {
			img[ChanOnset*plane+row+n.Start-from] = 1
		}
	}
	return img
}

// FromImage reads notes back from a roll image of the given width (as Image makes, or as a
// model draws it). A cell sounds where its sustain or onset is above 0 (the midpoint of
// [-1,1]); a note starts at a sounding cell with an onset or at one after silence, and ends
// where sounding stops or the next onset begins. Its velocity is the mean of its velocity cells.
// from offsets the steps of the notes returned.
func FromImage(img []float32, width, from int) ([]Note, error) {
	if width <= 0 || len(img) != Channels*Pitches*width {
		return nil, fmt.Errorf("roll image: %d values, want 3×128×%d = %d", len(img), width, Channels*Pitches*width)
	}
	plane := Pitches * width
	var notes []Note
	for p := 0; p < Pitches; p++ {
		row := p * width
		start, sum := -1, 0.0
		flush := func(t int) {
			if start < 0 {
				return
			}
			mean := sum / float64(t-start)
			v := math.Round((mean + 1) / 2 * 127)
			notes = append(notes, Note{Start: from + start, Dur: t - start, Pitch: uint8(p), Vel: uint8(min(max(v, 1), 127))})
			start, sum = -1, 0
		}
		for t := 0; t < width; t++ {
			on := img[ChanOnset*plane+row+t] > 0
			sounding := on || img[ChanSustain*plane+row+t] > 0
			if !sounding || on {
				flush(t)
			}
			if sounding {
				if start < 0 {
					start = t
				}
				sum += float64(img[ChanVel*plane+row+t])
			}
		}
		flush(width)
	}
	return Normalize(notes), nil
}

// WritePNG draws steps [from, from+width) of notes as Pictures of MIDI draws its rolls: black
// background, a note's first cell red and the rest green, both at brightness 2×velocity, high
// pitches at the top, each cell scale×scale pixels.
func WritePNG(w io.Writer, notes []Note, from, width, scale int) error {
	return WritePNGMasked(w, notes, from, width, scale, nil)
}

// WritePNGMasked is WritePNG with the empty cells of a mask ([128][width], true = masked)
// tinted dark blue, to see what an inpainter was asked to fill.
func WritePNGMasked(w io.Writer, notes []Note, from, width, scale int, mask []bool) error {
	if width <= 0 || scale <= 0 || width*scale > 1<<16 {
		return fmt.Errorf("piano-roll PNG: bad size %d steps × %d px", width, scale)
	}
	if mask != nil && len(mask) != Pitches*width {
		return fmt.Errorf("piano-roll PNG: mask of %d cells, want 128×%d", len(mask), width)
	}
	img := Image(notes, from, width)
	plane := Pitches * width
	pic := image.NewRGBA(image.Rect(0, 0, width*scale, Pitches*scale))
	for i := range pic.Pix {
		if i%4 == 3 {
			pic.Pix[i] = 255
		}
	}
	for p := 0; p < Pitches; p++ {
		for t := 0; t < width; t++ {
			i := p*width + t
			var c color.RGBA
			switch {
			case img[ChanSustain*plane+i] > 0:
				v := uint8(min(math.Round(float64(img[ChanVel*plane+i]+1)/2*127)*2, 255))
				c = color.RGBA{0, v, 0, 255}
				if img[ChanOnset*plane+i] > 0 {
					c = color.RGBA{v, 0, 0, 255}
				}
			case mask != nil && mask[i]:
				c = color.RGBA{0, 0, 72, 255}
			default:
				continue
			}
			y0 := (Pitches - 1 - p) * scale
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					pic.SetRGBA(t*scale+dx, y0+dy, c)
				}
			}
		}
	}
	return png.Encode(w, pic)
}
