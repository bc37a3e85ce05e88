package sound

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
)

const rate = 44100

// pitchOf estimates the fundamental of the left channel by autocorrelation: the shortest lag
// whose correlation comes within 10% of the best, which avoids octave errors.
func pitchOf(stereo []float32) float64 {
	x := make([]float64, len(stereo)/2)
	for i := range x {
		x[i] = float64(stereo[2*i])
	}
	minLag, maxLag := rate/2000, rate/25
	if len(x) < 3*maxLag {
		return 0
	}
	n := len(x) - maxLag
	corr := make([]float64, maxLag+1)
	best := 0.0
	for lag := minLag; lag <= maxLag; lag++ {
		var c, e0, e1 float64
		for i := 0; i < n; i++ {
			c += x[i] * x[i+lag]
			e0 += x[i] * x[i]
			e1 += x[i+lag] * x[i+lag]
		}
		if e0 > 0 && e1 > 0 {
			corr[lag] = c / math.Sqrt(e0*e1)
		}
		best = math.Max(best, corr[lag])
	}
	for lag := minLag + 1; lag < maxLag; lag++ {
		if corr[lag] >= 0.9*best && corr[lag] >= corr[lag-1] && corr[lag] >= corr[lag+1] {
			// Parabolic interpolation of the peak for sub-sample precision.
			a, b, c := corr[lag-1], corr[lag], corr[lag+1]
			off := 0.5 * (a - c) / (a - 2*b + c)
			return rate / (float64(lag) + off)
		}
	}
	return 0
}

func peak(stereo []float32) float64 {
	var p float64
	for _, x := range stereo {
		p = math.Max(p, math.Abs(float64(x)))
	}
	return p
}

func renderVoice(v Voice, frames int) []float32 {
	out := make([]float32, 2*frames)
	v.Render(out)
	return out
}

func TestPianoPitchAndDecay(t *testing.T) {
	for _, key := range []uint8{45, 60, 69, 84} {
		v := Piano{}.NewVoice(key, 100, rate)
		buf := renderVoice(v, rate/2)
		want := keyFrequency(float64(key))
		// Partials are above the fundamental; low-pass by averaging to count the fundamental.
		got := pitchOf(buf[2*rate/10:])
		if math.Abs(got-want)/want > 0.01 {
			t.Errorf("key %d: pitch %.1f Hz, want %.1f", key, got, want)
		}
		early, late := peak(buf[:rate/10]), peak(buf[len(buf)-rate/10:])
		if !(late < early) {
			t.Errorf("key %d: no decay (early %.3f, late %.3f)", key, early, late)
		}
	}
}

func TestPianoVelocityAndRelease(t *testing.T) {
	soft := peak(renderVoice(Piano{}.NewVoice(60, 30, rate), 4096))
	loud := peak(renderVoice(Piano{}.NewVoice(60, 120, rate), 4096))
	if !(loud > 4*soft) {
		t.Errorf("velocity barely matters: soft %.4f loud %.4f", soft, loud)
	}
	v := Piano{}.NewVoice(40, 100, rate)
	renderVoice(v, 1000)
	v.Release()
	alive := true
	for i := 0; i < 20 && alive; i++ { // 20 blocks of 100 ms
		alive = v.Render(make([]float32, 2*rate/10))
	}
	if alive {
		t.Error("a released low note still sounds after 2 s")
	}
}

func TestSequencerIsSampleAccurateAndBlockIndependent(t *testing.T) {
	notes := []Note{{Key: 60, Velocity: 100, Start: 1000, End: 5000}, {Key: 64, Velocity: 90, Start: 2345, End: 2400}, {Key: 67, Velocity: 80, Start: 7777, End: 20000}}
	render := func(block int) []float32 {
		s := NewSequencer(Piano{}, rate)
		s.SetNotes(notes)
		s.Play(true)
		out := make([]float32, 2*30000)
		for i := 0; i < len(out); i += 2 * block {
			s.Render(out[i:min(len(out), i+2*block)])
		}
		if got := s.Position(); got != 30000 {
			t.Fatalf("block %d: position %d after 30000 frames", block, got)
		}
		return out
	}
	whole := render(30000)
	for i := 0; i < 2*1000; i++ {
		if whole[i] != 0 {
			t.Fatalf("sound at frame %d, before the first note at 1000", i/2)
		}
	}
	if whole[2*1000] == 0 && whole[2*1000+1] == 0 {
		t.Fatal("silence on the note's first frame")
	}
	for _, block := range []int{1, 37, 512, 4096} {
		got := render(block)
		for i := range got {
			if math.Abs(float64(got[i]-whole[i])) > 1e-6 {
				t.Fatalf("block size %d changes frame %d: %g vs %g", block, i/2, got[i], whole[i])
			}
		}
	}
}

func TestSequencerLoopAndStop(t *testing.T) {
	s := NewSequencer(Piano{}, rate)
	s.SetNotes([]Note{{Key: 60, Velocity: 100, Start: 0, End: 100000}})
	s.SetLoop(0, 10000)
	s.Play(true)
	s.Render(make([]float32, 2*25000))
	if got := s.Position(); got != 5000 {
		t.Errorf("looped position %d, want 5000", got)
	}
	s.Play(false)
	if s.ActiveVoices() == 0 {
		t.Fatal("the looped note should still be releasing right after stop")
	}
	for i := 0; i < 40; i++ {
		s.Render(make([]float32, 2*4410))
	}
	if n := s.ActiveVoices(); n != 0 {
		t.Errorf("%d voices still sound 4 s after stop", n)
	}
	if got := s.Position(); got != 5000 {
		t.Errorf("stopped transport moved to %d", got)
	}
}

func TestSequencerLiveKeysAndRead(t *testing.T) {
	s := NewSequencer(Piano{}, rate)
	s.KeyDown(72, 100)
	p := make([]byte, 8*1024)
	n, err := s.Read(p)
	if err != nil || n != len(p) {
		t.Fatalf("Read = %d, %v", n, err)
	}
	var loudest float32
	for i := 0; i < n; i += 4 {
		loudest = max(loudest, float32(math.Abs(float64(math.Float32frombits(binary.LittleEndian.Uint32(p[i:]))))))
	}
	if loudest == 0 {
		t.Fatal("a pressed key made no sound")
	}
	if s.Position() != 0 {
		t.Error("a live key moved the playhead of a stopped transport")
	}
	s.KeyUp(72)
	for i := 0; i < 20; i++ {
		s.Render(make([]float32, 2*4410))
	}
	if s.ActiveVoices() != 0 {
		t.Error("released key still sounds")
	}
}

func TestSoftClipBoundsManyVoices(t *testing.T) {
	s := NewSequencer(Piano{}, rate)
	var notes []Note
	for k := 36; k < 100; k++ {
		notes = append(notes, Note{Key: uint8(k), Velocity: 127, Start: 0, End: rate})
	}
	s.SetNotes(notes)
	s.Play(true)
	buf := make([]float32, 2*rate/4)
	s.Render(buf)
	if p := peak(buf); p > 1 {
		t.Errorf("peak %.3f over full scale", p)
	}
}

// sf2Builder writes a minimal SoundFont: one sample, one instrument, one preset.
type sf2Builder struct {
	sample             []int16
	loopStart, loopEnd uint32
	root               uint8
	igens              [][2]uint16 // extra instrument generators before sampleID
	ifil               uint16
}

func riff(id string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(id)
	binary.Write(&b, binary.LittleEndian, uint32(len(body)))
	b.Write(body)
	if len(body)%2 == 1 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func list(kind string, chunks ...[]byte) []byte {
	return riff("LIST", append([]byte(kind), bytes.Join(chunks, nil)...))
}

func name20(s string) []byte { b := make([]byte, 20); copy(b, s); return b }

func le(vals ...any) []byte {
	var b bytes.Buffer
	for _, v := range vals {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func (sb sf2Builder) bytes() []byte {
	ifil := sb.ifil
	if ifil == 0 {
		ifil = 2
	}
	smpl := le(sb.sample, make([]int16, 46)) // spec: 46 zero samples after each sample
	n := uint32(len(sb.sample))
	shdr := append(append(name20("sine"), le(uint32(0), n, sb.loopStart, sb.loopEnd, uint32(rate), sb.root, int8(0), uint16(0), uint16(1))...),
		append(name20("EOS"), make([]byte, 26)...)...)
	igen := []byte{}
	for _, g := range sb.igens {
		igen = append(igen, le(g[0], g[1])...)
	}
	igen = append(igen, le(uint16(genSampleID), uint16(0))...)
	ngen := uint16(len(sb.igens) + 1)
	igen = append(igen, le(uint16(0), uint16(0))...)
	pdta := list("pdta",
		riff("phdr", append(append(name20("Test Piano"), le(uint16(0), uint16(0), uint16(0), uint32(0), uint32(0), uint32(0))...),
			append(name20("EOP"), le(uint16(0), uint16(0), uint16(1), uint32(0), uint32(0), uint32(0))...)...)),
		riff("pbag", le(uint16(0), uint16(0), uint16(1), uint16(0))),
		riff("pmod", make([]byte, 10)),
		riff("pgen", le(uint16(genInstrument), uint16(0), uint16(0), uint16(0))),
		riff("inst", append(append(name20("Sine"), le(uint16(0))...), append(name20("EOI"), le(uint16(1))...)...)),
		riff("ibag", le(uint16(0), uint16(0), ngen, uint16(0))),
		riff("imod", make([]byte, 10)),
		riff("igen", igen),
		riff("shdr", shdr),
	)
	body := bytes.Join([][]byte{[]byte("sfbk"),
		list("INFO", riff("ifil", le(ifil, uint16(1))), riff("INAM", []byte("Test\x00"))),
		list("sdta", riff("smpl", smpl)),
		pdta}, nil)
	return riff("RIFF", body)
}

// sineBank holds one looped period of 100 samples: 441 Hz at root key 69.
func sineBank() sf2Builder {
	s := make([]int16, 1000)
	for i := range s {
		s[i] = int16(20000 * math.Sin(2*math.Pi*float64(i)/100))
	}
	return sf2Builder{sample: s, loopStart: 100, loopEnd: 900, root: 69,
		igens: [][2]uint16{{genSampleModes, 1}, {genReleaseVolEnv, minus2400}}} // 0.25 s release
}

func TestSoundFontPlaysPitchedLoopedSample(t *testing.T) {
	sf, err := ParseSoundFont(sineBank().bytes())
	if err != nil {
		t.Fatal(err)
	}
	inst := sf.Preset(0)
	if !strings.Contains(inst.Name(), "Test Piano") {
		t.Errorf("name %q", inst.Name())
	}
	for key, want := range map[uint8]float64{69: 441, 81: 882, 57: 220.5} {
		v := inst.NewVoice(key, 127, rate)
		buf := renderVoice(v, rate) // 1 s: far past the 1000-sample pool, so the loop must work
		if got := pitchOf(buf[rate:]); math.Abs(got-want)/want > 0.005 {
			t.Errorf("key %d: %.1f Hz, want %.1f", key, got, want)
		}
		if p := peak(buf[len(buf)-2000:]); p < 0.1 {
			t.Errorf("key %d: looped sample faded to %.3f", key, p)
		}
		v.Release()
		alive := true
		for i := 0; i < 20 && alive; i++ {
			alive = v.Render(make([]float32, 2*rate/10))
		}
		if alive {
			t.Errorf("key %d: still sounds 2 s after a 0.25 s release", key)
		}
	}
	quiet := peak(renderVoice(inst.NewVoice(69, 40, rate), 4000))
	loud := peak(renderVoice(inst.NewVoice(69, 120, rate), 4000))
	if !(loud > 3*quiet) {
		t.Errorf("velocity: quiet %.3f loud %.3f", quiet, loud)
	}
}

func TestSoundFontRejectsBrokenFiles(t *testing.T) {
	good := sineBank().bytes()
	cases := map[string][]byte{
		"empty":     nil,
		"not riff":  []byte("MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x60"),
		"truncated": good[:len(good)/2],
		"sf3":       sf2Builder{sample: sineBank().sample, ifil: 3}.bytes(),
	}
	for name, data := range cases {
		if _, err := ParseSoundFont(data); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	// Flip every byte of the preset data in turn: errors are fine, panics are not.
	for i := 12; i < len(good); i += 7 {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0xff
		if sf, err := ParseSoundFont(bad); err == nil {
			for k := 0; k < 128; k += 31 {
				if v := sf.Preset(0).NewVoice(uint8(k), 100, rate); v != nil {
					v.Render(make([]float32, 256))
				}
			}
		}
	}
}

func TestOpenFallsBackToBuiltInPiano(t *testing.T) {
	inst, err := Open(t.TempDir() + "/missing.sf2")
	if err == nil || !strings.Contains(err.Error(), "missing.sf2") {
		t.Errorf("missing file: err = %v", err)
	}
	if _, ok := inst.(Piano); !ok {
		t.Errorf("fallback is %T, want Piano", inst)
	}
}

func TestDebianSoundFont(t *testing.T) {
	path := SoundFontPaths[0]
	if _, err := os.Stat(path); err != nil {
		t.Skip("timgm6mb-soundfont not installed")
	}
	inst, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(inst.Name()), "piano") {
		t.Errorf("program 0 is %q", inst.Name())
	}
	v := inst.NewVoice(60, 100, rate)
	if v == nil {
		t.Fatal("no voice for middle C")
	}
	buf := renderVoice(v, rate/2)
	// TimGM6mb tunes this zone 41 cents sharp (fineTune), so allow half a semitone.
	if got := pitchOf(buf[2*rate/10:]); math.Abs(got-261.6)/261.6 > 0.03 {
		t.Errorf("middle C at %.1f Hz", got)
	}
}

func BenchmarkSequencer32Voices(b *testing.B) {
	s := NewSequencer(Piano{}, rate)
	var notes []Note
	for k := 0; k < 32; k++ {
		notes = append(notes, Note{Key: uint8(40 + k), Velocity: 100, Start: 0, End: 1 << 40})
	}
	s.SetNotes(notes)
	s.Play(true)
	buf := make([]float32, 2*512)
	b.SetBytes(int64(len(buf) * 4))
	for b.Loop() {
		s.Render(buf)
	}
}

// minus2400 is -2400 timecents (0.25 s) as the raw generator word.
var minus2400 = func() uint16 { v := int16(-2400); return uint16(v) }()
