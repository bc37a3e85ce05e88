package corpus

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/safefile"
)

// Piece is one piece of music in the corpus.
type Piece struct {
	Name    string
	Notes   []pianoroll.Note // normalized, sorted by start
	Steps   int              // length in steps
	Seconds float64          // playing time through the piece's tempo map
}

// NewPiece takes a song read from MIDI.
func NewPiece(name string, s *pianoroll.Song) Piece {
	return Piece{Name: name, Notes: s.Notes, Steps: s.Steps, Seconds: s.Seconds(s.Steps)}
}

type tensorInfo struct {
	Dtype   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets [2]int  `json:"data_offsets"`
}

// WriteSafetensors writes pieces in the corpus format of TEAM.md: notes int32 [N,4] =
// (start, duration, pitch, velocity) sorted by piece then start; pieces int64 [P,3] = (first
// note row, note count, length in steps); __metadata__ with "names" (a JSON list) and
// "steps_per_beat" plus extra. The file is written to a temp name and renamed into place.
func WriteSafetensors(path string, pieces []Piece, extra map[string]string) error {
	var notes []byte
	rows := make([]byte, 0, 24*len(pieces))
	names := make([]string, len(pieces))
	n := 0
	for i, p := range pieces {
		names[i] = p.Name
		rows = binary.LittleEndian.AppendUint64(rows, uint64(n))
		rows = binary.LittleEndian.AppendUint64(rows, uint64(len(p.Notes)))
		rows = binary.LittleEndian.AppendUint64(rows, uint64(p.Steps))
		for _, x := range p.Notes {
			for _, v := range [4]int{x.Start, x.Dur, int(x.Pitch), int(x.Vel)} {
				notes = binary.LittleEndian.AppendUint32(notes, uint32(int32(v)))
			}
		}
		n += len(p.Notes)
	}
	nameJSON, err := json.Marshal(names)
	if err != nil {
		return err
	}
	meta := map[string]string{"names": string(nameJSON), "steps_per_beat": strconv.Itoa(pianoroll.StepsPerBeat)}
	for k, v := range extra {
		meta[k] = v
	}
	header := map[string]any{
		"__metadata__": meta,
		"notes":        tensorInfo{"I32", []int64{int64(n), 4}, [2]int{0, len(notes)}},
		"pieces":       tensorInfo{"I64", []int64{int64(len(pieces)), 3}, [2]int{len(notes), len(notes) + len(rows)}},
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	return safefile.WriteFunc(path, func(w io.Writer) error {
		for _, b := range [][]byte{buf, hj, notes, rows} {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReadSafetensors reads a corpus file back (Seconds is not stored and stays 0).
func ReadSafetensors(path string) ([]Piece, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("%s: not a safetensors file", path)
	}
	hl := binary.LittleEndian.Uint64(data)
	if hl > uint64(len(data)-8) {
		return nil, nil, fmt.Errorf("%s: header length %d past the end", path, hl)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+hl], &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", path, err)
	}
	body := data[8+hl:]
	var meta map[string]string
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, nil, fmt.Errorf("%s: metadata: %w", path, err)
		}
	}
	get := func(name, dtype string, cols int64) ([]byte, int64, error) {
		var ti tensorInfo
		if err := json.Unmarshal(raw[name], &ti); err != nil {
			return nil, 0, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		size := int64(4)
		if dtype == "I64" {
			size = 8
		}
		if ti.Dtype != dtype || len(ti.Shape) != 2 || ti.Shape[1] != cols || ti.Offsets[0] < 0 || ti.Offsets[1] > len(body) ||
			int64(ti.Offsets[1]-ti.Offsets[0]) != ti.Shape[0]*cols*size {
			return nil, 0, fmt.Errorf("%s: tensor %s is not %s [N,%d]", path, name, dtype, cols)
		}
		return body[ti.Offsets[0]:ti.Offsets[1]], ti.Shape[0], nil
	}
	nb, _, err := get("notes", "I32", 4)
	if err != nil {
		return nil, nil, err
	}
	pb, np, err := get("pieces", "I64", 3)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	if err := json.Unmarshal([]byte(meta["names"]), &names); err != nil || len(names) != int(np) {
		return nil, nil, fmt.Errorf("%s: metadata names do not match %d pieces", path, np)
	}
	i32 := func(i int) int { return int(int32(binary.LittleEndian.Uint32(nb[4*i:]))) }
	pieces := make([]Piece, np)
	for i := range pieces {
		first := int(binary.LittleEndian.Uint64(pb[24*i:]))
		count := int(binary.LittleEndian.Uint64(pb[24*i+8:]))
		steps := int(binary.LittleEndian.Uint64(pb[24*i+16:]))
		if first < 0 || count < 0 || (first+count)*16 > len(nb) {
			return nil, nil, fmt.Errorf("%s: piece %d rows %d+%d out of range", path, i, first, count)
		}
		p := Piece{Name: names[i], Steps: steps, Notes: make([]pianoroll.Note, count)}
		for k := range p.Notes {
			r := 4 * (first + k)
			p.Notes[k] = pianoroll.Note{Start: i32(r), Dur: i32(r + 1), Pitch: uint8(i32(r + 2)), Vel: uint8(i32(r + 3))}
		}
		pieces[i] = p
	}
	return pieces, meta, nil
}

// sortPieces orders pieces by name so that a build is deterministic whatever order the
// workers finished in.
func sortPieces(ps []Piece) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
}
