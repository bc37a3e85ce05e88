package pianoroll

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"gitlab.com/gomidi/midi/v2"
	"gitlab.com/gomidi/midi/v2/smf"
)

// ev is one timed message for building test files.
type ev struct {
	tick uint32
	msg  []byte
}

func track(evs ...ev) smf.Track {
	var tr smf.Track
	var at uint32
	for _, e := range evs {
		tr.Add(e.tick-at, e.msg)
		at = e.tick
	}
	tr.Close(0)
	return tr
}

func smfBytes(t *testing.T, format uint16, ppq uint16, tracks ...smf.Track) []byte {
	t.Helper()
	var f *smf.SMF
	if format == 0 {
		f = smf.New()
	} else {
		f = smf.NewSMF1()
	}
	f.TimeFormat = smf.MetricTicks(ppq)
	for _, tr := range tracks {
		if err := f.Add(tr); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func randomSong(rng *rand.Rand, n int) *Song {
	notes := make([]Note, n)
	for i := range notes {
		notes[i] = Note{Start: rng.IntN(400), Dur: 1 + rng.IntN(24), Pitch: uint8(rng.IntN(128)), Vel: uint8(1 + rng.IntN(127))}
	}
	notes = Normalize(notes)
	return &Song{Notes: notes, Tempos: []Tempo{{0, 100}, {64, 150}, {200, 75}}, Steps: NotesEnd(notes)}
}

func TestRoundTripQuantized(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		want := randomSong(rng, 1+rng.IntN(300))
		var buf bytes.Buffer
		if err := Write(&buf, want); err != nil {
			t.Fatal(err)
		}
		got, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Notes, want.Notes) {
			t.Fatalf("song %d: notes differ after a round trip:\n got %v\nwant %v", i, got.Notes[:min(8, len(got.Notes))], want.Notes[:min(8, len(want.Notes))])
		}
		if got.Steps != want.Steps {
			t.Fatalf("steps %d, want %d", got.Steps, want.Steps)
		}
		if len(got.Tempos) != len(want.Tempos) {
			t.Fatalf("tempos %v, want %v", got.Tempos, want.Tempos)
		}
		for k := range got.Tempos {
			if got.Tempos[k].Step != want.Tempos[k].Step || abs(got.Tempos[k].BPM-want.Tempos[k].BPM) > 1e-3 {
				t.Fatalf("tempos %v, want %v", got.Tempos, want.Tempos)
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// An SMF 1 file at 96 PPQ with a tempo map, two pitched tracks and a drum track.
func TestReadSMF1TempoMapDrumsMerge(t *testing.T) {
	const q = 96 // ticks per quarter, 24 per step
	conductor := track(
		ev{0, smf.MetaTempo(120)},
		ev{8 * q, smf.MetaTempo(60)}, // bar 3: half speed; the grid is musical, so no note moves
	)
	piano := track(
		ev{0, midi.NoteOn(0, 60, 100)},
		ev{q, midi.NoteOff(0, 60)},
		ev{8 * q, midi.NoteOn(0, 64, 80)},
		ev{8*q + q/2, midi.NoteOn(0, 64, 0)}, // note-on with velocity 0 ends a note
		ev{10 * q, midi.NoteOn(0, 67, 70)},   // never ended: ends with the track
		ev{12 * q, midi.ControlChange(0, 7, 100)},
	)
	strings := track(
		ev{q/2 + 5, midi.NoteOn(1, 72, 50)}, // 5 ticks late: rounds to step 2
		ev{2*q - 4, midi.NoteOff(1, 72)},    // rounds to step 8
		ev{4 * q, midi.NoteOn(1, 60, 90)},
		ev{5 * q, midi.NoteOff(1, 60)},
	)
	drums := track(ev{0, midi.NoteOn(9, 36, 127)}, ev{q, midi.NoteOff(9, 36)})
	song, err := Parse(smfBytes(t, 1, q, conductor, piano, strings, drums))
	if err != nil {
		t.Fatal(err)
	}
	want := []Note{
		{0, 4, 60, 100},
		{2, 6, 72, 50},
		{16, 4, 60, 90},
		{32, 2, 64, 80},
		{40, 8, 67, 70},
	}
	if !reflect.DeepEqual(song.Notes, want) {
		t.Fatalf("notes\n got %v\nwant %v", song.Notes, want)
	}
	if want := []Tempo{{0, 120}, {32, 60}}; !reflect.DeepEqual(song.Tempos, want) {
		t.Fatalf("tempos %v, want %v", song.Tempos, want)
	}
	if song.Steps != 48 {
		t.Fatalf("steps %d, want 48", song.Steps)
	}
	// 32 steps at 120 BPM (8 steps/s) + 16 at 60 BPM (4 steps/s)
	if s := song.Seconds(song.Steps); abs(s-8) > 1e-9 {
		t.Fatalf("seconds %v, want 8", s)
	}
}

func TestReadSMF0ChannelsAndOverlap(t *testing.T) {
	const q = 480
	tr := track(
		ev{0, midi.NoteOn(0, 60, 100)},
		ev{0, midi.NoteOn(3, 48, 60)},
		ev{q, midi.NoteOn(5, 60, 90)}, // same pitch on another channel while the first sounds
		ev{2 * q, midi.NoteOff(0, 60)},
		ev{3 * q, midi.NoteOff(5, 60)},
		ev{4 * q, midi.NoteOff(3, 48)},
	)
	song, err := Parse(smfBytes(t, 0, q, tr))
	if err != nil {
		t.Fatal(err)
	}
	// merged to one piano: the second C cuts the first one short
	want := []Note{{0, 16, 48, 60}, {0, 4, 60, 100}, {4, 8, 60, 90}}
	if !reflect.DeepEqual(song.Notes, want) {
		t.Fatalf("notes\n got %v\nwant %v", song.Notes, want)
	}
}

func TestReadErrors(t *testing.T) {
	const q = 480
	good := smfBytes(t, 0, q, track(ev{0, midi.NoteOn(0, 60, 100)}, ev{q, midi.NoteOff(0, 60)}))
	drumsOnly := smfBytes(t, 0, q, track(ev{0, midi.NoteOn(9, 36, 100)}, ev{q, midi.NoteOff(9, 36)}))
	tooManySteps := smfBytes(t, 0, q, track(ev{0, smf.MetaTempo(400)}, ev{0, midi.NoteOn(0, 60, 100)}, ev{uint32(MaxSteps+4) * q / 4, midi.NoteOff(0, 60)}))
	// 5000 steps at 20 BPM: 62.5 minutes, under MaxSteps but over an hour
	tooSlow := smfBytes(t, 0, q, track(ev{0, smf.MetaTempo(20)}, ev{0, midi.NoteOn(0, 60, 100)}, ev{5000 * q / 4, midi.NoteOff(0, 60)}))
	twoTracks := smfBytes(t, 1, q, track(ev{0, smf.MetaTempo(120)}), track(ev{0, midi.NoteOn(0, 60, 100)}, ev{q, midi.NoteOff(0, 60)}))
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotMIDI},
		{"text", []byte("This is not a MIDI file, just some text."), ErrNotMIDI},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ErrNotMIDI},
		{"header only", good[:10], ErrTruncated},
		{"cut in the track", good[:len(good)-6], ErrTruncated},
		{"second track missing", twoTracks[:len(twoTracks)-20], ErrTruncated},
		{"drums only", drumsOnly, ErrNoNotes},
		{"too many steps", tooManySteps, ErrTooLong},
		{"over an hour", tooSlow, ErrTooLong},
		{"too large", append(append([]byte{}, good...), make([]byte, MaxFileBytes)...), ErrTooLarge},
	}
	for _, c := range cases {
		_, err := Parse(c.data)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := Parse(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
	if _, err := Read(bytes.NewReader(tooSlow)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Read: %v", err)
	}
}

func TestWriteNoNotes(t *testing.T) {
	if err := Write(&bytes.Buffer{}, &Song{}); !errors.Is(err, ErrNoNotes) {
		t.Fatalf("error %v, want ErrNoNotes", err)
	}
}

func TestNormalize(t *testing.T) {
	in := []Note{
		{8, 4, 60, 0},   // velocity 0 becomes 1
		{0, 16, 60, 90}, // cut at 8 by the next C
		{0, 2, 60, 100}, // same start, shorter: dropped
		{4, 0, 62, 200}, // zero length becomes 1; velocity capped
		{-3, 2, 64, 50}, // before the start: dropped
		{2, 2, 130, 50}, // no such pitch: dropped
	}
	want := []Note{{0, 8, 60, 90}, {4, 1, 62, 127}, {8, 4, 60, 1}}
	if got := Normalize(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// SMPTE files count ticks in real time: read at 120 BPM, a second is 8 steps.
func TestReadSMPTE(t *testing.T) {
	data := smfBytes(t, 0, 96, track(ev{0, smf.MetaTempo(60)}, ev{500, midi.NoteOn(0, 60, 100)}, ev{1500, midi.NoteOff(0, 60)}))
	data[12], data[13] = 0xe7, 40 // -25 fps × 40 subframes = 1000 ticks a second
	song, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Note{{4, 8, 60, 100}}; !reflect.DeepEqual(song.Notes, want) {
		t.Fatalf("got %v, want %v", song.Notes, want)
	}
}
