package pianoroll

import (
	"bytes"
	"image/png"
	"math/rand/v2"
	"reflect"
	"testing"
)

func at(img []float32, width, c, p, t int) float32 { return img[(c*Pitches+p)*width+t] }

func TestImageCells(t *testing.T) {
	const w = 16
	img := Image([]Note{{2, 3, 60, 127}, {-0, 1, 0, 1}, {14, 8, 127, 64}}, 0, w)
	if len(img) != 3*128*w {
		t.Fatalf("len %d", len(img))
	}
	for tt := 0; tt < w; tt++ {
		sounding := tt >= 2 && tt < 5
		wantS, wantO, wantV := float32(-1), float32(-1), float32(-1)
		if sounding {
			wantS, wantV = 1, 1
		}
		if tt == 2 {
			wantO = 1
		}
		if at(img, w, ChanSustain, 60, tt) != wantS || at(img, w, ChanOnset, 60, tt) != wantO || at(img, w, ChanVel, 60, tt) != wantV {
			t.Fatalf("pitch 60 step %d: onset %v sustain %v vel %v", tt, at(img, w, 0, 60, tt), at(img, w, 1, 60, tt), at(img, w, 2, 60, tt))
		}
	}
	// pitch row 0 is MIDI pitch 0; velocity 1 maps to 1/127*2-1
	if at(img, w, ChanOnset, 0, 0) != 1 || at(img, w, ChanVel, 0, 0) != float32(1)/127*2-1 {
		t.Fatal("pitch 0 note not at row 0")
	}
	// a note running past the window is cut at its edge
	if at(img, w, ChanSustain, 127, 15) != 1 || at(img, w, ChanVel, 127, 14) != float32(64)/127*2-1 {
		t.Fatal("note at the right edge missing")
	}
	if at(img, w, ChanSustain, 61, 3) != -1 {
		t.Fatal("empty cell not -1")
	}
}

func TestImageWindowOffset(t *testing.T) {
	// a note that began before the window sounds in it without an onset
	img := Image([]Note{{10, 10, 40, 100}}, 16, 8)
	if at(img, 8, ChanOnset, 40, 0) != -1 || at(img, 8, ChanSustain, 40, 0) != 1 || at(img, 8, ChanSustain, 40, 4) != -1 {
		t.Fatal("carried note drawn wrong")
	}
	notes, err := FromImage(img, 8, 16)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Note{{16, 4, 40, 100}}; !reflect.DeepEqual(notes, want) {
		t.Fatalf("got %v, want %v", notes, want)
	}
}

func TestImageRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10; i++ {
		var notes []Note
		for k := 0; k < 200; k++ {
			notes = append(notes, Note{Start: rng.IntN(500), Dur: 1 + rng.IntN(12), Pitch: uint8(rng.IntN(128)), Vel: uint8(1 + rng.IntN(127))})
		}
		notes = Normalize(notes)
		// keep the notes that fit the window whole
		var in []Note
		for _, n := range notes {
			if n.End() <= 512 {
				in = append(in, n)
			}
		}
		got, err := FromImage(Image(in, 0, 512), 512, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in) {
			t.Fatalf("round trip %d: %d notes back from %d", i, len(got), len(in))
		}
	}
}

func TestFromImageModelOutput(t *testing.T) {
	const w = 10
	img := make([]float32, 3*128*w)
	for i := range img {
		img[i] = -1
	}
	set := func(c, p, t int, v float32) { img[(c*Pitches+p)*w+t] = v }
	// sustain after silence, no onset: a note starts anyway; an onset inside a held run
	// splits it; velocity is the mean over the note's cells
	for tt := 1; tt < 7; tt++ {
		set(ChanSustain, 50, tt, 0.7)
	}
	set(ChanOnset, 50, 4, 0.9)
	set(ChanVel, 50, 1, 0)
	set(ChanVel, 50, 2, 0.5)
	set(ChanVel, 50, 3, 1)
	// an onset alone (the model forgot the sustain) is a one-step note
	set(ChanOnset, 70, 9, 0.2)
	notes, err := FromImage(img, w, 100)
	if err != nil {
		t.Fatal(err)
	}
	// cells 1..3 velocities 0, 0.5, 1 -> mean 0.5 -> (1.5/2)*127 = 95.25 -> 95;
	// cells 4..6 are -1 -> velocity 0 -> clamped to 1
	want := []Note{{101, 3, 50, 95}, {104, 3, 50, 1}, {109, 1, 70, 1}}
	if !reflect.DeepEqual(notes, want) {
		t.Fatalf("got %v, want %v", notes, want)
	}
	if _, err := FromImage(img[:10], w, 0); err == nil {
		t.Fatal("a short image was accepted")
	}
}

func TestWritePNG(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePNG(&buf, []Note{{1, 2, 127, 127}, {0, 1, 0, 64}}, 0, 4, 2); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 8 || b.Dy() != 256 {
		t.Fatalf("size %v", b)
	}
	rgb := func(x, y int) [3]uint32 {
		r, g, b, _ := img.At(x, y).RGBA()
		return [3]uint32{r >> 8, g >> 8, b >> 8}
	}
	// pitch 127 is the top row: onset at step 1 red, step 2 green (2×127), step 0 black
	if got := rgb(2, 0); got != [3]uint32{254, 0, 0} {
		t.Fatalf("onset cell %v", got)
	}
	if got := rgb(5, 1); got != [3]uint32{0, 254, 0} {
		t.Fatalf("sustain cell %v", got)
	}
	if got := rgb(0, 0); got != [3]uint32{0, 0, 0} {
		t.Fatalf("empty cell %v", got)
	}
	// pitch 0 is the bottom row: a one-step note of velocity 64 is a single red 128 cell
	if got := rgb(0, 255); got != [3]uint32{128, 0, 0} {
		t.Fatalf("bottom cell %v", got)
	}
}

func TestWritePNGMasked(t *testing.T) {
	mask := make([]bool, Pitches*4)
	mask[0*4+3] = true   // pitch 0, step 3: empty and masked
	mask[127*4+1] = true // under a note: the note shows
	var buf bytes.Buffer
	if err := WritePNGMasked(&buf, []Note{{1, 2, 127, 127}}, 0, 4, 1, mask); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := img.At(3, 127).RGBA(); r != 0 || g != 0 || b>>8 != 72 {
		t.Fatalf("masked cell %d %d %d", r>>8, g>>8, b>>8)
	}
	if r, _, b, _ := img.At(1, 0).RGBA(); r>>8 != 254 || b != 0 {
		t.Fatal("note under the mask hidden")
	}
	if err := WritePNGMasked(&buf, nil, 0, 4, 1, mask[:3]); err == nil {
		t.Fatal("short mask accepted")
	}
}
