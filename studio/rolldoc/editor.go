package rolldoc

import (
	"encoding/binary"
	"fmt"
)

// EditorState is what the editor keeps with a project besides its song: the mask and the loop
// region. The MIDI file has no place for them, so the session keeps them on this device, and a
// reload finds the mask as it was painted.
type EditorState struct {
	Mask []byte `json:"mask,omitempty"` // 16 bytes per step: pitches 0..63 then 64..127, little-endian bits
	Loop Loop   `json:"loop"`
}

// EditorState returns the mask and loop region.
func (d *Doc) EditorState() EditorState {
	d.lock()
	defer d.unlock()
	n := d.mask.end()
	b := make([]byte, 16*n)
	for i, w := range d.mask.words[:2*n] {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return EditorState{Mask: b, Loop: d.loop}
}

// RestoreEditorState puts a saved mask and loop region back into a document just opened (one
// with no undo history: undo steps of the mask are changes of the mask they were made on). It
// is not an undo step. A state that does not fit is refused and changes nothing.
func (d *Doc) RestoreEditorState(e EditorState) error {
	if len(e.Mask)%16 != 0 || len(e.Mask)/16 > MaxSteps {
		return fmt.Errorf("%w: editor state mask of %d bytes", ErrBadValue, len(e.Mask))
	}
	if e.Loop.From < 0 || e.Loop.To > MaxSteps || e.Loop.To != 0 && e.Loop.To <= e.Loop.From {
		return fmt.Errorf("%w: loop %d..%d", ErrBadValue, e.Loop.From, e.Loop.To)
	}
	words := make([]uint64, len(e.Mask)/8)
	for i := range words {
		words[i] = binary.LittleEndian.Uint64(e.Mask[8*i:])
	}
	d.lock()
	defer d.unlock()
	if d.stack.CanUndo() || d.stack.CanRedo() {
		return fmt.Errorf("%w: the editor state is restored only into a document just opened", ErrBadValue)
	}
	d.mask.words, d.loop = words, e.Loop
	d.changed(false)
	return nil
}
