package rolldoc

import (
	"testing"

	"latentstudio/studio/pianoroll"
)

func TestSmoke(t *testing.T) {
	d := New()
	id, err := d.AddNote(pianoroll.Note{Start: 0, Dur: 4, Pitch: 60, Vel: 90})
	if err != nil {
		t.Fatal(err)
	}
	d.MoveNotes([]NoteID{id}, 2, 1)
	d.MoveNotes([]NoteID{id}, 2, 1)
	if n, _ := d.Note(id); n.Start != 4 || n.Pitch != 62 || len(d.History()) != 2 {
		t.Fatal(n, d.History())
	}
	b, err := d.MIDI()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := FromMIDI(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(d2.Notes(), d2.Length(), d2.Tempos(), d2.Meter())
	d.MaskBox(0, 0, 15, 127, false)
	req, err := d.InpaintRequest(0, 512, InpaintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(req.String())
	d.Undo()
	d.Undo()
	d.Undo()
	if d.Len() != 0 || d.MaskCount() != 0 {
		t.Fatal("undo")
	}
}
