package sound

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// SoundFont is a parsed SoundFont 2 bank. It plays one preset (a GM program) as an Instrument.
type SoundFont struct {
	Name    string
	samples []int16 // the whole sample pool, mono 16-bit
	headers []sampleHeader
	presets []preset
}

// MaxSoundFontSize bounds what LoadSoundFont reads into memory.
const MaxSoundFontSize = 512 << 20

type sampleHeader struct {
	name                           string
	start, end, loopStart, loopEnd uint32
	rate                           uint32
	originalPitch                  uint8
	pitchCorrection                int8
	sampleType                     uint16
}

// A zone is a set of generators; ranges select it by key and velocity.
type zone struct {
	gens         [genCount]int16
	set          [genCount]bool
	keyLo, keyHi uint8
	velLo, velHi uint8
	target       int // instrument index (preset zones) or sample index (instrument zones)
}

type instrument struct {
	name  string
	zones []zone
}

type preset struct {
	name        string
	program     uint16
	bank        uint16
	zones       []zone
	instruments []instrument
}

// Generator operators used here (SoundFont 2.04, section 8.1.2).
const (
	genStartAddrsOffset       = 0
	genEndAddrsOffset         = 1
	genStartloopAddrsOffset   = 2
	genEndloopAddrsOffset     = 3
	genStartAddrsCoarseOffset = 4
	genInitialFilterFc        = 8
	genInitialFilterQ         = 9
	genEndAddrsCoarseOffset   = 12
	genPan                    = 17
	genDelayVolEnv            = 33
	genAttackVolEnv           = 34
	genHoldVolEnv             = 35
	genDecayVolEnv            = 36
	genSustainVolEnv          = 37
	genReleaseVolEnv          = 38
	genKeynumToVolEnvHold     = 39
	genKeynumToVolEnvDecay    = 40
	genInstrument             = 41
	genKeyRange               = 43
	genVelRange               = 44
	genStartloopCoarseOffset  = 45
	genInitialAttenuation     = 48
	genEndloopCoarseOffset    = 50
	genCoarseTune             = 51
	genFineTune               = 52
	genSampleID               = 53
	genSampleModes            = 54
	genScaleTuning            = 56
	genOverridingRootKey      = 58
	genCount                  = 61
)

// instrumentOnly generators are ignored at preset level (SoundFont 2.04, section 8.5).
var instrumentOnly = [genCount]bool{
	genStartAddrsOffset: true, genEndAddrsOffset: true, genStartloopAddrsOffset: true,
	genEndloopAddrsOffset: true, genStartAddrsCoarseOffset: true, genEndAddrsCoarseOffset: true,
	genStartloopCoarseOffset: true, genEndloopCoarseOffset: true, genSampleModes: true,
	46: true, 47: true, 57: true, genOverridingRootKey: true,
}

// genDefaults are the specification's default values for generators that are not zero.
var genDefaults = map[int]int16{
	genInitialFilterFc:   13500,
	genDelayVolEnv:       -12000,
	genAttackVolEnv:      -12000,
	genHoldVolEnv:        -12000,
	genDecayVolEnv:       -12000,
	genReleaseVolEnv:     -12000,
	genScaleTuning:       100,
	genOverridingRootKey: -1,
}

// LoadSoundFont reads an .sf2 file.
func LoadSoundFont(path string) (*SoundFont, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("soundfont: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("soundfont: %w", err)
	}
	if st.Size() > MaxSoundFontSize {
		return nil, fmt.Errorf("soundfont %s: %d MB is over the %d MB limit", path, st.Size()>>20, MaxSoundFontSize>>20)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("soundfont %s: %w", path, err)
	}
	sf, err := ParseSoundFont(data)
	if err != nil {
		return nil, fmt.Errorf("soundfont %s: %w", path, err)
	}
	return sf, nil
}

var errNotSF2 = errors.New("not a SoundFont 2 file (no RIFF sfbk header)")

type chunk struct {
	id   string
	data []byte
}

// readChunks splits a RIFF list body into its chunks.
func readChunks(b []byte) ([]chunk, error) {
	var out []chunk
	for len(b) >= 8 {
		id := string(b[:4])
		n := binary.LittleEndian.Uint32(b[4:8])
		if uint64(n) > uint64(len(b)-8) {
			return nil, fmt.Errorf("chunk %q claims %d bytes, only %d left: file is truncated", id, n, len(b)-8)
		}
		out = append(out, chunk{id, b[8 : 8+n]})
		b = b[8+n:]
		if n%2 == 1 && len(b) > 0 { // RIFF pads chunks to even sizes
			b = b[1:]
		}
	}
	return out, nil
}

// ParseSoundFont parses an in-memory .sf2 file. Errors name the broken part.
func ParseSoundFont(data []byte) (*SoundFont, error) {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "sfbk" {
		return nil, errNotSF2
	}
	top, err := readChunks(data[12:min(len(data), 8+int(binary.LittleEndian.Uint32(data[4:8])))])
	if err != nil {
		return nil, err
	}
	lists := map[string][]chunk{}
	for _, c := range top {
		if c.id != "LIST" || len(c.data) < 4 {
			continue
		}
		sub, err := readChunks(c.data[4:])
		if err != nil {
			return nil, fmt.Errorf("LIST %s: %w", c.data[:4], err)
		}
		lists[string(c.data[:4])] = sub
	}
	sf := &SoundFont{}
	for _, c := range lists["INFO"] {
		switch c.id {
		case "ifil":
			if len(c.data) >= 2 && binary.LittleEndian.Uint16(c.data) >= 3 {
				return nil, errors.New("SF3 (compressed) soundfonts are not supported: use an .sf2 such as Debian's timgm6mb-soundfont")
			}
		case "INAM":
			sf.Name = strings.TrimRight(string(c.data), "\x00")
		}
	}
	for _, c := range lists["sdta"] {
		if c.id == "smpl" {
			sf.samples = make([]int16, len(c.data)/2)
			if err := binary.Read(bytes.NewReader(c.data[:2*len(sf.samples)]), binary.LittleEndian, sf.samples); err != nil {
				return nil, fmt.Errorf("smpl: %w", err)
			}
		}
	}
	if sf.samples == nil {
		return nil, errors.New("no sample data (sdta/smpl chunk missing)")
	}
	pd := map[string][]byte{}
	for _, c := range lists["pdta"] {
		pd[c.id] = c.data
	}
	for _, id := range []string{"phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr"} {
		if _, ok := pd[id]; !ok {
			return nil, fmt.Errorf("preset data chunk %s missing", id)
		}
	}
	if err := sf.parseSampleHeaders(pd["shdr"]); err != nil {
		return nil, err
	}
	insts, err := parseInstruments(pd["inst"], pd["ibag"], pd["igen"], len(sf.headers))
	if err != nil {
		return nil, err
	}
	if err := sf.parsePresets(pd["phdr"], pd["pbag"], pd["pgen"], insts); err != nil {
		return nil, err
	}
	return sf, nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (sf *SoundFont) parseSampleHeaders(b []byte) error {
	const size = 46
	if len(b)%size != 0 || len(b) < size {
		return fmt.Errorf("shdr chunk has %d bytes, not a multiple of %d", len(b), size)
	}
	n := len(b)/size - 1 // the last record is the terminal "EOS"
	pool := uint32(len(sf.samples))
	for i := 0; i < n; i++ {
		r := b[i*size:]
		h := sampleHeader{
			name:            cstr(r[:20]),
			start:           binary.LittleEndian.Uint32(r[20:]),
			end:             binary.LittleEndian.Uint32(r[24:]),
			loopStart:       binary.LittleEndian.Uint32(r[28:]),
			loopEnd:         binary.LittleEndian.Uint32(r[32:]),
			rate:            binary.LittleEndian.Uint32(r[36:]),
			originalPitch:   r[40],
			pitchCorrection: int8(r[41]),
			sampleType:      binary.LittleEndian.Uint16(r[44:]),
		}
		if h.sampleType&0x8000 == 0 && (h.start > h.end || h.end > pool || h.rate == 0) {
			return fmt.Errorf("sample %q: range %d..%d at %d Hz does not fit the %d-sample pool", h.name, h.start, h.end, h.rate, pool)
		}
		sf.headers = append(sf.headers, h)
	}
	return nil
}

// readZones reads the bags of records [first, last) of a header list into zones, applying the
// global zone (the first zone when it lacks the terminal generator) as defaults.
func readZones(bag, gen []byte, first, last int, terminal int, targets int) ([]zone, error) {
	nbags := len(bag)/4 - 1
	ngens := len(gen)/4 - 1
	if first < 0 || last > nbags || first > last {
		return nil, fmt.Errorf("bag index %d..%d outside %d bags", first, last, nbags)
	}
	var global *zone
	var zones []zone
	for bi := first; bi < last; bi++ {
		g0 := int(binary.LittleEndian.Uint16(bag[4*bi:]))
		g1 := int(binary.LittleEndian.Uint16(bag[4*bi+4:]))
		if g0 > g1 || g1 > ngens+1 {
			return nil, fmt.Errorf("generator index %d..%d outside %d generators", g0, g1, ngens)
		}
		z := zone{keyHi: 127, velHi: 127, target: -1}
		if global != nil {
			z = *global
			z.target = -1
		}
		for gi := g0; gi < g1 && gi < ngens; gi++ {
			op := int(binary.LittleEndian.Uint16(gen[4*gi:]))
			amt := gen[4*gi+2 : 4*gi+4]
			switch {
			case op == genKeyRange:
				z.keyLo, z.keyHi = amt[0], amt[1]
			case op == genVelRange:
				z.velLo, z.velHi = amt[0], amt[1]
			case op == terminal:
				z.target = int(binary.LittleEndian.Uint16(amt))
			case op < genCount:
				z.gens[op] = int16(binary.LittleEndian.Uint16(amt))
				z.set[op] = true
			}
		}
		if z.target < 0 {
			if bi == first && global == nil {
				gz := z
				global = &gz
			}
			continue
		}
		if z.target >= targets {
			return nil, fmt.Errorf("zone points at %d, only %d exist", z.target, targets)
		}
		zones = append(zones, z)
	}
	return zones, nil
}

func parseInstruments(inst, ibag, igen []byte, nsamples int) ([]instrument, error) {
	const size = 22
	if len(inst)%size != 0 || len(inst) < 2*size {
		return nil, fmt.Errorf("inst chunk has %d bytes, not a multiple of %d", len(inst), size)
	}
	n := len(inst)/size - 1
	out := make([]instrument, n)
	for i := 0; i < n; i++ {
		r := inst[i*size:]
		first := int(binary.LittleEndian.Uint16(r[20:]))
		last := int(binary.LittleEndian.Uint16(r[size+20:]))
		zones, err := readZones(ibag, igen, first, last, genSampleID, nsamples)
		if err != nil {
			return nil, fmt.Errorf("instrument %q: %w", cstr(r[:20]), err)
		}
		out[i] = instrument{name: cstr(r[:20]), zones: zones}
	}
	return out, nil
}

func (sf *SoundFont) parsePresets(phdr, pbag, pgen []byte, insts []instrument) error {
	const size = 38
	if len(phdr)%size != 0 || len(phdr) < 2*size {
		return fmt.Errorf("phdr chunk has %d bytes, not a multiple of %d", len(phdr), size)
	}
	n := len(phdr)/size - 1
	for i := 0; i < n; i++ {
		r := phdr[i*size:]
		first := int(binary.LittleEndian.Uint16(r[24:]))
		last := int(binary.LittleEndian.Uint16(r[size+24:]))
		zones, err := readZones(pbag, pgen, first, last, genInstrument, len(insts))
		if err != nil {
			return fmt.Errorf("preset %q: %w", cstr(r[:20]), err)
		}
		sf.presets = append(sf.presets, preset{
			name:        cstr(r[:20]),
			program:     binary.LittleEndian.Uint16(r[20:]),
			bank:        binary.LittleEndian.Uint16(r[22:]),
			zones:       zones,
			instruments: insts,
		})
	}
	if len(sf.presets) == 0 {
		return errors.New("the soundfont has no presets")
	}
	return nil
}

// Preset returns the instrument for a GM program in bank 0 (0 = Acoustic Grand Piano),
// or the first preset when the bank lacks it.
func (sf *SoundFont) Preset(program int) Instrument {
	for i := range sf.presets {
		if p := &sf.presets[i]; p.bank == 0 && int(p.program) == program {
			return &sfInstrument{sf: sf, p: p}
		}
	}
	return &sfInstrument{sf: sf, p: &sf.presets[0]}
}

type sfInstrument struct {
	sf *SoundFont
	p  *preset
}

func (si *sfInstrument) Name() string {
	if si.sf.Name != "" {
		return si.sf.Name + ": " + si.p.name
	}
	return si.p.name
}

func inRange(k, lo, hi uint8) bool { return k >= lo && k <= hi }

// gen returns an instrument zone's generator value with the spec's default applied.
func (z *zone) gen(op int) int32 {
	if z.set[op] {
		return int32(z.gens[op])
	}
	return int32(genDefaults[op])
}

func (si *sfInstrument) NewVoice(key, velocity uint8, sampleRate int) Voice {
	if velocity == 0 || sampleRate <= 0 {
		return nil
	}
	var layers []*sfVoice
	for pi := range si.p.zones {
		pz := &si.p.zones[pi]
		if !inRange(key, pz.keyLo, pz.keyHi) || !inRange(velocity, pz.velLo, pz.velHi) {
			continue
		}
		inst := &si.p.instruments[pz.target]
		for ii := range inst.zones {
			iz := &inst.zones[ii]
			if !inRange(key, iz.keyLo, iz.keyHi) || !inRange(velocity, iz.velLo, iz.velHi) {
				continue
			}
			// Preset-level generators add to the instrument's (SoundFont 2.04, section 9.4).
			var g [genCount]int32
			for op := range g {
				g[op] = iz.gen(op)
				if pz.set[op] && !instrumentOnly[op] {
					g[op] += int32(pz.gens[op])
				}
			}
			if v := newSFVoice(si.sf, &si.sf.headers[iz.target], &g, key, velocity, sampleRate); v != nil {
				layers = append(layers, v)
			}
		}
	}
	switch len(layers) {
	case 0:
		return nil
	case 1:
		return layers[0]
	}
	return layered(layers)
}

type layered []*sfVoice

func (l layered) Render(out []float32) bool {
	alive := false
	for _, v := range l {
		if v.Render(out) {
			alive = true
		}
	}
	return alive
}

func (l layered) Release() {
	for _, v := range l {
		v.Release()
	}
}

// timecents converts the SoundFont time unit to seconds.
func timecents(tc int32) float64 {
	if tc <= -12000 {
		return 0
	}
	return math.Pow(2, float64(tc)/1200)
}
