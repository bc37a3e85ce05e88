package rolldoc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gitlab.com/gomidi/midi/v2"
	"gitlab.com/gomidi/midi/v2/smf"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/undo"
)

// The reader's errors, wrapped by FromMIDI and Import (errors.Is works with either name).
var (
	ErrNotMIDI   = pianoroll.ErrNotMIDI
	ErrCorrupt   = pianoroll.ErrCorrupt
	ErrTruncated = pianoroll.ErrTruncated
	ErrNoNotes   = pianoroll.ErrNoNotes
	ErrTooLong   = pianoroll.ErrTooLong
	ErrTooLarge  = pianoroll.ErrTooLarge
)

// FromMIDI reads a Standard MIDI File into a new document: every track merged onto one piano
// (drums dropped), its tempo map, time signatures and length (its end-of-track, so trailing
// silence survives a save). A file without notes gives an empty document (a new project). A
// bad file gives an error wrapping ErrNotMIDI, ErrCorrupt, ErrTruncated, ErrTooLong or
// ErrTooLarge, with a message a person can act on.
func FromMIDI(data []byte) (*Doc, error) {
	d := New()
	song, err := readSong(data)
	if err != nil {
		return nil, err
	}
	if len(song.notes) > MaxNotes {
		return nil, fmt.Errorf("%w: the file holds %d notes, a song at most %d", ErrTooMany, len(song.notes), MaxNotes)
	}
	d.load(song)
	d.version, d.songVersion = 1, 1
	return d, nil
}

// loaded is a parsed file before it becomes a document.
type loaded struct {
	notes  []pianoroll.Note
	tempos []pianoroll.Tempo
	meter  []TimeSig
	length int
}

func readSong(data []byte) (loaded, error) {
	if len(data) > pianoroll.MaxFileBytes {
		return loaded{}, fmt.Errorf("%w: the file is %.1f MB, MIDI files up to %d MB open; nothing was changed", ErrTooLarge, float64(len(data))/(1<<20), pianoroll.MaxFileBytes>>20)
	}
	song, err := pianoroll.Parse(data)
	empty := errors.Is(err, pianoroll.ErrNoNotes)
	if err != nil && !empty {
		return loaded{}, fmt.Errorf("cannot open this MIDI file: %w", err)
	}
	l := loaded{tempos: []pianoroll.Tempo{{Step: 0, BPM: pianoroll.DefaultBPM}}, meter: []TimeSig{{Step: 0, Num: 4, Den: 4}}}
	if song != nil {
		l.notes, l.length = song.Notes, song.Steps
		if len(song.Tempos) > 0 {
			l.tempos = song.Tempos
		}
	}
	meta := readMeta(data)
	if empty && len(meta.tempos) > 0 {
		l.tempos = meta.tempos
	}
	if len(meta.meter) > 0 {
		l.meter = meta.meter
	}
	if meta.end > MaxSteps {
		meta.end = MaxSteps // trailing silence past the limit is dropped, notes never
	}
	l.length = max(l.length, meta.end)
	if l.length == 0 {
		l.length = DefaultLength
	}
	// changes after the end of the song change nothing a person hears
	l.tempos = slices.DeleteFunc(l.tempos, func(t pianoroll.Tempo) bool { return t.Step > 0 && t.Step >= l.length })
	l.meter = slices.DeleteFunc(l.meter, func(m TimeSig) bool { return m.Step > 0 && m.Step >= l.length })
	return l, nil
}

// metaInfo is what pianoroll's reader does not keep: time signatures and the end of track.
type metaInfo struct {
	meter  []TimeSig
	tempos []pianoroll.Tempo // only used for files without notes
	end    int
}

// readMeta reads time signatures, tempos and the last end-of-track of a metric-time file with
// a small walker of its own: only files pianoroll's reader accepted get here, but a hostile
// file must cost no more than its size (a general parser may allocate what a length field
// claims). It never fails: what it cannot read keeps the defaults (4/4, the notes' length).
func readMeta(data []byte) (info metaInfo) {
	if len(data) < 14 || string(data[:4]) != "MThd" {
		return info
	}
	hlen := int(binary.BigEndian.Uint32(data[4:8]))
	ppq := int64(binary.BigEndian.Uint16(data[12:14]))
	if hlen < 6 || hlen > len(data)-8 || ppq == 0 || ppq&0x8000 != 0 {
		return info // SMPTE time: pianoroll maps it at the default tempo; 4/4 is all we know
	}
	step := func(tick int64) int {
		return int(min((tick*pianoroll.StepsPerBeat*2+ppq)/(2*ppq), math.MaxInt32))
	}
	for pos := 8 + hlen; pos+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[pos+4 : pos+8]))
		if n > len(data)-pos-8 {
			break
		}
		if string(data[pos:pos+4]) == "MTrk" {
			walkTrack(data[pos+8:pos+8+n], func(tick int64, typ byte, body []byte) {
				switch {
				case typ == 0x58 && len(body) >= 2 && body[1] <= 4:
					num, den := int(body[0]), 1<<body[1]
					if num >= 1 && num <= 32 {
						info.meter = append(info.meter, TimeSig{Step: step(tick), Num: num, Den: den})
					}
				case typ == 0x51 && len(body) == 3:
					if us := int(body[0])<<16 | int(body[1])<<8 | int(body[2]); us > 0 {
						if bpm := 60e6 / float64(us); bpm >= 1 && bpm <= 1000 {
							info.tempos = append(info.tempos, pianoroll.Tempo{Step: step(tick), BPM: bpm})
						}
					}
				case typ == 0x2F:
					info.end = max(info.end, step(tick))
				}
			})
		}
		pos += 8 + n
	}
	info.meter = cleanMeter(info.meter)
	if len(info.tempos) > 0 {
		sort.SliceStable(info.tempos, func(i, j int) bool { return info.tempos[i].Step < info.tempos[j].Step })
		if info.tempos[0].Step != 0 {
			info.tempos = append([]pianoroll.Tempo{{Step: 0, BPM: pianoroll.DefaultBPM}}, info.tempos...)
		}
	}
	return info
}

// walkTrack calls meta for every meta event of a track chunk until the end of track or the
// first byte it cannot read.
func walkTrack(b []byte, meta func(tick int64, typ byte, body []byte)) {
	i := 0
	varint := func() (int, bool) {
		v := 0
		for k := 0; k < 4; k++ {
			if i >= len(b) {
				return 0, false
			}
			c := b[i]
			i++
			v = v<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	var tick int64
	var status byte
	for i < len(b) {
		delta, ok := varint()
		if !ok || i >= len(b) {
			return
		}
		tick += int64(delta)
		switch c := b[i]; {
		case c == 0xFF:
			i++
			if i >= len(b) {
				return
			}
			typ := b[i]
			i++
			l, ok := varint()
			if !ok || l > len(b)-i {
				return
			}
			meta(tick, typ, b[i:i+l])
			i += l
			if typ == 0x2F {
				return
			}
		case c == 0xF0 || c == 0xF7: // sysex: skipped
			i++
			l, ok := varint()
			if !ok || l > len(b)-i {
				return
			}
			i += l
		default:
			if c&0x80 != 0 {
				status = c
				i++
			} else if status == 0 {
				return // data without a status byte
			}
			switch status & 0xF0 {
			case 0xC0, 0xD0:
				i++
			case 0x80, 0x90, 0xA0, 0xB0, 0xE0:
				i += 2
			default:
				return // system messages do not belong in a file
			}
		}
	}
}

// cleanMeter sorts signatures, keeps the last at each step and starts the list at step 0.
func cleanMeter(ms []TimeSig) []TimeSig {
	if len(ms) == 0 {
		return nil
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Step < ms[j].Step })
	out := []TimeSig{{Step: 0, Num: 4, Den: 4}}
	for _, m := range ms {
		if last := &out[len(out)-1]; last.Step == m.Step {
			*last = m
		} else if last.Num != m.Num || last.Den != m.Den {
			out = append(out, m)
		}
	}
	return out
}

// load puts a parsed file into an empty document (no undo step).
func (d *Doc) load(l loaded) {
	added := make([]Note, len(l.notes))
	for i, n := range l.notes {
		d.nextID++
		added[i] = Note{Note: n, ID: d.nextID}
	}
	d.replace(nil, added)
	d.tempos, d.meter, d.length = l.tempos, l.meter, l.length
}

// Import replaces the song (notes, tempo map, time signatures, length) with a MIDI file as
// one undo step; the selection and the mask are cleared with it. A file without notes is
// refused (ErrNoNotes): importing nothing over a song would only lose it. On any error the
// document is unchanged.
func (d *Doc) Import(data []byte) error { return d.replaceSong(data, false, "Import MIDI") }

// ReplaceSong is Import for a song saved elsewhere (the server's newer version): an empty song
// replaces this one too. One undo step, so the person can go back to what they had.
func (d *Doc) ReplaceSong(data []byte) error { return d.replaceSong(data, true, "Load newer version") }

func (d *Doc) replaceSong(data []byte, allowEmpty bool, label string) error {
	l, err := readSong(data)
	if err != nil {
		return err
	}
	if len(l.notes) == 0 && !allowEmpty {
		return fmt.Errorf("nothing imported: %w", ErrNoNotes)
	}
	if len(l.notes) > MaxNotes {
		return fmt.Errorf("%w: the file holds %d notes, a song at most %d", ErrTooMany, len(l.notes), MaxNotes)
	}
	d.lock()
	defer d.unlock()
	e := &noteEdit{d: d, label: "Import", removed: slices.Clone(d.notes)}
	for _, n := range l.notes {
		d.nextID++
		e.added = append(e.added, Note{Note: n, ID: d.nextID})
	}
	if len(d.sel) > 0 {
		e.selChange, e.selBefore, e.selAfter = true, setIDs(d.sel), nil
	}
	before := d.settings()
	after := before
	after.tempos, after.meter, after.length = l.tempos, l.meter, l.length
	cmds := []undo.Command{e, &songEdit{d: d, label: "Import", before: before, after: after}}
	acc := map[int32]uint64{}
	for i, w := range d.mask.words {
		if w != 0 {
			acc[int32(i)] = w
		}
	}
	if len(acc) > 0 {
		cmds = append(cmds, &maskEdit{d: d, label: "Import", flips: flipList(acc)})
	}
	if len(d.gen.ids) > 0 {
		cmds = append(cmds, &genEdit{d: d, before: d.gen})
	}
	d.do(&undo.Group{Name: label, Commands: cmds})
	return nil
}

// MIDI writes the song as a format-0 Standard MIDI File at pianoroll.WritePPQ: time
// signatures, tempo map, acoustic grand piano on channel 1, every note, and the end of track at
// the song's length. An empty song is a valid file without notes.
func (d *Doc) MIDI() ([]byte, error) {
	d.lock()
	notes := plain(d.notes)
	tempos, meter, length := slices.Clone(d.tempos), slices.Clone(d.meter), d.lengthLocked()
	d.unlock()
	return writeMIDI(notes, tempos, meter, length)
}

func writeMIDI(notes []pianoroll.Note, tempos []pianoroll.Tempo, meter []TimeSig, length int) ([]byte, error) {
	const tps = pianoroll.WritePPQ / pianoroll.StepsPerBeat
	type ev struct {
		tick  int64
		order int // meta, then note-offs, then note-ons on one tick
		msg   []byte
	}
	evs := make([]ev, 0, 2*len(notes)+len(tempos)+len(meter)+1)
	for _, m := range meter {
		if m.Step > 0 && m.Step >= length {
			continue // after the end: would only make the file longer
		}
		evs = append(evs, ev{int64(m.Step) * tps, 0, smf.MetaMeter(uint8(m.Num), uint8(m.Den))})
	}
	for _, t := range tempos {
		if t.Step > 0 && t.Step >= length {
			continue
		}
		evs = append(evs, ev{int64(t.Step) * tps, 0, smf.MetaTempo(t.BPM)})
	}
	evs = append(evs, ev{0, 0, midi.ProgramChange(0, 0)})
	for _, n := range notes {
		evs = append(evs,
			ev{int64(n.Start) * tps, 2, midi.NoteOn(0, n.Pitch, n.Vel)},
			ev{int64(n.End()) * tps, 1, midi.NoteOff(0, n.Pitch)})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].tick != evs[j].tick {
			return evs[i].tick < evs[j].tick
		}
		return evs[i].order < evs[j].order
	})
	var tr smf.Track
	var at int64
	for _, e := range evs {
		tr.Add(uint32(e.tick-at), e.msg)
		at = e.tick
	}
	tr.Close(uint32(max(0, int64(length)*tps-at)))
	f := smf.New()
	f.TimeFormat = smf.MetricTicks(pianoroll.WritePPQ)
	if err := f.Add(tr); err != nil {
		return nil, fmt.Errorf("write MIDI: %w", err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("write MIDI: %w", err)
	}
	return buf.Bytes(), nil
}
