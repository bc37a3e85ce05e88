package rolldoc

import (
	"errors"
	"testing"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
)

func TestInpaintRequest(t *testing.T) {
	d := New()
	mustAdd(t, d, 0, 20, 48)  // sounds into the window
	mustAdd(t, d, 40, 4, 60)  // inside
	mustAdd(t, d, 100, 4, 60) // after
	if _, err := d.InpaintRequest(16, 64, InpaintOptions{}); !errors.Is(err, ErrEmptyMask) {
		t.Fatalf("empty mask: %v", err)
	}
	d.MaskBars(2, 3)
	req, err := d.InpaintRequest(16, 64, InpaintOptions{Repaint: 4, Candidates: 8, Percentile: .5, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(req.Notes) != 8 || req.Notes[0] != 0 || req.Notes[4] != 40 {
		t.Fatalf("notes touching the window: %v", req.Notes)
	}
	cells, _ := protocol.DecodeMask(req.Mask, 64)
	if !cells[0*64+16] || cells[0*64+15] || !cells[127*64+47] || cells[127*64+48] {
		t.Fatal("mask columns are steps 32..63 of the song, 16..47 of the window")
	}
	if req.Repaint != 4 || req.Candidates != 8 || req.Seed != 9 {
		t.Fatalf("options %+v", req)
	}
	if _, err := d.InpaintRequest(0, protocol.RollMaxSteps+1, InpaintOptions{}); !errors.Is(err, ErrWindowTooWide) {
		t.Fatal(err)
	}
	from, err := d.InpaintWindow(64)
	if err != nil || from != 16 { // mask 32..63 centred in 64 steps
		t.Fatalf("window %d %v", from, err)
	}
	if _, err := d.InpaintWindow(16); !errors.Is(err, ErrMaskTooWide) {
		t.Fatal(err)
	}
}

func TestApplyCandidateIsOneStepAndRemaskFreezesIt(t *testing.T) {
	d := New()
	keep := mustAdd(t, d, 0, 4, 60)  // outside the mask: kept with its id
	gone := mustAdd(t, d, 20, 2, 70) // under the mask: regenerated away
	d.Select(keep, gone)
	d.MaskBox(16, 60, 31, 80, false)
	req, err := d.InpaintRequest(0, 64, InpaintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := fakeModel(req)
	preview, err := d.PreviewCandidate(res, 0)
	if err != nil || len(preview) != 1+8 {
		t.Fatalf("preview: %v %v", len(preview), err)
	}
	if d.Len() != 2 {
		t.Fatal("preview changed the song")
	}
	before := snapshot(d)
	h := len(d.History())
	if err := d.ApplyCandidate(res, 0); err != nil {
		t.Fatal(err)
	}
	if len(d.History()) != h+1 || d.Len() != 9 {
		t.Fatalf("history %v, %d notes", d.History(), d.Len())
	}
	if _, ok := d.Note(keep); !ok || d.Generated(keep) {
		t.Fatal("the unmasked note lost its id or counts as generated")
	}
	if _, ok := d.Note(gone); ok {
		t.Fatal("the masked note survived")
	}
	var gen []Note
	for _, n := range d.Notes() {
		if d.Generated(n.ID) {
			gen = append(gen, n)
		}
	}
	if len(gen) != 8 || gen[0].Start != 16 || gen[0].Pitch != 60 {
		t.Fatalf("generated %v", gen)
	}
	if !d.Selected(keep) || d.Selected(gone) {
		t.Fatal("selection after apply")
	}
	roundTrip(t, d, before)

	// the musician deletes one generated note and moves another, then re-masks
	d.DeleteNotes([]NoteID{gen[1].ID})
	d.MoveNotes([]NoteID{gen[2].ID}, 0, 5)
	cellsBefore := d.MaskCount()
	if err := d.Remask(); err != nil {
		t.Fatal(err)
	}
	// frozen: the cells of the 7 generated notes still there (one step each), wherever they are
	if got := d.MaskCount(); got != cellsBefore-7 {
		t.Fatalf("re-mask: %d cells, was %d", got, cellsBefore)
	}
	if d.Masked(gen[0].Start, int(gen[0].Pitch)) || !d.Masked(gen[1].Start, int(gen[1].Pitch)) {
		t.Fatal("a kept generated note is not frozen, or a deleted one is")
	}
	if d.Masked(gen[2].Start, int(gen[2].Pitch)+5) || !d.Masked(gen[2].Start, int(gen[2].Pitch)) {
		t.Fatal("the moved note is frozen where it is now")
	}
	d.Undo()
	if d.MaskCount() != cellsBefore {
		t.Fatal("undo re-mask")
	}
	// a second inpaint over the re-masked cells keeps the frozen notes
	d.Redo()
	req2, err := d.InpaintRequest(0, 64, InpaintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ApplyCandidate(fakeModel(req2), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Note(gen[0].ID); !ok {
		t.Fatal("a frozen note was regenerated")
	}
}

func TestApplyCandidateErrors(t *testing.T) {
	d := New()
	if err := d.Remask(); !errors.Is(err, ErrNotGenerated) {
		t.Fatal(err)
	}
	res := protocol.RollInpaintResult{From: 0, Steps: 16, Candidates: []protocol.RollCandidate{{Notes: protocol.RollNotes{1, 2, 3}}}}
	if err := d.ApplyCandidate(res, 1); !errors.Is(err, ErrNoCandidate) {
		t.Fatal(err)
	}
	if err := d.ApplyCandidate(res, 0); !errors.Is(err, ErrBadCandidate) {
		t.Fatal(err)
	}
	res.Candidates[0].Notes = protocol.RollNotes{1, 2, 300, 4}
	if err := d.ApplyCandidate(res, 0); !errors.Is(err, ErrBadCandidate) {
		t.Fatal(err)
	}
	if d.Len() != 0 || d.CanUndo() {
		t.Fatal("a bad candidate changed the song")
	}
}

func TestApplyCandidateKeepsLongNotes(t *testing.T) {
	// a note that starts in the window and runs past its end keeps its length (SpliceWindow)
	d := New()
	long := mustAdd(t, d, 10, 40, 50)
	d.MaskBox(0, 90, 3, 90, false)
	req, _ := d.InpaintRequest(0, 16, InpaintOptions{})
	if err := d.ApplyCandidate(fakeModel(req), 0); err != nil {
		t.Fatal(err)
	}
	if nn, ok := d.Note(long); !ok || nn.Dur != 40 {
		t.Fatalf("long note: %+v %v; notes %v", nn, ok, d.Notes())
	}
	_ = pianoroll.Note{}
}
