package protocol

import (
	"encoding/base64"
	"fmt"
)

// KindRollInpaint is the piano-roll inpainting job: params RollInpaint, done data
// RollInpaintResult. It is a job (queued, with progress and cancel), not live work.
const KindRollInpaint = "roll.inpaint"

// Piano-roll limits shared by the editor and the server.
const (
	RollPitches     = 128
	RollMaxSteps    = 4096 // widest inpainting window (256 bars of 4/4)
	RollMaxNotes    = 4096 // notes sent with one request
	RollMaxCands    = 64
	RollMaxRepaint  = 10
	RollMaxSampling = 200
)

// RollNotes is a list of notes flattened to (start, duration, pitch, velocity) quadruples, so
// a dense window stays well under MaxParams: steps are 16th notes from the song's start.
type RollNotes []int32

// RollInpaint asks the model to fill the masked cells of a window of the song.
type RollInpaint struct {
	Notes RollNotes `json:"notes"` // the song's notes that touch [from, from+steps); others are ignored
	From  int       `json:"from"`  // first step of the window in the song
	Steps int       `json:"steps"` // window width in steps; the model's grid may require a multiple of 16
	// Mask is EncodeMask of 128×steps cells, row = pitch, column = step - from; 1 = generate.
	Mask       string  `json:"mask"`
	Repaint    int     `json:"repaint"`    // RePaint U, 1..10 (0: server default)
	Candidates int     `json:"candidates"` // K, 1..64 (0: 1)
	Percentile float64 `json:"percentile"` // busy-ness, 0 sparsest .. 1 busiest, of the K ranked by notes in the mask
	Seed       uint64  `json:"seed"`
	Sampler    string  `json:"sampler,omitempty"`        // euler | dpm++2m | dpm++2m-sde (default)
	Sampling   int     `json:"sampling_steps,omitempty"` // sampler steps before RePaint (default 30)
}

// RollCandidate is one inpainted window.
type RollCandidate struct {
	Notes       RollNotes `json:"notes"`         // every note of the window after inpainting (splice with pianoroll.SpliceWindow)
	NotesInMask int       `json:"notes_in_mask"` // onsets the model put inside the mask
	Seed        int       `json:"seed"`          // the candidate's noise stream, to reproduce it alone
}

// RollInpaintResult is the done data of roll.inpaint: candidates ranked sparsest first and
// the one the percentile picked.
type RollInpaintResult struct {
	From       int             `json:"from"`
	Steps      int             `json:"steps"`
	Candidates []RollCandidate `json:"candidates"`
	Pick       int             `json:"pick"`
	Backend    string          `json:"backend"` // engine that ran it, e.g. "cuda" or "cpu"
	Note       string          `json:"note,omitempty"`
}

// Validate checks the request's ranges and the mask's size.
func (r RollInpaint) Validate() error {
	switch {
	case r.Steps <= 0 || r.Steps > RollMaxSteps:
		return Errorf(BadInput, "roll.inpaint: steps %d outside 1..%d", r.Steps, RollMaxSteps)
	case r.From < 0:
		return Errorf(BadInput, "roll.inpaint: negative from")
	case len(r.Notes)%4 != 0:
		return Errorf(BadInput, "roll.inpaint: notes must be (start, duration, pitch, velocity) quadruples")
	case len(r.Notes)/4 > RollMaxNotes:
		return Errorf(TooLarge, "roll.inpaint: %d notes, at most %d", len(r.Notes)/4, RollMaxNotes)
	case r.Repaint < 0 || r.Repaint > RollMaxRepaint:
		return Errorf(BadInput, "roll.inpaint: repaint %d outside 1..%d", r.Repaint, RollMaxRepaint)
	case r.Candidates < 0 || r.Candidates > RollMaxCands:
		return Errorf(BadInput, "roll.inpaint: candidates %d outside 1..%d", r.Candidates, RollMaxCands)
	case r.Percentile < 0 || r.Percentile > 1:
		return Errorf(BadInput, "roll.inpaint: percentile %g outside 0..1", r.Percentile)
	case r.Sampling < 0 || r.Sampling > RollMaxSampling:
		return Errorf(BadInput, "roll.inpaint: sampling_steps %d outside 1..%d", r.Sampling, RollMaxSampling)
	}
	for i := 0; i < len(r.Notes); i += 4 {
		s, d, p, v := r.Notes[i], r.Notes[i+1], r.Notes[i+2], r.Notes[i+3]
		if s < 0 || d < 1 || p < 0 || p > 127 || v < 1 || v > 127 {
			return Errorf(BadInput, "roll.inpaint: note %d (%d, %d, %d, %d) out of range", i/4, s, d, p, v)
		}
	}
	if _, err := DecodeMask(r.Mask, r.Steps); err != nil {
		return err
	}
	return nil
}

// EncodeMask packs 128×steps cells (row-major, row = pitch; true = generate) into bits,
// least significant bit first, and base64 (std, padded).
func EncodeMask(cells []bool) string {
	b := make([]byte, (len(cells)+7)/8)
	for i, c := range cells {
		if c {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeMask is EncodeMask's inverse for a window of steps columns.
func DecodeMask(s string, steps int) ([]bool, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, Errorf(BadInput, "roll.inpaint: mask is not base64: %v", err)
	}
	n := RollPitches * steps
	if len(b) != (n+7)/8 {
		return nil, Errorf(BadInput, "roll.inpaint: mask holds %d bytes, a 128×%d mask needs %d", len(b), steps, (n+7)/8)
	}
	cells := make([]bool, n)
	for i := range cells {
		cells[i] = b[i/8]&(1<<(i%8)) != 0
	}
	return cells, nil
}

// String describes a request in a log line.
func (r RollInpaint) String() string {
	return fmt.Sprintf("roll.inpaint steps %d+%d, %d notes, U=%d, K=%d", r.From, r.Steps, len(r.Notes)/4, r.Repaint, r.Candidates)
}
