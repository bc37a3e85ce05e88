package corpus

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"latentstudio/studio/pianoroll"
)

func TestChordSpelling(t *testing.T) {
	cases := []struct {
		tok   string
		root  int
		minor bool
		want  string
	}{
		{"I", 0, false, "C"},
		{"vi", 7, false, "Em"},
		{"V7", 0, true, "G7"},
		{"bVII", 0, false, "Bb"},
		{"ii7b5", 9, true, "Bm7b5"},
		{"III", 9, true, "C"},
		{"VI7", 2, true, "Bb7"},
		{"IM7", 5, false, "FM7"},
		{"iv", 0, false, "Fm"},
		{"i6", 4, true, "Em6"},
	}
	for _, c := range cases {
		got, err := chord(c.tok, c.root, c.minor)
		if err != nil || got != c.want {
			t.Errorf("chord(%q, %d, minor=%v) = %q, %v; want %q", c.tok, c.root, c.minor, got, err, c.want)
		}
	}
	if _, err := chord("X7", 0, false); err == nil {
		t.Error("bad token accepted")
	}
	for _, p := range progressions {
		if _, err := realize(p, 3); err != nil {
			t.Errorf("progression %q: %v", p.bars, err)
		}
	}
}

func TestMMASong(t *testing.T) {
	grooves := []string{"Swing", "SwingIntro", "SwingEnd", "SwingFill", "SwingSus", "8Beat", "BossaNova"}
	a1, t1, err := MMASong(rand.New(rand.NewPCG(7, 7)), grooves)
	if err != nil {
		t.Fatal(err)
	}
	a2, t2, _ := MMASong(rand.New(rand.NewPCG(7, 7)), grooves)
	if a1 != a2 || t1 != t2 {
		t.Fatal("the same seed wrote different songs")
	}
	melodies := 0
	seen := map[string]int{}
	for i := 0; i < 50; i++ {
		_, text, err := MMASong(rand.New(rand.NewPCG(uint64(i), 1)), grooves)
		if err != nil {
			t.Fatal(err)
		}
		for _, must := range []string{"RndSeed ", "Tempo ", "Groove ", "AllTracks Bass Chord Arpeggio Scale Walk Plectrum Voice Piano1"} {
			if !strings.Contains(text, must) {
				t.Fatalf("song lacks %q:\n%s", must, text)
			}
		}
		if strings.Contains(text, "Begin Aria") {
			melodies++
			for _, must := range []string{"RTime", "RVolume", "RSkip", "Voice Piano1"} {
				if !strings.Contains(text, must) {
					t.Fatalf("aria lacks %s", must)
				}
			}
		}
		bars := 0
		for _, l := range strings.Split(text, "\n") {
			var n int
			if _, err := fmt.Sscanf(l, "%d ", &n); err == nil {
				bars++
				if n != bars {
					t.Fatalf("bar %d numbered %d", bars, n)
				}
			}
		}
		if bars < 34 || bars > 98 {
			t.Fatalf("%d bars", bars)
		}
		// the groove plan: never an intro/ending/fill as the body, a fill lasts one bar
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			g, ok := strings.CutPrefix(l, "Groove ")
			if !ok {
				continue
			}
			seen[g]++
			if g == "SwingFill" {
				rest := strings.Join(lines[i+1:], "\n")
				next := strings.Index(rest, "Groove ")
				if next < 0 || strings.Count(rest[:next], "\n") > 6+5 { // AllTracks lines + one bar
					t.Fatalf("fill not followed by a groove within a bar:\n%s", rest)
				}
			}
			if !strings.HasPrefix(lines[i+1], "AllTracks Bass Chord Arpeggio Scale Walk Plectrum Voice Piano1") {
				t.Fatalf("groove change without the piano voicing after it")
			}
		}
	}
	for _, g := range []string{"SwingIntro", "SwingEnd", "SwingFill", "Swing", "8Beat"} {
		if seen[g] == 0 {
			t.Errorf("no song used %s: %v", g, seen)
		}
	}
	if melodies < 25 || melodies == 50 {
		t.Fatalf("%d of 50 songs have a melody; want most, not all", melodies)
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	pieces := []Piece{
		{Name: "a", Notes: []pianoroll.Note{nt(0, 4, 60, 100), nt(2, 1, 64, 1)}, Steps: 16},
		{Name: "b\"quoted\"", Notes: nil, Steps: 3},
		{Name: "c", Notes: []pianoroll.Note{nt(5, 300, 127, 127)}, Steps: 305},
	}
	path := filepath.Join(t.TempDir(), "x", "train.safetensors")
	if err := WriteSafetensors(path, pieces, map[string]string{"seed": "9"}); err != nil {
		t.Fatal(err)
	}
	got, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta["steps_per_beat"] != "4" || meta["seed"] != "9" {
		t.Fatalf("metadata %v", meta)
	}
	for i := range pieces {
		if got[i].Name != pieces[i].Name || got[i].Steps != pieces[i].Steps || len(got[i].Notes) != len(pieces[i].Notes) ||
			(len(got[i].Notes) > 0 && !reflect.DeepEqual(got[i].Notes, pieces[i].Notes)) {
			t.Fatalf("piece %d: got %+v want %+v", i, got[i], pieces[i])
		}
	}
	// the layout other readers rely on: u64 header length, JSON, notes then pieces, little endian
	raw, _ := os.ReadFile(path)
	hl := binary.LittleEndian.Uint64(raw)
	if hl%8 != 0 {
		t.Fatalf("header length %d not padded to 8", hl)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+hl], &h); err != nil {
		t.Fatal(err)
	}
	var notes, ps tensorInfo
	json.Unmarshal(h["notes"], &notes)
	json.Unmarshal(h["pieces"], &ps)
	if notes.Dtype != "I32" || !reflect.DeepEqual(notes.Shape, []int64{3, 4}) || ps.Dtype != "I64" || !reflect.DeepEqual(ps.Shape, []int64{3, 3}) {
		t.Fatalf("tensors %+v %+v", notes, ps)
	}
	body := raw[8+hl:]
	// third note row = (5, 300, 127, 127); third piece row = (2, 1, 305)
	if v := binary.LittleEndian.Uint32(body[notes.Offsets[0]+2*16+4:]); v != 300 {
		t.Fatalf("note row 2 duration %d", v)
	}
	if v := binary.LittleEndian.Uint64(body[ps.Offsets[0]+2*24:]); v != 2 {
		t.Fatalf("piece 2 first row %d", v)
	}
	if v := binary.LittleEndian.Uint64(body[ps.Offsets[0]+2*24+16:]); v != 305 {
		t.Fatalf("piece 2 length %d", v)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestSplit(t *testing.T) {
	valid := 0
	for i := 0; i < 20000; i++ {
		if InValid(fmt.Sprintf("mma/%05d-song", i), 5) {
			valid++
		}
	}
	if valid < 800 || valid > 1200 {
		t.Fatalf("%d of 20000 in validation, want ~1000", valid)
	}
	if InValid("x", 0) || !InValid("x", 100) {
		t.Fatal("0% and 100% splits wrong")
	}
	// pinned: FNV-1a of the name mod 100 is 61, so a piece changes sides only if the hash
	// changes (which would leak validation pieces into training between corpus versions)
	if InValid("freedoom/freedoom1/D_E1M1", 61) || !InValid("freedoom/freedoom1/D_E1M1", 62) {
		t.Fatal("split hash changed")
	}
}

func TestBarHashes(t *testing.T) {
	bar := []pianoroll.Note{nt(0, 4, 60, 100), nt(4, 4, 64, 90), nt(8, 8, 67, 80)}
	var notes []pianoroll.Note
	for b := 0; b < 3; b++ {
		for _, n := range bar {
			n.Start += 16 * b
			if b == 2 {
				n.Vel = 30 // louder or softer is the same bar
			}
			notes = append(notes, n)
		}
	}
	notes = append(notes, pianoroll.Note{Start: 56, Dur: 16, Pitch: 72, Vel: 50}) // bar 3, held into bar 4
	notes = pianoroll.Normalize(notes)
	hs := BarHashes(notes, 96) // bar 5 empty
	if len(hs) != 5 {
		t.Fatalf("%d hashes, want 5 (empty bars not counted)", len(hs))
	}
	if hs[0] != hs[1] || hs[0] != hs[2] {
		t.Fatal("equal bars hash differently")
	}
	if hs[3] == hs[0] || hs[4] == hs[0] || hs[3] == hs[4] {
		t.Fatal("different bars hash equally")
	}
	st := Measure([]Piece{{Notes: notes, Steps: 96, Seconds: 7200}})
	if st.DistinctBars != 3 || st.Hours != 2 || st.Notes != len(notes) {
		t.Fatalf("stats %+v", st)
	}
}

func TestParseWADMusic(t *testing.T) {
	lumps := []Lump{{"MAP01", []byte("xx")}, {"D_RUNNIN", []byte("MThd....")}, {"D_E1M1", []byte("MUS\x1a....")}}
	var data []byte
	data = append(data, "IWAD"...)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(lumps)))
	data = binary.LittleEndian.AppendUint32(data, 0) // directory offset, set below
	var offs []int
	for _, l := range lumps {
		offs = append(offs, len(data))
		data = append(data, l.Data...)
	}
	binary.LittleEndian.PutUint32(data[8:], uint32(len(data)))
	for i, l := range lumps {
		data = binary.LittleEndian.AppendUint32(data, uint32(offs[i]))
		data = binary.LittleEndian.AppendUint32(data, uint32(len(l.Data)))
		var name [8]byte
		copy(name[:], l.Name)
		data = append(data, name[:]...)
	}
	got, err := ParseWADMusic(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "D_RUNNIN" || string(got[0].Data) != "MThd...." || !IsMUS(got[1].Data) || IsMUS(got[0].Data) {
		t.Fatalf("lumps %+v", got)
	}
	if _, err := ParseWADMusic(data[:len(data)-5]); err == nil {
		t.Fatal("cut directory accepted")
	}
	if _, err := ParseWADMusic([]byte("PK\x03\x04 not a wad")); err == nil {
		t.Fatal("zip accepted as WAD")
	}
}

// Renders a few songs with the real mma (Debian package); skipped where it is not installed.
func TestBuildWithMMA(t *testing.T) {
	if testing.Short() {
		t.Skip("renders with mma")
	}
	if _, err := exec.LookPath("mma"); err != nil {
		t.Skip("mma not installed (apt-get install mma)")
	}
	if _, err := os.Stat(filepath.Join(MMALib, "stdlib")); err != nil {
		t.Skip("mma groove library missing")
	}
	out := t.TempDir()
	rep, err := Build(context.Background(), Config{Out: out, Songs: 6, Seed: 3, Workers: 2, ValidPct: 30, SkipShipped: true})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Sources["mma"]
	if c.Pieces+c.Skipped != 6 || c.Pieces < 4 {
		t.Fatalf("mma source %+v", c)
	}
	if rep.Train.Pieces+rep.Valid.Pieces != c.Pieces || rep.Train.Hours <= 0 || rep.Train.DistinctBars == 0 {
		t.Fatalf("report %+v", rep)
	}
	for _, f := range []string{"train", "valid"} {
		ps, meta, err := ReadSafetensors(filepath.Join(out, f+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		var srcs map[string]SourceCount
		if err := json.Unmarshal([]byte(meta["sources"]), &srcs); err != nil || srcs["mma"].Pieces != c.Pieces || meta["licenses"] == "" {
			t.Fatalf("metadata sources %q licenses %q: %v", meta["sources"], meta["licenses"], err)
		}
		for _, p := range ps {
			if !strings.HasPrefix(p.Name, "mma/") || InValid(p.Name, 30) != (f == "valid") {
				t.Fatalf("%s holds %s", f, p.Name)
			}
			for i, n := range p.Notes {
				if n.End() > p.Steps || n.Vel < 1 || n.Vel > 127 || (i > 0 && n.Start < p.Notes[i-1].Start) {
					t.Fatalf("%s note %d %+v (steps %d)", p.Name, i, n, p.Steps)
				}
			}
			// mma songs are 33-97 bars of 4/4
			if p.Steps < 20*16 || p.Steps > 100*16 {
				t.Fatalf("%s: %d steps", p.Name, p.Steps)
			}
		}
	}
}

func nt(start, dur, pitch, vel int) pianoroll.Note {
	return pianoroll.Note{Start: start, Dur: dur, Pitch: uint8(pitch), Vel: uint8(vel)}
}

// Every shipped MIDI file that reads also survives a write and a second read unchanged
// (skipped where the Debian packages are not installed).
func TestShippedMIDIRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("reads every shipped MIDI file")
	}
	var files []string
	for _, globs := range MIDIGlobs {
		for _, g := range globs {
			m, _ := filepath.Glob(g)
			files = append(files, m...)
		}
	}
	if len(files) == 0 {
		t.Skip("no shipped MIDI (apt-get install mma openttd-openmsx planetblupi-music-midi)")
	}
	blobs := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blobs[f] = data
	}
	for _, wad := range FreedoomWADs {
		lumps, err := WADMusic(wad)
		if err != nil {
			continue
		}
		for _, l := range lumps {
			blobs[wad+"/"+l.Name] = l.Data
		}
	}
	read := 0
	for f, data := range blobs {
		song, err := pianoroll.Parse(data)
		if err != nil {
			continue // counted as skipped by the corpus
		}
		read++
		var buf bytes.Buffer
		if err := pianoroll.Write(&buf, song); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		again, err := pianoroll.Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: reading our own file: %v", f, err)
		}
		if !reflect.DeepEqual(again.Notes, song.Notes) || again.Steps != song.Steps || !reflect.DeepEqual(again.Tempos, song.Tempos) {
			t.Fatalf("%s: changed through write and read", f)
		}
	}
	if read < len(blobs)*9/10 {
		t.Fatalf("only %d of %d shipped files read", read, len(blobs))
	}
}
