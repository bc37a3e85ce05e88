package rolldoc

import (
	"errors"
	"fmt"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
	"latentstudio/studio/undo"
)

// Errors of the inpainting glue.
var (
	ErrEmptyMask     = errors.New("nothing to inpaint: paint a mask over the part the model should write")
	ErrMaskTooWide   = errors.New("the mask is wider than one inpainting window")
	ErrNoCandidate   = errors.New("no such candidate")
	ErrNotGenerated  = errors.New("nothing to re-mask: apply an inpainting candidate first")
	ErrBadCandidate  = errors.New("candidate notes are malformed")
	ErrWindowTooWide = errors.New("inpainting window too wide")
)

// ModelWindow is the width the inpainting model always accepts: 32 bars of 4/4.
const ModelWindow = 512

// generated remembers what the last applied candidate wrote, for Remask: the notes it added
// and the mask it filled (window cells in the protocol's layout).
type generated struct {
	ids         map[NoteID]bool
	from, steps int
	masked      []bool
}

// InpaintOptions are the request's knobs besides the window and the mask.
type InpaintOptions struct {
	Repaint    int     // RePaint U, 1..10 (0: server default); more gives busier music
	Candidates int     // K, 1..64 (0: 1)
	Percentile float64 // busy-ness of the pick, 0 sparsest .. 1 busiest
	Seed       uint64
	Sampler    string // "" = server default
	Sampling   int    // sampler steps, 0 = server default
}

// InpaintWindow picks the window of width steps (ModelWindow when 0) for the current mask:
// it holds every masked cell, starts on a bar and sits as early as it can while keeping the
// mask in its middle, so the model hears music on both sides.
func (d *Doc) InpaintWindow(width int) (from int, err error) {
	if width <= 0 {
		width = ModelWindow
	}
	d.lock()
	defer d.unlock()
	lo, hi, ok := d.maskBounds()
	if !ok {
		return 0, ErrEmptyMask
	}
	if hi-lo > width {
		return 0, fmt.Errorf("%w: the mask spans %d steps, a window %d; mask less, or inpaint in parts", ErrMaskTooWide, hi-lo, width)
	}
	from = max(0, lo-(width-(hi-lo))/2)
	from = d.barStart(d.barOf(from)) // round down to a bar; still holds lo
	if from+width < hi {             // rounding down can push the end off the mask
		from = lo
	}
	return from, nil
}

// InpaintRequest builds the roll.inpaint request for the window [from, from+steps): the notes
// touching the window and its mask. An empty mask is an error (ErrEmptyMask).
func (d *Doc) InpaintRequest(from, steps int, opts InpaintOptions) (protocol.RollInpaint, error) {
	if steps <= 0 || steps > protocol.RollMaxSteps {
		return protocol.RollInpaint{}, fmt.Errorf("%w: %d steps (1..%d)", ErrWindowTooWide, steps, protocol.RollMaxSteps)
	}
	if from < 0 {
		return protocol.RollInpaint{}, fmt.Errorf("%w: window starts at step %d", ErrBadValue, from)
	}
	d.lock()
	defer d.unlock()
	cells := d.maskWindow(from, steps)
	any := false
	for _, c := range cells {
		if c {
			any = true
			break
		}
	}
	if !any {
		return protocol.RollInpaint{}, ErrEmptyMask
	}
	ns := d.notesIn(from, from+steps)
	if len(ns) > protocol.RollMaxNotes {
		return protocol.RollInpaint{}, fmt.Errorf("%w: %d notes in the window, the model takes at most %d", ErrTooMany, len(ns), protocol.RollMaxNotes)
	}
	flat := make(protocol.RollNotes, 0, 4*len(ns))
	for _, n := range ns {
		flat = append(flat, int32(n.Start), int32(n.Dur), int32(n.Pitch), int32(n.Vel))
	}
	req := protocol.RollInpaint{
		Notes: flat, From: from, Steps: steps, Mask: protocol.EncodeMask(cells),
		Repaint: opts.Repaint, Candidates: opts.Candidates, Percentile: opts.Percentile,
		Seed: opts.Seed, Sampler: opts.Sampler, Sampling: opts.Sampling,
	}
	if err := req.Validate(); err != nil {
		return protocol.RollInpaint{}, err
	}
	return req, nil
}

func candidateNotes(res protocol.RollInpaintResult, i int) ([]pianoroll.Note, error) {
	if i < 0 || i >= len(res.Candidates) {
		return nil, fmt.Errorf("%w: %d of %d", ErrNoCandidate, i, len(res.Candidates))
	}
	if res.From < 0 || res.Steps <= 0 || res.From+res.Steps > MaxSteps {
		return nil, fmt.Errorf("%w: window %d+%d", ErrBadCandidate, res.From, res.Steps)
	}
	flat := res.Candidates[i].Notes
	if len(flat)%4 != 0 {
		return nil, fmt.Errorf("%w: %d numbers is not a list of quadruples", ErrBadCandidate, len(flat))
	}
	out := make([]pianoroll.Note, 0, len(flat)/4)
	for j := 0; j < len(flat); j += 4 {
		s, du, p, v := flat[j], flat[j+1], flat[j+2], flat[j+3]
		if s < 0 || du < 1 || int(s)+int(du) > MaxSteps || p < 0 || p > 127 || v < 1 || v > 127 {
			return nil, fmt.Errorf("%w: note (%d, %d, %d, %d)", ErrBadCandidate, s, du, p, v)
		}
		out = append(out, pianoroll.Note{Start: int(s), Dur: int(du), Pitch: uint8(p), Vel: uint8(v)})
	}
	return out, nil
}

// PreviewCandidate returns the whole song as it would be with candidate i spliced in, without
// changing the document (to audition the candidate strip).
func (d *Doc) PreviewCandidate(res protocol.RollInpaintResult, i int) ([]pianoroll.Note, error) {
	gen, err := candidateNotes(res, i)
	if err != nil {
		return nil, err
	}
	d.lock()
	defer d.unlock()
	return pianoroll.SpliceWindow(plain(d.notes), gen, res.From, res.Steps), nil
}

// genEdit swaps the record of what was generated.
type genEdit struct {
	d             *Doc
	before, after generated
}

func (e *genEdit) Do()           { e.d.gen = e.after; e.d.changed(false) }
func (e *genEdit) Undo()         { e.d.gen = e.before; e.d.changed(false) }
func (e *genEdit) Label() string { return "Generated notes" }

// Cost is about the bytes the step holds.
func (e *genEdit) Cost() int {
	return len(e.before.masked) + len(e.after.masked) + 16*(len(e.before.ids)+len(e.after.ids))
}

// ApplyCandidate splices candidate i of an inpainting result into the song with
// pianoroll.SpliceWindow, as one undo step. Notes the candidate holds unchanged keep their
// ids (and selection); the notes it added are recorded as generated, with the mask of the
// window at this moment, for Remask. To try another candidate, Undo and apply it.
func (d *Doc) ApplyCandidate(res protocol.RollInpaintResult, i int) error {
	gen, err := candidateNotes(res, i)
	if err != nil {
		return err
	}
	d.lock()
	defer d.unlock()
	spliced := pianoroll.SpliceWindow(plain(d.notes), gen, res.From, res.Steps)
	if len(spliced) > MaxNotes {
		return fmt.Errorf("%w: a song holds at most %d notes", ErrTooMany, MaxNotes)
	}
	if err := d.checkPlayingTime(pianoroll.NotesEnd(spliced), d.tempos); err != nil {
		return err
	}
	// match unchanged notes by value so they keep their ids
	have := map[pianoroll.Note][]NoteID{}
	for _, n := range d.notes {
		have[n.Note] = append(have[n.Note], n.ID)
	}
	e := &noteEdit{d: d, label: "Apply candidate"}
	newIDs := map[NoteID]bool{}
	for _, n := range spliced {
		if ids := have[n]; len(ids) > 0 {
			have[n] = ids[1:]
			continue
		}
		d.nextID++
		e.added = append(e.added, Note{Note: n, ID: d.nextID})
		newIDs[d.nextID] = true
	}
	for _, ids := range have {
		for _, id := range ids {
			e.removed = append(e.removed, d.byID[id])
		}
	}
	after := map[NoteID]bool{}
	for id := range d.sel {
		after[id] = true
	}
	for _, r := range e.removed {
		delete(after, r.ID)
	}
	if len(after) != len(d.sel) {
		e.selChange, e.selBefore, e.selAfter = true, setIDs(d.sel), setIDs(after)
	}
	g := &genEdit{d: d, before: d.gen, after: generated{
		ids: newIDs, from: res.From, steps: res.Steps, masked: d.maskWindow(res.From, res.Steps),
	}}
	d.do(&undo.Group{Name: fmt.Sprintf("Apply candidate %d", i+1), Commands: []undo.Command{e, g}})
	return nil
}

// Generated reports whether a note was written by the last applied candidate.
func (d *Doc) Generated(id NoteID) bool {
	d.lock()
	defer d.unlock()
	return d.gen.ids[id]
}

// Remask is "re-mask in one click": keep what the model wrote and let it fill the rest again.
// In the window of the last applied candidate the mask becomes the cells that were masked for
// it minus the cells now covered by its notes that are still in the song (wherever they were
// moved to). A generated note the musician deleted leaves its cells masked, so deleting a bad
// note and re-masking asks for something else there; cells the musician unmasked by hand since
// stay as they are only outside that window. One undo step.
func (d *Doc) Remask() error {
	d.lock()
	defer d.unlock()
	g := d.gen
	if len(g.ids) == 0 || g.steps == 0 {
		return ErrNotGenerated
	}
	want := append([]bool(nil), g.masked...)
	for id := range g.ids {
		n, ok := d.byID[id]
		if !ok {
			continue
		}
		for s := max(n.Start, g.from); s < min(n.End(), g.from+g.steps); s++ {
			want[int(n.Pitch)*g.steps+s-g.from] = false
		}
	}
	p := d.painter(false)
	acc := p.acc
	for c := 0; c < g.steps; c++ {
		s := g.from + c
		var w [2]uint64
		for pitch := 0; pitch < 128; pitch++ {
			if want[pitch*g.steps+c] {
				w[pitch/64] |= 1 << (pitch % 64)
			}
		}
		for k := 0; k < 2; k++ {
			i := int32(s*2 + k)
			cur := uint64(0)
			if int(i) < len(d.mask.words) {
				cur = d.mask.words[i]
			}
			if x := cur ^ w[k]; x != 0 {
				acc[i] = x
			}
		}
	}
	if len(acc) == 0 {
		return nil
	}
	d.commit(p, "Re-mask", "")
	return nil
}
