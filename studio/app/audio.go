package app

import (
	"fmt"
	"time"

	"github.com/hajimehoshi/ebiten/v2/audio"

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

// frameOf converts a step to a sample frame through the tempo map.
func frameOf(tempos []pianoroll.Tempo, step int) int64 {
	song := pianoroll.Song{Tempos: tempos}
	return int64(song.Seconds(step)*sampleRate + 0.5)
}

// stepAt converts a sample frame back to a (fractional) step.
func stepAt(tempos []pianoroll.Tempo, frame int64) float64 {
	sec := float64(frame) / sampleRate
	bpm, at, t := 120.0, 0, 0.0
	if len(tempos) > 0 {
		bpm = tempos[0].BPM
	}
	for i := 1; i < len(tempos); i++ {
		d := float64(tempos[i].Step-at) * 15 / bpm // a step is a 16th: 60/bpm/4 s
		if t+d > sec {
			break
		}
		t += d
		at, bpm = tempos[i].Step, tempos[i].BPM
	}
	return float64(at) + (sec-t)*bpm/15
}

// setNotes schedules a song (in steps) on the sequencer.
func (p *player) setNotes(notes []pianoroll.Note, tempos []pianoroll.Tempo) {
	p.tempos = tempos
	song := pianoroll.Song{Tempos: tempos}
	out := make([]sound.Note, len(notes))
	for i, n := range notes {
		out[i] = sound.Note{
			Key: n.Pitch, Velocity: n.Vel,
			Start: int64(song.Seconds(n.Start)*sampleRate + 0.5),
			End:   int64(song.Seconds(n.End())*sampleRate + 0.5),
		}
	}
	p.seq.SetNotes(out)
}

func (p *player) playhead() float64 { return stepAt(p.tempos, p.seq.Position()) }

func (p *player) seek(step float64) {
	p.seq.SetPosition(frameOf(p.tempos, int(step)) + int64((step-float64(int(step)))*float64(frameOf(p.tempos, int(step)+1)-frameOf(p.tempos, int(step)))))
}

func (p *player) setLoop(from, to int) {
	if to <= from {
		p.seq.SetLoop(0, 0)
		return
	}
	p.seq.SetLoop(frameOf(p.tempos, from), frameOf(p.tempos, to))
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
