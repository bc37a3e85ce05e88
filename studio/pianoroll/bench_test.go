package pianoroll

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func benchSong() (*Song, []byte) {
	song := randomSong(rand.New(rand.NewPCG(9, 9)), 4000)
	var buf bytes.Buffer
	if err := Write(&buf, song); err != nil {
		panic(err)
	}
	return song, buf.Bytes()
}

// BenchmarkParse reads a 4000-note file (canonical pass + gomidi + quantizing).
func BenchmarkParse(b *testing.B) {
	_, data := benchSong()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImage rasterizes a 32-bar window, the model's input.
func BenchmarkImage(b *testing.B) {
	song, _ := benchSong()
	for b.Loop() {
		Image(song.Notes, 0, 512)
	}
}

// BenchmarkFromImage reads notes back from a 32-bar window, the model's output.
func BenchmarkFromImage(b *testing.B) {
	song, _ := benchSong()
	img := Image(song.Notes, 0, 512)
	for b.Loop() {
		if _, err := FromImage(img, 512, 0); err != nil {
			b.Fatal(err)
		}
	}
}
