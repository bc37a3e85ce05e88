package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	roll "latentstudio/gpu/models/pianoroll"
	"latentstudio/studio/pianoroll"
)

func writeSong(t *testing.T, dir string, notes []pianoroll.Note) string {
	t.Helper()
	var b bytes.Buffer
	song := &pianoroll.Song{Notes: notes, Steps: pianoroll.NotesEnd(notes)}
	if err := pianoroll.Write(&b, song); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "song.mid")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func arpeggio(steps int) []pianoroll.Note {
	var ns []pianoroll.Note
	for s := 0; s < steps; s += 4 {
		ns = append(ns, pianoroll.Note{Start: s, Dur: 4, Pitch: uint8([]int{60, 64, 67, 72}[(s/4)%4]), Vel: 80})
	}
	return ns
}

// A short real run on the CPU: the notes outside bars 2-3 of the 64-step window come back
// unchanged in the written MIDI file.
func TestInpaintCommandKeepsUnmaskedNotes(t *testing.T) {
	dir := t.TempDir()
	in := writeSong(t, dir, arpeggio(64))
	out := filepath.Join(dir, "out.mid")
	var stdout bytes.Buffer
	err := inpaintTo(context.Background(), []string{"--in", in, "--out", out, "--bars", "2-3", "--width", "64",
		"--steps", "3", "--repaint", "1", "--candidates", "2", "--engine", "cpu", "--png", filepath.Join(dir, "out.png")}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	song, err := pianoroll.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	keep := func(n pianoroll.Note) bool { return n.End() <= 16 || n.Start >= 48 }
	var got, want []pianoroll.Note
	for _, n := range song.Notes {
		if keep(n) {
			got = append(got, n)
		}
	}
	for _, n := range arpeggio(64) {
		if keep(n) {
			want = append(want, n)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d notes outside the mask, want %d: %v", len(got), len(want), got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("note %d outside the mask changed: %+v, want %+v", i, got[i], want[i])
		}
	}
	if !strings.Contains(stdout.String(), "inpainted 4096 cells") {
		t.Errorf("report: %q", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "out.png")); err != nil {
		t.Errorf("png: %v", err)
	}
}

func TestInpaintCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	song := writeSong(t, dir, arpeggio(64))
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not midi"), 0o644)
	small := filepath.Join(dir, "mask.png")
	img := image.NewGray(image.Rect(0, 0, 100, 50))
	img.Set(1, 1, color.White)
	var pb bytes.Buffer
	png.Encode(&pb, img)
	os.WriteFile(small, pb.Bytes(), 0o644)
	out := filepath.Join(dir, "out.mid")
	for name, tc := range map[string]struct {
		args []string
		want error
		msg  string
	}{
		"not MIDI":        {[]string{"--in", text, "--out", out, "--bars", "1-2"}, pianoroll.ErrNotMIDI, ""},
		"mask size":       {[]string{"--in", song, "--out", out, "--mask", small, "--engine", "cpu"}, roll.ErrBadTask, ""},
		"bars past end":   {[]string{"--in", song, "--out", out, "--bars", "30-40", "--width", "64"}, roll.ErrBadTask, ""},
		"two masks":       {[]string{"--in", song, "--out", out, "--bars", "1-2", "--task", "continue"}, nil, "exactly one"},
		"no output":       {[]string{"--in", song, "--bars", "1-2"}, nil, "required"},
		"unknown task":    {[]string{"--in", song, "--out", out, "--task", "solo"}, nil, "unknown --task"},
		"repaint 11":      {[]string{"--in", song, "--out", out, "--bars", "1-2", "--width", "64", "--repaint", "11", "--engine", "cpu"}, nil, "repaint"},
		"width 100 steps": {[]string{"--in", song, "--out", out, "--bars", "1-2", "--width", "100", "--engine", "cpu"}, roll.ErrBadTask, ""},
	} {
		err := inpaintTo(context.Background(), tc.args, &bytes.Buffer{})
		switch {
		case err == nil:
			t.Errorf("%s: no error", name)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		case tc.msg != "" && !strings.Contains(err.Error(), tc.msg):
			t.Errorf("%s: got %v, want it to mention %q", name, err, tc.msg)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Fatalf("%s: wrote %s despite the error", name, out)
		}
	}
}

// A drawn mask: white pixels are generated cells and the image's top row is pitch 127.
func TestReadMaskPNG(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 64, 128))
	for x := 10; x < 20; x++ {
		img.Set(x, 0, color.White)   // pitch 127
		img.Set(x, 127, color.White) // pitch 0
	}
	img.Set(30, 60, color.Gray{Y: 100}) // dark grey stays unmasked
	var b bytes.Buffer
	png.Encode(&b, img)
	p := filepath.Join(t.TempDir(), "m.png")
	os.WriteFile(p, b.Bytes(), 0o644)
	m, err := readMaskPNG(p, 64)
	if err != nil {
		t.Fatal(err)
	}
	if m.Count() != 20 || m.Cells[127*64+10] != 1 || m.Cells[0*64+19] != 1 || m.Cells[67*64+30] != 0 {
		t.Fatalf("mask has %d cells; pitch 127 step 10 = %v, pitch 0 step 19 = %v", m.Count(), m.Cells[127*64+10], m.Cells[19])
	}
}
