package rolldoc_test

import (
	"fmt"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/rolldoc"
)

func Example() {
	d := rolldoc.New()
	id, _ := d.AddNote(pianoroll.Note{Start: 0, Dur: 4, Pitch: 60, Vel: 100})
	// a drag: many small moves, one undo step once the mouse is released
	for range 8 {
		d.MoveNotes([]rolldoc.NoteID{id}, 1, 0)
	}
	d.EndGesture()
	d.Transpose(nil, 12)
	n, _ := d.Note(id)
	fmt.Println(n.Start, n.Pitch, d.History())
	d.Undo()
	d.Undo()
	n, _ = d.Note(id)
	fmt.Println(n.Start, n.Pitch, d.UndoLabel())
	// Output:
	// 8 72 [Add note Move notes Transpose +12]
	// 0 60 Add note
}

func ExampleDoc_InpaintRequest() {
	d := rolldoc.New()
	d.AddNotes([]pianoroll.Note{{Start: 0, Dur: 16, Pitch: 48, Vel: 90}, {Start: 64, Dur: 16, Pitch: 50, Vel: 90}})
	d.MaskBars(1, 2) // let the model write bars 2 and 3
	from, _ := d.InpaintWindow(rolldoc.ModelWindow)
	req, err := d.InpaintRequest(from, rolldoc.ModelWindow, rolldoc.InpaintOptions{Repaint: 4, Candidates: 8, Percentile: 0.5})
	fmt.Println(req, err)
	// Send req as a roll.inpaint job (sync.Session.Inpaint), then d.ApplyCandidate(result, result.Pick).
	// Output:
	// roll.inpaint steps 0+512, 2 notes, U=4, K=8
}
