package projects

import (
	"encoding/binary"

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
		Check: checkSMF,
	}
}

// checkSMF checks a MIDI file's chunk structure (header, then whole chunks): enough to refuse
// what is not MIDI without parsing events, which the piano-roll package owns.
func checkSMF(file string, b []byte) error {
	bad := func(why string) error {
		return protocol.Errorf(protocol.BadInput, "%s is not a Standard MIDI File: %s", file, why)
	}
	if len(b) < 14 || string(b[:4]) != "MThd" || binary.BigEndian.Uint32(b[4:8]) < 6 {
		return bad("no MThd header")
	}
	hl := 8 + int(binary.BigEndian.Uint32(b[4:8]))
	if hl > len(b) {
		return bad("header runs past the end")
	}
	format, tracks := binary.BigEndian.Uint16(b[8:10]), int(binary.BigEndian.Uint16(b[10:12]))
	if format > 2 || tracks == 0 {
		return bad("format must be 0, 1 or 2 with at least one track")
	}
	found := 0
	for p := hl; p < len(b); {
		if p+8 > len(b) {
			return bad("truncated chunk header")
		}
		n := int(binary.BigEndian.Uint32(b[p+4 : p+8]))
		if n < 0 || n > len(b)-p-8 {
			return bad("chunk runs past the end")
		}
		if string(b[p:p+4]) == "MTrk" {
			found++
		}
		p += 8 + n
	}
	if found != tracks {
		return bad("header says a different number of tracks")
	}
	return nil
}
