// Package corpus builds the music training corpus: random songs rendered by mma plus the MIDI
// shipped in Debian's freedoom, openttd-openmsx, planetblupi-music-midi and mma packages,
// merged to piano notes, split by piece into train and validation safetensors files.
package corpus

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"latentstudio/studio/pianoroll"
)

// Debian paths of the shipped MIDI sources.
var (
	FreedoomWADs = []string{"/usr/share/games/doom/freedoom1.wad", "/usr/share/games/doom/freedoom2.wad"}
	MIDIGlobs    = map[string][]string{
		"openmsx":     {"/usr/share/games/openttd/baseset/openmsx/*.mid"},
		"planetblupi": {"/usr/share/planetblupi/music/*.mid"},
		"mma-examples": {"/usr/share/doc/mma/examples/*/*.mid", "/usr/share/doc/mma/examples/*.mid",
			"/usr/share/mma/lib/*/*.mid"},
	}
	// Licenses of the sources, from each Debian package's copyright file (for assets/MODELS.md).
	Licenses = map[string]string{
		"mma":          "GPL-2+ (Debian mma: rendered from its groove library)",
		"mma-examples": "GPL-2+ (Debian mma)",
		"freedoom":     "BSD-3-Clause-style freedoom licence (Debian freedoom)",
		"openmsx":      "GPL-2.0 (Debian openttd-openmsx)",
		"planetblupi":  "GPL-3+ (Debian planetblupi-music-midi)",
	}
	// Packages the corpus reads, for error messages and the task that installs them.
	Packages = []string{"mma", "freedoom", "openttd-openmsx", "planetblupi-music-midi"}
)

// Config says what to build.
type Config struct {
	Out         string // folder for train.safetensors and valid.safetensors
	Songs       int    // mma songs to render
	Seed        uint64 // seeds the song choices; the same seed builds the same corpus
	Workers     int    // parallel mma processes
	ValidPct    int    // percent of pieces (by name hash) in validation
	MMA         string // mma binary
	MMALib      string
	SkipShipped bool // mma songs only (tests)
	Log         func(format string, args ...any)
}

// SourceCount tallies one source.
type SourceCount struct {
	Pieces  int            `json:"pieces"`
	Skipped int            `json:"skipped"`
	Seconds float64        `json:"seconds"`
	Reasons map[string]int `json:"skip_reasons,omitempty"` // why pieces were skipped
}

// Report is what a build made.
type Report struct {
	Sources      map[string]*SourceCount
	Train, Valid Stats
	Elapsed      time.Duration
}

// Stats describes a set of pieces.
type Stats struct {
	Pieces, Notes int
	Steps         int
	Hours         float64 // through each piece's tempo map
	DistinctBars  int     // distinct 16-step bar contents (pitch, start and end within the bar)
}

// InValid says whether a piece belongs to validation: a stable hash of its name, so that a
// piece stays on its side however the corpus grows.
func InValid(name string, pct int) bool {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int(h.Sum64()%100) < pct
}

// Measure computes Stats.
func Measure(ps []Piece) Stats {
	var s Stats
	bars := map[uint64]struct{}{}
	for _, p := range ps {
		s.Pieces++
		s.Notes += len(p.Notes)
		s.Steps += p.Steps
		s.Hours += p.Seconds / 3600
		for _, h := range BarHashes(p.Notes, p.Steps) {
			bars[h] = struct{}{}
		}
	}
	s.DistinctBars = len(bars)
	return s
}

// BarHashes hashes the content of each 16-step bar of a piece: for every note that sounds in
// the bar, its pitch, its first and last step inside the bar and whether it starts there.
// Velocity is left out: the same notes played louder are the same bar.
func BarHashes(notes []pianoroll.Note, steps int) []uint64 {
	nb := (steps + pianoroll.StepsPerBar - 1) / pianoroll.StepsPerBar
	hs := make([]*fnvState, nb)
	for _, n := range notes {
		for b := n.Start / pianoroll.StepsPerBar; b < nb && b*pianoroll.StepsPerBar < n.End(); b++ {
			lo := max(n.Start-b*pianoroll.StepsPerBar, 0)
			hi := min(n.End()-b*pianoroll.StepsPerBar, pianoroll.StepsPerBar)
			onset := byte(0)
			if n.Start >= b*pianoroll.StepsPerBar {
				onset = 1
			}
			if hs[b] == nil {
				hs[b] = newFNV()
			}
			hs[b].add(n.Pitch, byte(lo), byte(hi), onset)
		}
	}
	out := make([]uint64, 0, nb)
	for _, h := range hs {
		if h != nil { // empty bars are not counted as content
			out = append(out, h.sum())
		}
	}
	return out
}

// fnvState hashes a bar's notes; notes arrive sorted by start then pitch, so equal bars hash
// equally.
type fnvState struct{ h uint64 }

func newFNV() *fnvState { return &fnvState{14695981039346656037} }
func (f *fnvState) add(bs ...byte) {
	for _, b := range bs {
		f.h ^= uint64(b)
		f.h *= 1099511628211
	}
}
func (f *fnvState) sum() uint64 { return f.h }

// Build renders and gathers every source and writes the two files.
func Build(ctx context.Context, cfg Config) (*Report, error) {
	t0 := time.Now()
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.MMA == "" {
		cfg.MMA = "mma"
	}
	if cfg.MMALib == "" {
		cfg.MMALib = MMALib
	}
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rep := &Report{Sources: map[string]*SourceCount{}}
	count := func(src string) *SourceCount {
		if rep.Sources[src] == nil {
			rep.Sources[src] = &SourceCount{Reasons: map[string]int{}}
		}
		return rep.Sources[src]
	}
	var pieces []Piece
	add := func(src, name string, data []byte) {
		c := count(src)
		song, err := pianoroll.Parse(data)
		if err != nil {
			c.Skipped++
			c.Reasons[reason(err)]++
			return
		}
		p := NewPiece(src+"/"+name, song)
		c.Pieces++
		c.Seconds += p.Seconds
		pieces = append(pieces, p)
	}

	if !cfg.SkipShipped {
		for _, wad := range FreedoomWADs {
			lumps, err := WADMusic(wad)
			if err != nil {
				return nil, fmt.Errorf("%w (install the Debian package freedoom)", err)
			}
			for _, l := range lumps {
				if IsMUS(l.Data) {
					count("freedoom").Skipped++
					count("freedoom").Reasons["MUS format"]++
					continue
				}
				add("freedoom", strings.TrimSuffix(filepath.Base(wad), ".wad")+"/"+l.Name, l.Data)
			}
		}
		srcs := make([]string, 0, len(MIDIGlobs))
		for s := range MIDIGlobs {
			srcs = append(srcs, s)
		}
		sort.Strings(srcs)
		for _, src := range srcs {
			var files []string
			for _, g := range MIDIGlobs[src] {
				m, _ := filepath.Glob(g)
				files = append(files, m...)
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("no MIDI for %s under %v: install the Debian packages %s", src, MIDIGlobs[src], strings.Join(Packages, " "))
			}
			sort.Strings(files)
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return nil, err
				}
				rel := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
				if src == "mma-examples" {
					rel = filepath.Base(filepath.Dir(f)) + "/" + rel
				}
				add(src, rel, data)
			}
		}
		logf("shipped MIDI: %d pieces", len(pieces))
	}

	if cfg.Songs > 0 {
		rendered, err := RenderMMA(ctx, cfg, logf)
		if err != nil {
			return nil, err
		}
		for _, r := range rendered {
			if r.err != nil {
				c := count("mma")
				c.Skipped++
				c.Reasons[reason(r.err)]++
				continue
			}
			add("mma", r.name, r.midi)
		}
	}

	sortPieces(pieces)
	var train, valid []Piece
	for _, p := range pieces {
		if InValid(p.Name, cfg.ValidPct) {
			valid = append(valid, p)
		} else {
			train = append(train, p)
		}
	}
	if len(train) == 0 || len(valid) == 0 {
		return nil, fmt.Errorf("corpus split left %d train and %d valid pieces: render more songs", len(train), len(valid))
	}
	srcJSON, err := json.Marshal(rep.Sources)
	if err != nil {
		return nil, err
	}
	licJSON, err := json.Marshal(Licenses)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{"source": "latentstudio studio/pianoroll/corpus", "seed": fmt.Sprint(cfg.Seed),
		"mma_songs": fmt.Sprint(cfg.Songs), "sources": string(srcJSON), "licenses": string(licJSON)}
	for _, f := range []struct {
		name string
		ps   []Piece
	}{{"train.safetensors", train}, {"valid.safetensors", valid}} {
		if err := WriteSafetensors(filepath.Join(cfg.Out, f.name), f.ps, meta); err != nil {
			return nil, err
		}
	}
	rep.Train, rep.Valid = Measure(train), Measure(valid)
	rep.Elapsed = time.Since(t0)
	return rep, nil
}

// reason names an error's kind for the skip tally.
func reason(err error) string {
	for _, e := range []error{pianoroll.ErrNoNotes, pianoroll.ErrTooLong, pianoroll.ErrTruncated, pianoroll.ErrNotMIDI, pianoroll.ErrCorrupt, pianoroll.ErrTooLarge} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "mma failed"
	}
	return err.Error()
}

type rendered struct {
	name string
	midi []byte
	err  error
}

// RenderMMA writes cfg.Songs random songs and renders them with mma, cfg.Workers at a time.
func RenderMMA(ctx context.Context, cfg Config, logf func(string, ...any)) ([]rendered, error) {
	if _, err := exec.LookPath(cfg.MMA); err != nil {
		return nil, fmt.Errorf("mma not found: install the Debian package mma (%w)", err)
	}
	grooves, err := Grooves(cfg.MMALib)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mma-corpus")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// songs are drawn up front from one seeded stream, so the corpus does not depend on
	// which worker ran first
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d6d61))
	type job struct {
		i          int
		name, text string
	}
	jobs := make([]job, cfg.Songs)
	for i := range jobs {
		name, text, err := MMASong(rng, grooves)
		if err != nil {
			return nil, err
		}
		jobs[i] = job{i, fmt.Sprintf("%05d-%s", i, strings.TrimPrefix(name, "mma/")), text}
	}
	out := make([]rendered, len(jobs))
	ch := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				data, err := renderOne(ctx, cfg.MMA, dir, j.i, j.text)
				out[j.i] = rendered{j.name, data, err}
				mu.Lock()
				done++
				if done%200 == 0 {
					logf("mma: %d/%d songs", done, len(jobs))
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	return out, ctx.Err()
}

func renderOne(ctx context.Context, mma, dir string, i int, text string) ([]byte, error) {
	src := filepath.Join(dir, fmt.Sprintf("s%05d.mma", i))
	mid := filepath.Join(dir, fmt.Sprintf("s%05d.mid", i))
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(src)
	defer os.Remove(mid)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mma, "-f", mid, src)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("mma song %d: %w: %s", i, err, lastLine(stderr.String()))
	}
	return os.ReadFile(mid)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Lump is a named entry of a WAD.
type Lump struct {
	Name string
	Data []byte
}

// WADMusic reads the music lumps (names D_*) of a Doom WAD: a 12-byte header ("IWAD" or
// "PWAD", entry count, directory offset) and a directory of 16-byte entries (offset, size,
// 8-byte name).
func WADMusic(path string) ([]Lump, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseWADMusic(data)
}

// ParseWADMusic is WADMusic on bytes.
func ParseWADMusic(data []byte) ([]Lump, error) {
	if len(data) < 12 || (string(data[:4]) != "IWAD" && string(data[:4]) != "PWAD") {
		return nil, errors.New("not a WAD file")
	}
	n := int64(int32(binary.LittleEndian.Uint32(data[4:])))
	dir := int64(int32(binary.LittleEndian.Uint32(data[8:])))
	if n < 0 || dir < 0 || dir+16*n > int64(len(data)) {
		return nil, fmt.Errorf("WAD directory (%d entries at %d) past the end of %d bytes", n, dir, len(data))
	}
	var out []Lump
	for i := int64(0); i < n; i++ {
		e := data[dir+16*i:]
		off := int64(int32(binary.LittleEndian.Uint32(e)))
		size := int64(int32(binary.LittleEndian.Uint32(e[4:])))
		name := string(bytes.TrimRight(e[8:16], "\x00"))
		if !strings.HasPrefix(name, "D_") {
			continue
		}
		if off < 0 || size < 0 || off+size > int64(len(data)) {
			return nil, fmt.Errorf("WAD lump %s past the end", name)
		}
		out = append(out, Lump{name, data[off : off+size]})
	}
	return out, nil
}

// IsMUS says whether a lump is in Doom's MUS format rather than MIDI.
func IsMUS(b []byte) bool { return len(b) >= 4 && string(b[:4]) == "MUS\x1a" }
