package pianoroll

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"gitlab.com/gomidi/midi/v2"
	"gitlab.com/gomidi/midi/v2/smf"
)

// ErrCorrupt: a MIDI file whose chunks are whole but whose events do not parse.
var ErrCorrupt = errors.New("corrupt MIDI file")

// WritePPQ is the resolution of the files Write makes: 120 ticks per step.
const WritePPQ = 480

// Read reads a Standard MIDI File (format 0, 1 or 2) into a Song: every track merged, drum
// channel dropped, times quantized by musical position (ticks / PPQ, so tempo changes move no
// note), tempo changes kept on the step grid. Errors wrap ErrNotMIDI, ErrTruncated, ErrCorrupt,
// ErrNoNotes, ErrTooLong or ErrTooLarge.
func Read(r io.Reader) (*Song, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read MIDI: %w", err)
	}
	return Parse(data)
}

// header is what the MThd chunk says, checked against the chunks that follow.
type header struct {
	format, tracks int
	division       uint16
	end            int // byte after the last track chunk
}

// scan checks the chunk structure before the event parser sees it, so that a short file says
// "truncated" rather than some parser detail.
func scan(data []byte) (header, error) {
	var h header
	if len(data) > MaxFileBytes {
		return h, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxFileBytes)
	}
	if len(data) < 4 || string(data[:4]) != "MThd" {
		return h, fmt.Errorf("%w: no MThd header", ErrNotMIDI)
	}
	if len(data) < 14 {
		return h, fmt.Errorf("%w: header cut at %d bytes", ErrTruncated, len(data))
	}
	hlen := int(binary.BigEndian.Uint32(data[4:8]))
	if hlen < 6 || hlen > len(data)-8 {
		return h, fmt.Errorf("%w: header length %d", ErrNotMIDI, hlen)
	}
	h.format = int(binary.BigEndian.Uint16(data[8:10]))
	h.tracks = int(binary.BigEndian.Uint16(data[10:12]))
	h.division = binary.BigEndian.Uint16(data[12:14])
	if h.format > 2 {
		return h, fmt.Errorf("%w: unknown SMF format %d", ErrNotMIDI, h.format)
	}
	if h.tracks == 0 {
		return h, fmt.Errorf("%w: no tracks", ErrNoNotes)
	}
	if h.division == 0 {
		return h, fmt.Errorf("%w: zero ticks per quarter note", ErrNotMIDI)
	}
	if h.division&0x8000 != 0 {
		fps := -int(int8(h.division >> 8))
		if fps != 24 && fps != 25 && fps != 29 && fps != 30 || h.division&0xff == 0 {
			return h, fmt.Errorf("%w: bad SMPTE division %#04x", ErrNotMIDI, h.division)
		}
	}
	pos, found := 8+hlen, 0
	for found < h.tracks {
		if pos+8 > len(data) {
			return h, fmt.Errorf("%w: %d of %d tracks present", ErrTruncated, found, h.tracks)
		}
		n := int(binary.BigEndian.Uint32(data[pos+4 : pos+8]))
		if n > len(data)-pos-8 {
			return h, fmt.Errorf("%w: chunk %q at byte %d wants %d bytes, %d left", ErrTruncated, data[pos:pos+4], pos, n, len(data)-pos-8)
		}
		if string(data[pos:pos+4]) == "MTrk" {
			found++
		}
		pos += 8 + n
	}
	h.end = pos
	return h, nil
}

// stepper maps absolute ticks to steps.
type stepper struct {
	ppq    int64   // metric files
	perSec float64 // SMPTE files: ticks per second, read at DefaultBPM
}

func (s stepper) step(tick int64) int {
	if s.ppq > 0 {
		// round to the nearest 16th: tick*4/ppq
		return int((tick*StepsPerBeat*2 + s.ppq) / (2 * s.ppq))
	}
	return int(math.Round(float64(tick) / s.perSec * DefaultBPM / 60 * StepsPerBeat))
}

// Parse is Read on bytes in memory.
func Parse(data []byte) (*Song, error) {
	h, err := scan(data)
	if err != nil {
		return nil, err
	}
	st := stepper{}
	body, err := canonical(data, h)
	if err != nil {
		return nil, err
	}
	if h.division&0x8000 != 0 {
		st.perSec = float64(-int(int8(h.division>>8))) * float64(h.division&0xff)
		// gomidi panics on tempo events in SMPTE files; the ticks are read here from the
		// SMPTE division, so the parser is shown a metric one
		body[12], body[13] = 0, 96
	} else {
		st.ppq = int64(h.division)
	}
	f, err := readSMF(body)
	if err != nil {
		if errors.Is(err, smf.ErrMissing) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}

	type open struct {
		tick int64
		vel  uint8
	}
	var notes []Note
	var tempos []Tempo
	for _, tr := range f.Tracks {
		var tick int64
		pending := map[uint16][]open{} // channel<<7|key -> note-ons not yet ended, oldest first
		end := func(k uint16, at int64) {
			q := pending[k]
			if len(q) == 0 {
				return
			}
			o := q[0]
			pending[k] = q[1:]
			s := st.step(o.tick)
			d := st.step(at) - s
			notes = append(notes, Note{Start: s, Dur: max(d, 1), Pitch: uint8(k & 127), Vel: o.vel})
		}
		for _, ev := range tr {
			tick += int64(ev.Delta)
			m := ev.Message
			var ch, key, vel uint8
			var bpm float64
			switch {
			case m.GetNoteStart(&ch, &key, &vel):
				if ch == DrumChannel {
					continue
				}
				k := uint16(ch)<<7 | uint16(key)
				pending[k] = append(pending[k], open{tick, vel})
			case m.GetNoteEnd(&ch, &key):
				if ch == DrumChannel {
					continue
				}
				end(uint16(ch)<<7|uint16(key), tick)
			case m.GetMetaTempo(&bpm):
				if bpm >= 1 && bpm <= 1000 && !math.IsInf(bpm, 0) {
					tempos = append(tempos, Tempo{Step: st.step(tick), BPM: bpm})
				}
			}
		}
		// notes still held when the track ends stop there
		keys := make([]int, 0, len(pending))
		for k := range pending {
			keys = append(keys, int(k))
		}
		sort.Ints(keys)
		for _, k := range keys {
			for len(pending[uint16(k)]) > 0 {
				end(uint16(k), tick)
			}
		}
	}
	notes = Normalize(notes)
	if len(notes) == 0 {
		return nil, fmt.Errorf("%w (drums on channel 10 are dropped)", ErrNoNotes)
	}
	song := &Song{Notes: notes, Tempos: cleanTempos(tempos), Steps: NotesEnd(notes)}
	if song.Steps > MaxSteps {
		return nil, fmt.Errorf("%w: %d steps (%d bars), the limit is %d steps", ErrTooLong, song.Steps, song.Steps/StepsPerBar, MaxSteps)
	}
	if sec := song.Seconds(song.Steps); sec > MaxSeconds {
		return nil, fmt.Errorf("%w: %.0f minutes, the limit is %d", ErrTooLong, sec/60, MaxSeconds/60)
	}
	return song, nil
}

// readSMF runs the gomidi parser; a panic inside it on hostile bytes becomes an error so that
// one bad upload never takes the server down.
func readSMF(b []byte) (f *smf.SMF, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("parser: %v", r)
		}
	}()
	return smf.ReadFrom(bytes.NewReader(b))
}

// cleanTempos sorts tempo changes, keeps the last one at each step, and starts the map at step 0.
func cleanTempos(ts []Tempo) []Tempo {
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Step < ts[j].Step })
	out := []Tempo{{0, DefaultBPM}}
	for _, t := range ts {
		if last := &out[len(out)-1]; last.Step == t.Step {
			last.BPM = t.BPM
		} else {
			out = append(out, t)
		}
	}
	return out
}

// Write writes a song as a format-0 MIDI file at WritePPQ: 4/4, its tempo map (DefaultBPM when
// empty), acoustic grand piano on channel 1, every note with its velocity.
func Write(w io.Writer, song *Song) error {
	notes := Normalize(song.Notes)
	if len(notes) == 0 {
		return ErrNoNotes
	}
	const tps = WritePPQ / StepsPerBeat
	type ev struct {
		tick int64
		off  bool // note-offs sort before note-ons on the same tick
		msg  []byte
	}
	evs := make([]ev, 0, 2*len(notes)+len(song.Tempos)+3)
	evs = append(evs, ev{0, true, smf.MetaMeter(4, 4)}, ev{0, true, midi.ProgramChange(0, 0)})
	tempos := song.Tempos
	if len(tempos) == 0 {
		tempos = []Tempo{{0, DefaultBPM}}
	}
	for _, t := range tempos {
		evs = append(evs, ev{int64(t.Step) * tps, true, smf.MetaTempo(t.BPM)})
	}
	for _, n := range notes {
		evs = append(evs,
			ev{int64(n.Start) * tps, false, midi.NoteOn(0, n.Pitch, n.Vel)},
			ev{int64(n.End()) * tps, true, midi.NoteOff(0, n.Pitch)})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].tick != evs[j].tick {
			return evs[i].tick < evs[j].tick
		}
		return evs[i].off && !evs[j].off
	})
	var tr smf.Track
	var at int64
	for _, e := range evs {
		tr.Add(uint32(e.tick-at), e.msg)
		at = e.tick
	}
	tr.Close(0)
	f := smf.New()
	f.TimeFormat = smf.MetricTicks(WritePPQ)
	if err := f.Add(tr); err != nil {
		return fmt.Errorf("write MIDI: %w", err)
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("write MIDI: %w", err)
	}
	return nil
}
