package undo_test

import (
	"fmt"

	"latentstudio/studio/undo"
)

// rename is a command on a tiny document: a title.
type rename struct {
	title    *string
	from, to string
}

func (r *rename) Do()           { *r.title = r.to }
func (r *rename) Undo()         { *r.title = r.from }
func (r *rename) Label() string { return "Rename" }

// Typing merges into one step, so undo takes back the whole word.
func (r *rename) Merge(next undo.Command) bool {
	n, ok := next.(*rename)
	if ok {
		r.to = n.to
	}
	return ok
}

func Example() {
	title := "Untitled"
	var s undo.Stack
	for _, t := range []string{"S", "So", "Son", "Song"} {
		s.Do(&rename{&title, title, t})
	}
	s.Seal() // the person stopped typing
	s.Do(&rename{&title, title, "Song 2"})
	fmt.Println(title, s.Labels())
	s.Undo()
	fmt.Println(title)
	s.Undo()
	fmt.Println(title, s.CanUndo(), s.RedoLabel())
	// Output:
	// Song 2 [Rename Rename]
	// Song
	// Untitled false Rename
}
