package sound

import (
	"encoding/binary"
	"math"
	"sort"
	"sync"
)

// A Note to play, in sample frames from the start of the song.
type Note struct {
	Key, Velocity uint8
	Start, End    int64
}

// MaxVoices bounds polyphony; the oldest voice is stolen beyond it.
const MaxVoices = 96

// Sequencer renders scheduled notes and live key presses into interleaved stereo float32.
// The audio goroutine calls Read or Render; the UI calls the other methods. Notes start and
// stop on their exact frame, even in the middle of a rendered block.
type Sequencer struct {
	mu         sync.Mutex
	inst       Instrument
	sampleRate int
	notes      []Note // sorted by Start
	next       int    // index of the first note not yet started
	pos        int64  // frames rendered since the start of the song
	playing    bool
	loopStart  int64
	loopEnd    int64 // 0: no loop
	voices     []*seqVoice
	live       []liveKey
	gain       float32
	scratch    []float32
}

type seqVoice struct {
	v   Voice
	end int64 // frame of key up; -1 for live notes until KeyUp
	key uint8
}

type liveKey struct {
	key, vel uint8
	on       bool
}

// NewSequencer makes a stopped sequencer at position 0.
func NewSequencer(inst Instrument, sampleRate int) *Sequencer {
	return &Sequencer{inst: inst, sampleRate: sampleRate, gain: 1}
}

// SampleRate is the output rate in frames per second.
func (s *Sequencer) SampleRate() int { return s.sampleRate }

// SetInstrument swaps the instrument; sounding voices finish on the old one.
func (s *Sequencer) SetInstrument(inst Instrument) {
	s.mu.Lock()
	s.inst = inst
	s.mu.Unlock()
}

// SetNotes replaces the song. Notes already sounding keep sounding until their old end.
func (s *Sequencer) SetNotes(notes []Note) {
	sorted := append([]Note(nil), notes...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	s.mu.Lock()
	s.notes = sorted
	s.next = sort.Search(len(sorted), func(i int) bool { return sorted[i].Start >= s.pos })
	s.mu.Unlock()
}

// Play starts or stops the transport.
func (s *Sequencer) Play(on bool) {
	s.mu.Lock()
	s.playing = on
	if !on {
		s.releaseScheduled()
	}
	s.mu.Unlock()
}

// Playing reports whether the transport runs.
func (s *Sequencer) Playing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.playing
}

// SetPosition moves the playhead to frame; sounding song notes are released.
func (s *Sequencer) SetPosition(frame int64) {
	s.mu.Lock()
	s.seekLocked(frame)
	s.mu.Unlock()
}

func (s *Sequencer) seekLocked(frame int64) {
	if frame < 0 {
		frame = 0
	}
	s.releaseScheduled()
	s.pos = frame
	s.next = sort.Search(len(s.notes), func(i int) bool { return s.notes[i].Start >= frame })
}

// SetLoop loops playback over [start, end) frames; end <= start turns looping off.
func (s *Sequencer) SetLoop(start, end int64) {
	s.mu.Lock()
	if end <= start {
		s.loopStart, s.loopEnd = 0, 0
	} else {
		s.loopStart, s.loopEnd = start, end
	}
	s.mu.Unlock()
}

// Position is the playhead in frames: the frame that the next rendered sample belongs to.
func (s *Sequencer) Position() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos
}

// KeyDown sounds a key now (a click on the keyboard), independent of the transport.
func (s *Sequencer) KeyDown(key, velocity uint8) {
	s.mu.Lock()
	s.live = append(s.live, liveKey{key, velocity, true})
	s.mu.Unlock()
}

// KeyUp releases a key started by KeyDown.
func (s *Sequencer) KeyUp(key uint8) {
	s.mu.Lock()
	s.live = append(s.live, liveKey{key: key})
	s.mu.Unlock()
}

func (s *Sequencer) releaseScheduled() {
	for _, v := range s.voices {
		if v.end >= 0 {
			v.v.Release()
			v.end = math.MinInt64 // already released
		}
	}
}

func (s *Sequencer) start(key, vel uint8, end int64) {
	if s.inst == nil {
		return
	}
	v := s.inst.NewVoice(key, vel, s.sampleRate)
	if v == nil {
		return
	}
	if len(s.voices) >= MaxVoices {
		s.voices[0].v.Release()
		s.voices = s.voices[1:]
	}
	s.voices = append(s.voices, &seqVoice{v: v, end: end, key: key})
}

// Render fills out (interleaved stereo) with the next len(out)/2 frames.
func (s *Sequencer) Render(out []float32) {
	for i := range out {
		out[i] = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.live {
		if k.on {
			s.start(k.key, k.vel, -1)
			continue
		}
		for _, v := range s.voices {
			if v.end == -1 && v.key == k.key {
				v.v.Release()
				v.end = math.MinInt64
			}
		}
	}
	s.live = s.live[:0]

	frames := int64(len(out) / 2)
	done := int64(0)
	for done < frames {
		// Render up to the next event: a note on, a note off, or the loop end.
		span := frames - done
		if s.playing {
			if s.next < len(s.notes) {
				span = min(span, max(0, s.notes[s.next].Start-s.pos))
			}
			for _, v := range s.voices {
				if v.end > s.pos {
					span = min(span, v.end-s.pos)
				}
			}
			if s.loopEnd > 0 && s.pos < s.loopEnd {
				span = min(span, s.loopEnd-s.pos)
			}
		}
		if span > 0 {
			s.renderVoices(out[2*done : 2*(done+span)])
			done += span
			if s.playing {
				s.pos += span
			}
		}
		if !s.playing {
			continue
		}
		for _, v := range s.voices {
			if v.end >= 0 && v.end <= s.pos {
				v.v.Release()
				v.end = math.MinInt64
			}
		}
		for s.next < len(s.notes) && s.notes[s.next].Start <= s.pos {
			n := s.notes[s.next]
			if n.End > s.pos {
				s.start(n.Key, n.Velocity, n.End)
			}
			s.next++
		}
		if s.loopEnd > 0 && s.pos >= s.loopEnd {
			s.seekLocked(s.loopStart)
		}
	}
	for i := range out {
		out[i] = softClip(out[i] * s.gain)
	}
}

func (s *Sequencer) renderVoices(out []float32) {
	alive := s.voices[:0]
	for _, v := range s.voices {
		if v.v.Render(out) {
			alive = append(alive, v)
		}
	}
	for i := len(alive); i < len(s.voices); i++ {
		s.voices[i] = nil
	}
	s.voices = alive
}

// Read implements io.Reader over little-endian float32 stereo frames, the stream format that
// ebiten/audio's NewPlayerF32 takes. It always fills whole frames and never ends.
func (s *Sequencer) Read(p []byte) (int, error) {
	n := len(p) / 8 * 8
	if n == 0 {
		return 0, nil
	}
	if cap(s.scratch) < n/4 {
		s.scratch = make([]float32, n/4)
	}
	buf := s.scratch[:n/4]
	s.Render(buf)
	for i, x := range buf {
		binary.LittleEndian.PutUint32(p[4*i:], math.Float32bits(x))
	}
	return n, nil
}

// ActiveVoices is the number of sounding voices (for meters and tests).
func (s *Sequencer) ActiveVoices() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.voices)
}
