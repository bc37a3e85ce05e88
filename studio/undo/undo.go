// Package undo is a command-based undo/redo stack that any document can use: the piano roll
// now, the toon board and the latent session later. A document turns each mutation into a
// Command and runs it through a Stack; the Stack keeps what can be undone and redone.
package undo

// Command is one reversible change. Do applies it (again, on redo), Undo reverts it; both must
// leave the document exactly as it was before the other ran. Label names it for menus
// ("Undo Move notes").
type Command interface {
	Do()
	Undo()
	Label() string
}

// Merger is a Command that can absorb the command that follows it, so that a drag made of
// many small steps is undone in one. Merge is called on the newest command of the stack with
// the next one after next has been done; it returns true when it took next over (its Undo now
// reverts both).
type Merger interface {
	Merge(next Command) bool
}

// Coster is a Command that knows about how many bytes it holds, so a Stack with a MaxCost
// drops old steps before a long session's history fills the memory (a transpose of 10,000
// notes keeps both versions of each).
type Coster interface {
	Cost() int
}

// DefaultDepth is how many steps a Stack keeps unless told otherwise.
const DefaultDepth = 500

// Stack holds done and undone commands. The zero value is ready to use with DefaultDepth.
// A Stack is not safe for concurrent use: the document that owns it serializes calls.
type Stack struct {
	done   []Command // oldest first
	undone []Command // most recently undone last
	depth  int
	sealed bool // the newest command takes no merges (a gesture ended)

	// MaxCost bounds the summed Cost of the steps kept (0: no bound). The newest step is
	// always kept.
	MaxCost int
}

// NewStack returns a stack that keeps at most depth steps (≤ 0: DefaultDepth).
func NewStack(depth int) *Stack { return &Stack{depth: depth} }

func (s *Stack) limit() int {
	if s.depth <= 0 {
		return DefaultDepth
	}
	return s.depth
}

// Do runs c and records it. Whatever was undone can no longer be redone. When the newest
// command merges c, the two are one step.
func (s *Stack) Do(c Command) {
	c.Do()
	s.undone = nil
	if n := len(s.done); n > 0 && !s.sealed {
		if m, ok := s.done[n-1].(Merger); ok && m.Merge(c) {
			return
		}
	}
	s.sealed = false
	s.done = append(s.done, c)
	s.trim()
}

// trim drops the oldest steps over the depth and cost bounds.
func (s *Stack) trim() {
	over := len(s.done) - s.limit()
	if s.MaxCost > 0 {
		total := 0
		for i := len(s.done) - 1; i >= 0; i-- {
			total += costOf(s.done[i])
			if total > s.MaxCost && i < len(s.done)-1 {
				over = max(over, i+1)
				break
			}
		}
	}
	if over > 0 {
		// copy so the dropped commands can be collected
		s.done = append([]Command(nil), s.done[over:]...)
	}
}

func costOf(c Command) int {
	if k, ok := c.(Coster); ok {
		return k.Cost()
	}
	return 0
}

// Seal ends merging into the newest command: the next Do starts a new step. Call it when a
// gesture (a drag, a brush stroke) ends.
func (s *Stack) Seal() { s.sealed = true }

// Open returns the newest step while it still takes merges (no Seal, Undo or Redo since it
// was done), for a document that redoes a gesture from its start instead of merging.
func (s *Stack) Open() (Command, bool) {
	if n := len(s.done); n > 0 && !s.sealed {
		return s.done[n-1], true
	}
	return nil, false
}

// Drop forgets the newest step without undoing it: the document has reverted it itself and
// will Do its replacement (a drag recomputed from where it began).
func (s *Stack) Drop() {
	if n := len(s.done); n > 0 {
		s.done = s.done[:n-1]
	}
}

// Undo reverts the newest step; false when there is none.
func (s *Stack) Undo() bool {
	n := len(s.done)
	if n == 0 {
		return false
	}
	c := s.done[n-1]
	s.done = s.done[:n-1]
	c.Undo()
	s.undone = append(s.undone, c)
	s.sealed = true
	return true
}

// Redo runs the most recently undone step again; false when there is none.
func (s *Stack) Redo() bool {
	n := len(s.undone)
	if n == 0 {
		return false
	}
	c := s.undone[n-1]
	s.undone = s.undone[:n-1]
	c.Do()
	s.done = append(s.done, c)
	s.sealed = true
	return true
}

// CanUndo reports whether Undo has a step to revert.
func (s *Stack) CanUndo() bool { return len(s.done) > 0 }

// CanRedo reports whether Redo has a step to run again.
func (s *Stack) CanRedo() bool { return len(s.undone) > 0 }

// Len is the number of steps that can be undone.
func (s *Stack) Len() int { return len(s.done) }

// RedoLen is the number of steps that can be redone.
func (s *Stack) RedoLen() int { return len(s.undone) }

// Labels names the steps that can be undone, oldest first.
func (s *Stack) Labels() []string {
	out := make([]string, len(s.done))
	for i, c := range s.done {
		out[i] = c.Label()
	}
	return out
}

// UndoLabel names the step Undo would revert ("" when none).
func (s *Stack) UndoLabel() string {
	if n := len(s.done); n > 0 {
		return s.done[n-1].Label()
	}
	return ""
}

// RedoLabel names the step Redo would run ("" when none).
func (s *Stack) RedoLabel() string {
	if n := len(s.undone); n > 0 {
		return s.undone[n-1].Label()
	}
	return ""
}

// Clear forgets every step (a document replaced without undo, e.g. opened anew).
func (s *Stack) Clear() {
	s.done, s.undone, s.sealed = nil, nil, false
}

// Group is several commands done as one step, in order, and undone in reverse.
type Group struct {
	Name     string
	Commands []Command
}

// Do runs every command in order.
func (g *Group) Do() {
	for _, c := range g.Commands {
		c.Do()
	}
}

// Undo reverts every command in reverse order.
func (g *Group) Undo() {
	for i := len(g.Commands) - 1; i >= 0; i-- {
		g.Commands[i].Undo()
	}
}

// Label is the group's name.
func (g *Group) Label() string { return g.Name }

// Cost is the sum of the commands' costs.
func (g *Group) Cost() int {
	n := 0
	for _, c := range g.Commands {
		n += costOf(c)
	}
	return n
}

// Func is a Command made of two closures, for changes too small to deserve a type.
type Func struct {
	Name     string
	DoFunc   func()
	UndoFunc func()
}

// Do calls DoFunc.
func (f Func) Do() { f.DoFunc() }

// Undo calls UndoFunc.
func (f Func) Undo() { f.UndoFunc() }

// Label is the name.
func (f Func) Label() string { return f.Name }
