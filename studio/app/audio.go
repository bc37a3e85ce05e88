package app

import (
	"fmt"
	"time"

	"github.com/hajimehoshi/ebiten/v2/audio"

	"latentstudio/studio/app/clock"
	"latentstudio/studio/pianoroll"
	"latentstudio/studio/sound"
)

const sampleRate = 44100

// player is the sequencer behind an ebiten/audio player. The playhead is the
// sequencer's frame position converted through the tempo map, so it never
// drifts from what is heard.
type player struct {
	seq    *sound.Sequencer
	out    *audio.Player
	tempos []pianoroll.Tempo
	name   string
}

var audioContext *audio.Context // one per process (ebiten allows only one)

func newPlayer(sf2 string, logf func(string, ...any)) (*player, error) {
	if audioContext == nil {
		audioContext = audio.NewContext(sampleRate)
	}
	// The built-in piano starts at once; a SoundFont, when found, replaces it
	// as soon as it is loaded (a 6 MB file takes a moment).
	p := &player{seq: sound.NewSequencer(sound.Piano{}, sampleRate), name: "built-in piano"}
	out, err := audioContext.NewPlayerF32(p.seq)
	if err != nil {
		return nil, fmt.Errorf("audio output: %w", err)
	}
	out.SetBufferSize(60 * time.Millisecond)
	out.Play()
	p.out = out
	go func() {
		inst, err := sound.Open(sf2)
		if err != nil {
			logf("studio: %v (playing the built-in piano)", err)
			return
		}
		p.seq.SetInstrument(inst)
	}()
	return p, nil
}

func (p *player) clock() clock.Clock { return clock.Clock{Rate: sampleRate, Tempos: p.tempos} }

// setNotes schedules a song (in steps) on the sequencer.
func (p *player) setNotes(notes []pianoroll.Note, tempos []pianoroll.Tempo) {
	p.tempos = tempos
	p.seq.SetNotes(p.clock().Notes(notes))
}

func (p *player) playhead() float64 { return p.clock().Step(p.seq.Position()) }

func (p *player) seek(step float64) { p.seq.SetPosition(p.clock().FrameAt(step)) }

func (p *player) setLoop(from, to int) {
	if to <= from {
		p.seq.SetLoop(0, 0)
		return
	}
	c := p.clock()
	p.seq.SetLoop(c.Frame(from), c.Frame(to))
}

// syncAudio keeps the sequencer on the document's song and moves the view's
// playhead from the sequencer's position.
func (a *App) syncAudio() {
	v := a.view
	if a.audio == nil {
		v.Seek = nil
		return
	}
	p := a.audio
	if sv := a.doc.SongVersion(); sv != a.songVersion || a.songVersion == 0 {
		a.songVersion = sv
		if a.inp.preview < 0 {
			p.setNotes(a.doc.PlainNotes(), a.doc.Tempos())
		}
	}
	l := a.doc.Loop()
	p.setLoop(l.From, l.To)
	if v.Seek != nil {
		p.seek(*v.Seek)
		v.Seek = nil
	}
	v.Playing = p.seq.Playing()
	v.Playhead = p.playhead()
}

// togglePlay starts or stops the transport; playback stops at the song's end.
func (a *App) togglePlay() {
	if a.audio == nil {
		return
	}
	s := a.audio.seq
	on := !s.Playing()
	if on && a.view.Playhead >= float64(a.doc.Length()) && !a.doc.Loop().On() {
		a.audio.seek(0)
	}
	s.Play(on)
}
