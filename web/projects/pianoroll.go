package projects

import (
	"bytes"
	"errors"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
)

// SongFile is a piano-roll project's payload: a Standard MIDI File.
const SongFile = "song.mid"

// emptySong is a valid SMF: format 1, one track, 480 ticks per quarter, 4/4 at 120 BPM,
// end of track. The piano-roll code fills it.
var emptySong = []byte{
	'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1, 0, 1, 0x01, 0xE0,
	'M', 'T', 'r', 'k', 0, 0, 0, 19,
	0x00, 0xFF, 0x58, 0x04, 0x04, 0x02, 0x18, 0x08, // time signature 4/4
	0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, // tempo 500000 µs per quarter
	0x00, 0xFF, 0x2F, 0x00, // end of track
}

// PianoRoll is the piano-roll project kind.
func PianoRoll() Kind {
	return Kind{
		Name:  "pianoroll",
		Label: "Piano roll",
		Main:  SongFile,
		Files: []string{SongFile},
		Types: map[string]string{SongFile: "audio/midi", ThumbFile: "image/png"},
		New: func() map[string][]byte {
			return map[string][]byte{SongFile: append([]byte(nil), emptySong...)}
		},
		Check:     checkSong,
		Thumbnail: songThumb,
	}
}

// checkSong accepts what the piano-roll reader reads (an empty song included).
func checkSong(file string, b []byte) error {
	if _, err := readSong(b); err != nil {
		return protocol.Errorf(protocol.BadInput, "%s: %v", file, err)
	}
	return nil
}

func readSong(b []byte) (*pianoroll.Song, error) {
	song, err := pianoroll.Parse(b)
	if errors.Is(err, pianoroll.ErrNoNotes) {
		return &pianoroll.Song{}, nil
	}
	return song, err
}

// Thumbnail steps: 16 bars at one pixel per step and pitch (256×128).
const thumbSteps = 256

// songThumb draws the start of a song as a piano-roll picture.
func songThumb(files map[string][]byte) ([]byte, error) {
	song, err := readSong(files[SongFile])
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := pianoroll.WritePNG(&buf, song.Notes, 0, thumbSteps, 1); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
