package ui

import (
	"time"
)

// Context is the immediate-mode UI state: each tick the shell calls Begin
// with a fresh Input, surfaces and widgets ask it about the pointer and keys
// and append to its Painter, and End closes the frame. It tracks which widget
// is under the pointer (hot), which one holds a drag (active: it gets the
// pointer until the button is released, even outside its rectangle), and which
// one has keyboard focus.
type Context struct {
	Theme     *Theme
	Paint     *Painter
	Shortcuts *Shortcuts

	in, prev Input
	held     map[Key]int // ticks each key has been held
	consumed map[Key]bool
	tick     int

	hot, active, focus string
	pressX, pressY     float64 // where the active drag began
	focusOrder         []string
	tabbed             int // +1/-1 when Tab/Shift-Tab moved focus this tick

	// Overlays (open menus, modals) claim the pointer: rectangles recorded
	// last frame block every widget not drawn in the overlay layer.
	overlays, nextOverlays []Rect
	inOverlay              bool
	modalPrev, modalNow    string // a modal open last tick or this one blocks the rest

	// Screen is the whole window in logical pixels (set by the shell each tick).
	Screen Rect

	picks   map[string]int // menu picks made in the overlay layer, reported next tick
	popupAt map[string]Rect
	toasts  []toast
	now     func() time.Time
	after   []func() // drawn last (menus, toasts, sheets)
}

// NewContext starts a UI with a theme and a painter.
func NewContext(theme *Theme, paint *Painter) *Context {
	return &Context{
		Theme: theme, Paint: paint, Shortcuts: &Shortcuts{},
		held: map[Key]int{}, consumed: map[Key]bool{}, picks: map[string]int{}, popupAt: map[string]Rect{}, now: time.Now,
	}
}

// Begin starts a tick with the given input.
func (c *Context) Begin(in Input) {
	c.prev, c.in = c.in, in
	c.tick++
	seen := map[Key]bool{}
	for _, k := range in.Keys {
		c.held[k]++
		seen[k] = true
	}
	for k := range c.held {
		if !seen[k] {
			delete(c.held, k)
		}
	}
	clear(c.consumed)
	c.overlays, c.nextOverlays = c.nextOverlays, c.overlays[:0]
	c.hot = ""
	c.modalPrev, c.modalNow = c.modalNow, ""
	if !c.Down(MouseLeft) && !c.Released(MouseLeft) && !c.Down(MouseRight) && !c.Released(MouseRight) {
		c.active = ""
	}
	// Tab moves focus through the widgets that registered last frame.
	c.tabbed = 0
	if c.KeyPressed(KeyTab) && len(c.focusOrder) > 0 {
		c.consumed[KeyTab] = true
		i := -1
		for j, id := range c.focusOrder {
			if id == c.focus {
				i = j
			}
		}
		if c.in.Mods()&Shift != 0 {
			i--
			if i < 0 {
				i = len(c.focusOrder) - 1
			}
		} else {
			i = (i + 1) % len(c.focusOrder)
		}
		c.focus = c.focusOrder[i]
	}
	if c.KeyPressed(KeyEscape) && c.focus != "" {
		c.focus = ""
		c.consumed[KeyEscape] = true
	}
	c.focusOrder = c.focusOrder[:0]
}

// End finishes the tick: overlays, toasts and sheets are drawn on top.
func (c *Context) End() {
	for len(c.after) > 0 {
		f := c.after[0]
		c.after = c.after[1:]
		c.inOverlay = true
		f()
		c.inOverlay = false
	}
	c.drawToasts()
}

// Input is this tick's raw input.
func (c *Context) Input() *Input { return &c.in }

// Tick counts Begin calls.
func (c *Context) Tick() int { return c.tick }

// Mouse is the pointer position.
func (c *Context) Mouse() (x, y float64) { return c.in.X, c.in.Y }

// MouseDelta is how far the pointer moved since the last tick.
func (c *Context) MouseDelta() (dx, dy float64) { return c.in.X - c.prev.X, c.in.Y - c.prev.Y }

// Down reports whether the button is held.
func (c *Context) Down(b MouseButton) bool { return c.in.Buttons[b] }

// Pressed reports whether the button went down this tick.
func (c *Context) Pressed(b MouseButton) bool { return c.in.Buttons[b] && !c.prev.Buttons[b] }

// Released reports whether the button went up this tick.
func (c *Context) Released(b MouseButton) bool { return !c.in.Buttons[b] && c.prev.Buttons[b] }

// Wheel is this tick's scroll.
func (c *Context) Wheel() (dx, dy float64) { return c.in.WheelX, c.in.WheelY }

// Mods are the held modifiers.
func (c *Context) Mods() Mods { return c.in.Mods() }

// KeyPressed reports whether k went down this tick (and nobody consumed it).
func (c *Context) KeyPressed(k Key) bool { return c.held[k] == 1 && !c.consumed[k] }

// KeyRepeat is KeyPressed plus auto-repeat while held (after ~0.4 s, 15 Hz).
func (c *Context) KeyRepeat(k Key) bool {
	n := c.held[k]
	return !c.consumed[k] && (n == 1 || (n >= 24 && (n-24)%4 == 0))
}

// Consume marks k as handled so that shortcuts do not also fire.
func (c *Context) Consume(k Key) { c.consumed[k] = true }

// Typed returns the characters typed this tick.
func (c *Context) Typed() []rune { return c.in.Chars }

// Hot is the widget under the pointer this tick ("" if none yet).
func (c *Context) Hot() string { return c.hot }

// Active is the widget holding the pointer ("" if none).
func (c *Context) Active() string { return c.active }

// Focus is the widget with keyboard focus ("" if none).
func (c *Context) Focus() string { return c.focus }

// SetFocus gives keyboard focus to id ("" clears it).
func (c *Context) SetFocus(id string) { c.focus = id }

// PressPos is where the active drag began.
func (c *Context) PressPos() (x, y float64) { return c.pressX, c.pressY }

// Blocked reports whether an overlay covers the pointer for widgets outside it.
func (c *Context) Blocked() bool {
	if c.inOverlay {
		return false
	}
	if c.modalPrev != "" || c.modalNow != "" {
		return true
	}
	for _, r := range c.overlays {
		if r.Contains(c.in.X, c.in.Y) {
			return true
		}
	}
	return false
}

// Overlay registers r as covering the widgets below it from the next tick on.
func (c *Context) Overlay(r Rect) { c.nextOverlays = append(c.nextOverlays, r) }

// Later runs f at End, in the overlay layer (drawn above everything, first to
// get the pointer next tick).
func (c *Context) Later(f func()) { c.after = append(c.after, f) }

// Interaction is what a widget or surface learns about the pointer in a tick.
type Interaction struct {
	Hover    bool // pointer over it, nothing else holding the pointer
	Pressed  bool // a button went down over it: it now holds the pointer
	Down     bool // it holds the pointer and the button is down
	Released bool // the button went up while it held the pointer
	Clicked  bool // released over it
	Right    bool // the press is a right-button one
	X, Y     float64
}

// Interact does the hit testing and drag capture for a region with id.
// Regions interacted with later in a tick are treated as being on top.
func (c *Context) Interact(id string, r Rect) Interaction {
	it := Interaction{X: c.in.X, Y: c.in.Y}
	over := r.Contains(c.in.X, c.in.Y) && !c.Blocked()
	if over && (c.active == "" || c.active == id) {
		it.Hover = true
		c.hot = id
	}
	if c.active == "" && over {
		for _, b := range []MouseButton{MouseLeft, MouseRight} {
			if c.Pressed(b) {
				c.active = id
				c.pressX, c.pressY = c.in.X, c.in.Y
				it.Pressed, it.Right = true, b == MouseRight
				if c.focus != id && !c.inOverlay {
					c.focus = "" // a click elsewhere ends editing (menus live in the overlay)
				}
			}
		}
	}
	if c.active == id {
		it.Right = c.Down(MouseRight) || c.Released(MouseRight)
		it.Down = c.Down(MouseLeft) || c.Down(MouseRight)
		it.Released = c.Released(MouseLeft) || c.Released(MouseRight)
		it.Clicked = it.Released && over
	}
	return it
}

// Focusable registers id in the Tab order and reports whether it has focus.
func (c *Context) Focusable(id string) bool {
	c.focusOrder = append(c.focusOrder, id)
	return c.focus == id
}
