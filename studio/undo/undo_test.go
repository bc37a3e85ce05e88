package undo

import (
	"fmt"
	"reflect"
	"testing"
)

// counter is a tiny document: a value changed by add commands.
type counter struct{ v int }

type add struct {
	c     *counter
	n     int
	merge bool // drags merge with the next add
}

func (a *add) Do()           { a.c.v += a.n }
func (a *add) Undo()         { a.c.v -= a.n }
func (a *add) Label() string { return fmt.Sprintf("add %d", a.n) }
func (a *add) Merge(next Command) bool {
	b, ok := next.(*add)
	if !ok || !a.merge || !b.merge {
		return false
	}
	a.n += b.n
	return true
}

func TestDoUndoRedo(t *testing.T) {
	c := &counter{}
	var s Stack
	if s.CanUndo() || s.CanRedo() || s.Undo() || s.Redo() {
		t.Fatal("empty stack claims steps")
	}
	s.Do(&add{c: c, n: 1})
	s.Do(&add{c: c, n: 10})
	s.Do(&add{c: c, n: 100})
	if c.v != 111 || s.Len() != 3 || s.UndoLabel() != "add 100" {
		t.Fatalf("after 3 do: v %d len %d label %q", c.v, s.Len(), s.UndoLabel())
	}
	s.Undo()
	if !s.Undo() || c.v != 1 {
		t.Fatalf("after 2 undo: %d", c.v)
	}
	if s.RedoLen() != 2 || s.RedoLabel() != "add 10" {
		t.Fatalf("redo %d %q", s.RedoLen(), s.RedoLabel())
	}
	if !s.Redo() || c.v != 11 {
		t.Fatalf("after redo: %d", c.v)
	}
	// a new command drops what was undone
	s.Do(&add{c: c, n: 5})
	if s.CanRedo() || c.v != 16 {
		t.Fatalf("new command kept redo: %v %d", s.CanRedo(), c.v)
	}
	if got := s.Labels(); !reflect.DeepEqual(got, []string{"add 1", "add 10", "add 5"}) {
		t.Fatalf("labels %v", got)
	}
	for s.Undo() {
	}
	if c.v != 0 {
		t.Fatalf("undo all: %d", c.v)
	}
	for s.Redo() {
	}
	if c.v != 16 {
		t.Fatalf("redo all: %d", c.v)
	}
}

func TestMergeIsOneStepUntilSealed(t *testing.T) {
	c := &counter{}
	var s Stack
	for range 10 { // one drag
		s.Do(&add{c: c, n: 1, merge: true})
	}
	if s.Len() != 1 || c.v != 10 {
		t.Fatalf("drag: %d steps, v %d", s.Len(), c.v)
	}
	s.Seal() // mouse up
	s.Do(&add{c: c, n: 1, merge: true})
	if s.Len() != 2 {
		t.Fatalf("sealed step merged: %d steps", s.Len())
	}
	s.Undo()
	s.Undo()
	if c.v != 0 {
		t.Fatalf("undo drags: %d", c.v)
	}
	// undo seals: a drag after an undo never merges into the step below it
	s.Redo()
	s.Do(&add{c: c, n: 2, merge: true})
	if s.Len() != 2 || c.v != 12 {
		t.Fatalf("after redo + drag: %d steps v %d", s.Len(), c.v)
	}
	// a command that does not merge starts a new step
	s.Do(&add{c: c, n: 3})
	if s.Len() != 3 {
		t.Fatalf("non-merging: %d", s.Len())
	}
}

func TestDepthLimit(t *testing.T) {
	c := &counter{}
	s := NewStack(3)
	for i := 1; i <= 5; i++ {
		s.Do(&add{c: c, n: i})
	}
	if s.Len() != 3 || s.Labels()[0] != "add 3" {
		t.Fatalf("kept %v", s.Labels())
	}
	for s.Undo() {
	}
	if c.v != 1+2 { // the two oldest steps can no longer be undone
		t.Fatalf("undo to the limit: %d", c.v)
	}
}

func TestGroupAndFuncAndClear(t *testing.T) {
	var log []string
	step := func(name string) Command {
		return Func{Name: name, DoFunc: func() { log = append(log, "do "+name) }, UndoFunc: func() { log = append(log, "undo "+name) }}
	}
	var s Stack
	s.Do(&Group{Name: "both", Commands: []Command{step("a"), step("b")}})
	s.Undo()
	want := []string{"do a", "do b", "undo b", "undo a"}
	if !reflect.DeepEqual(log, want) {
		t.Fatalf("group order %v", log)
	}
	s.Clear()
	if s.CanUndo() || s.CanRedo() {
		t.Fatal("clear kept steps")
	}
}

func TestOpenAndDrop(t *testing.T) {
	c := &counter{}
	var s Stack
	s.Do(&add{c: c, n: 1})
	s.Do(&add{c: c, n: 2})
	top, ok := s.Open()
	if !ok || top.Label() != "add 2" {
		t.Fatal("open")
	}
	top.Undo()
	s.Drop()
	s.Do(&add{c: c, n: 5}) // the replacement
	if c.v != 6 || s.Len() != 2 {
		t.Fatalf("v %d len %d", c.v, s.Len())
	}
	s.Seal()
	if _, ok := s.Open(); ok {
		t.Fatal("a sealed step is not open")
	}
	s.Undo()
	if _, ok := s.Open(); ok {
		t.Fatal("a step under an undo is not open")
	}
}

type heavy struct {
	add
	cost int
}

func (h *heavy) Cost() int { return h.cost }

func TestMaxCostDropsOldSteps(t *testing.T) {
	c := &counter{}
	s := Stack{MaxCost: 100}
	for i := 1; i <= 5; i++ {
		s.Do(&heavy{add{c: c, n: i}, 30})
	}
	if s.Len() != 3 { // 3 × 30 ≤ 100 < 4 × 30
		t.Fatalf("kept %d", s.Len())
	}
	s.Do(&heavy{add{c: c, n: 6}, 500}) // one step over the bound is still kept alone
	if s.Len() != 1 || s.UndoLabel() != "add 6" {
		t.Fatalf("kept %v", s.Labels())
	}
	s.Do(&Group{Name: "g", Commands: []Command{&heavy{add{c: c, n: 1}, 10}, &heavy{add{c: c, n: 1}, 10}}})
	if s.Len() != 1 || s.UndoLabel() != "g" {
		t.Fatalf("group cost: %v", s.Labels())
	}
}
