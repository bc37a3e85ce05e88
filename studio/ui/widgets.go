package ui

import (
	"fmt"
	"image/color"
	"math"
)

// Panel fills a background region.
func (c *Context) Panel(r Rect) { c.Paint.Rect(r, c.Theme.Panel) }

// Separator draws a 1-pixel vertical divider in a toolbar.
func (c *Context) Separator(r Rect) {
	c.Paint.FillRect(r.X+r.W/2, r.Y+r.H*0.2, 1, r.H*0.6, c.Theme.Border)
}

// Label draws text vertically centred in r.
func (c *Context) Label(r Rect, s string, col color.RGBA, align Align) {
	size := c.Theme.FontSize
	x := r.X
	switch align {
	case AlignCenter:
		x = r.X + r.W/2
	case AlignRight:
		x = r.Right()
	}
	c.Paint.Text(x, r.Y+(r.H-size*1.3)/2, s, size, col, align)
}

// Button is a push button; it returns true when clicked (or activated with
// Enter/Space while focused).
func (c *Context) Button(id string, r Rect, label string) bool {
	return c.button(id, r, label, false, true)
}

// ToolButton is a button that shows a selected state (tool palettes,
// segmented controls).
func (c *Context) ToolButton(id string, r Rect, label string, selected bool) bool {
	return c.button(id, r, label, selected, true)
}

// IconButton is a button with a drawn symbol before its label.
func (c *Context) IconButton(id string, r Rect, icon Icon, label string, selected bool) bool {
	clicked := c.button(id, r, "", selected, true)
	fg := c.Theme.Text
	if selected {
		fg = c.Theme.AccentText
	}
	if label == "" {
		c.Paint.Icon(r, icon, fg)
		return clicked
	}
	size := c.Theme.FontSize
	tw := c.Paint.TextWidth(label, -size)
	x := r.X + (r.W-tw-20)/2
	c.Paint.Icon(Rect{x, r.Y, 14, r.H}, icon, fg)
	c.Paint.Text(x+20, r.Y+(r.H-size*1.3)/2, label, -size, fg, AlignLeft)
	return clicked
}

// DisabledButton draws a button that cannot be pressed.
func (c *Context) DisabledButton(r Rect, label string) {
	t := c.Theme
	c.Paint.Rect(r, t.Panel)
	c.Paint.Stroke(r, 1, t.Border)
	c.Paint.Text(r.X+r.W/2, r.Y+(r.H-t.FontSize*1.3)/2, label, t.FontSize, t.TextDim, AlignCenter)
}

func (c *Context) button(id string, r Rect, label string, selected, enabled bool) bool {
	t := c.Theme
	it := c.Interact(id, r)
	focused := c.Focusable(id)
	bg, fg := t.PanelHi, t.Text
	switch {
	case selected:
		bg, fg = t.Accent, t.AccentText
	case it.Down && it.Hover:
		bg = mix(t.PanelHi, t.Accent, 0.35)
	case it.Hover:
		bg = mix(t.PanelHi, t.Text, 0.08)
	}
	c.Paint.Rect(r, bg)
	if focused {
		c.Paint.Stroke(r, 1.5, t.Accent)
	}
	c.Paint.Text(r.X+r.W/2, r.Y+(r.H-t.FontSize*1.3)/2, label, -t.FontSize, fg, AlignCenter)
	if focused && (c.KeyPressed(KeyEnter) || c.KeyPressed(KeySpace)) {
		c.Consume(KeyEnter)
		c.Consume(KeySpace)
		return true
	}
	return enabled && it.Clicked && !it.Right
}

// Toggle is a switch with a label; it flips *v when clicked and returns true
// when it did.
func (c *Context) Toggle(id string, r Rect, label string, v *bool) bool {
	t := c.Theme
	it := c.Interact(id, r)
	focused := c.Focusable(id)
	sw := Rect{r.X, r.Y + (r.H-16)/2, 28, 16}
	bg := t.Field
	if *v {
		bg = t.Accent
	}
	c.Paint.Rect(sw, bg)
	c.Paint.Stroke(sw, 1, t.Border)
	knob := Rect{sw.X + 2, sw.Y + 2, 12, 12}
	if *v {
		knob.X = sw.Right() - 14
	}
	c.Paint.Rect(knob, t.Text)
	if focused {
		c.Paint.Stroke(sw.Inset(-2), 1, t.Accent)
	}
	fg := t.TextDim
	if it.Hover {
		fg = t.Text
	}
	c.Label(Rect{sw.Right() + 6, r.Y, r.W - sw.W - 6, r.H}, label, fg, AlignLeft)
	if (it.Clicked && !it.Right) || (focused && c.KeyPressed(KeySpace)) {
		c.Consume(KeySpace)
		*v = !*v
		return true
	}
	return false
}

// Slider edits *v in [lo, hi] with the given step (0: continuous): drag it,
// scroll over it, or use the arrow keys when focused. format renders the
// value next to the label ("%.0f"). It returns true when *v changed.
func (c *Context) Slider(id string, r Rect, label string, v *float64, lo, hi, step float64, format string) bool {
	t := c.Theme
	it := c.Interact(id, r)
	focused := c.Focusable(id)
	if it.Pressed {
		c.focus = id
	}
	old := *v
	track := Rect{r.X, r.Bottom() - 8, r.W, 4}
	if it.Down && !it.Right {
		f := clamp((c.in.X-track.X)/track.W, 0, 1)
		*v = lo + f*(hi-lo)
	}
	if it.Hover && c.in.WheelY != 0 {
		s := step
		if s == 0 {
			s = (hi - lo) / 100
		}
		*v += math.Copysign(s, c.in.WheelY)
	}
	if focused {
		s := step
		if s == 0 {
			s = (hi - lo) / 100
		}
		if c.KeyRepeat(KeyArrowRight) || c.KeyRepeat(KeyArrowUp) {
			*v += s
		}
		if c.KeyRepeat(KeyArrowLeft) || c.KeyRepeat(KeyArrowDown) {
			*v -= s
		}
		for _, k := range []Key{KeyArrowRight, KeyArrowUp, KeyArrowLeft, KeyArrowDown} {
			c.Consume(k)
		}
	}
	if step > 0 {
		*v = lo + math.Round((*v-lo)/step)*step
	}
	*v = clamp(*v, lo, hi)

	f := (*v - lo) / (hi - lo)
	c.Paint.Rect(track, t.Field)
	c.Paint.Rect(Rect{track.X, track.Y, track.W * f, track.H}, t.Accent)
	knob := Rect{track.X + track.W*f - 5, track.Y - 4, 10, 12}
	kc := t.Text
	if it.Hover || it.Down {
		kc = t.AccentText
	}
	c.Paint.Rect(knob, kc)
	if focused {
		c.Paint.Stroke(knob.Inset(-2), 1, t.Accent)
	}
	top := Rect{r.X, r.Y, r.W, r.H - 12}
	c.Label(top, label, t.TextDim, AlignLeft)
	c.Label(top, fmt.Sprintf(format, *v), t.Text, AlignRight)
	return *v != old
}

// Dropdown shows options[*sel]; clicking opens a list above everything else.
// It returns true when the selection changed.
func (c *Context) Dropdown(id string, r Rect, options []string, sel *int) bool {
	cur := ""
	if *sel >= 0 && *sel < len(options) {
		cur = options[*sel]
	}
	items := make([]MenuItem, len(options))
	for i, o := range options {
		items[i] = MenuItem{Label: o, Checked: i == *sel}
	}
	i := c.Menu(id, r, cur+"   ", items)
	c.Paint.Icon(Rect{r.Right() - 22, r.Y, 16, r.H}, IconDown, c.Theme.TextDim)
	if i >= 0 && i != *sel {
		*sel = i
		return true
	}
	return false
}

// MenuItem is one entry of a menu; Hint shows on the right (a shortcut).
type MenuItem struct {
	Label, Hint string
	Checked     bool
	Disabled    bool
}

// Menu is a button that opens a list of items; it returns the index picked
// this tick, or -1.
func (c *Context) Menu(id string, r Rect, label string, items []MenuItem) int {
	picked := c.takePick(id)
	open := c.focus == id+"#open"
	if c.button(id, r, label, open, true) {
		if open {
			c.focus = ""
		} else {
			c.focus = id + "#open"
		}
	}
	if c.focus == id+"#open" {
		c.menuList(id, r, ui0(r), items)
	}
	return picked
}

func ui0(r Rect) Rect { return Rect{r.X, r.Bottom() + 2, r.W, 0} }

// OpenPopup opens the context menu id at a point (a right-click).
func (c *Context) OpenPopup(id string, x, y float64) {
	c.popupAt[id] = Rect{x, y, 0, 0}
	c.focus = id + "#open"
}

// Popup draws the context menu id when it is open and returns the index
// picked (reported the tick after the click), or -1.
func (c *Context) Popup(id string, items []MenuItem) int {
	picked := c.takePick(id)
	if c.focus == id+"#open" {
		at := c.popupAt[id]
		c.menuList(id, Rect{}, at, items)
	}
	return picked
}

func (c *Context) takePick(id string) int {
	if p, ok := c.picks[id]; ok { // picked in last tick's overlay layer
		delete(c.picks, id)
		return p
	}
	return -1
}

// menuList draws an open menu's items below anchor (minimum width anchor.W)
// in the overlay layer; owner is the button that opened it (a click on it is
// not "outside").
func (c *Context) menuList(id string, owner, anchor Rect, items []MenuItem) {
	t := c.Theme
	w := math.Max(anchor.W, 160)
	for _, it := range items {
		w = math.Max(w, c.Paint.TextWidth(it.Label, t.FontSize)+c.Paint.TextWidth(it.Hint, t.FontSize)+56)
	}
	const rowH = 26
	list := Rect{anchor.X, anchor.Y, w, float64(len(items))*rowH + 8}
	// Keep the list on screen.
	if !c.Screen.Empty() {
		list.X = math.Min(list.X, c.Screen.Right()-list.W-4)
		if list.Bottom() > c.Screen.Bottom() {
			list.Y = math.Max(c.Screen.Y, list.Y-list.H)
		}
	}
	c.Overlay(list)
	c.Later(func() {
		c.Paint.Rect(Rect{list.X + 3, list.Y + 4, list.W, list.H}, t.Shadow)
		c.Paint.Rect(list, t.Panel)
		c.Paint.Stroke(list, 1, t.Border)
		for i, m := range items {
			row := Rect{list.X + 4, list.Y + 4 + float64(i)*rowH, list.W - 8, rowH}
			it := c.Interact(fmt.Sprintf("%s#%d", id, i), row)
			fg := t.Text
			if m.Disabled {
				fg = t.TextDim
			} else if it.Hover {
				c.Paint.Rect(row, t.Accent)
				fg = t.AccentText
			}
			if m.Checked {
				c.Paint.Rect(Rect{row.X + 8, row.Y + rowH/2 - 3, 6, 6}, fg)
			}
			c.Label(Rect{row.X + 22, row.Y, row.W - 30, row.H}, m.Label, fg, AlignLeft)
			c.Label(Rect{row.X, row.Y, row.W - 8, row.H}, m.Hint, t.TextDim, AlignRight)
			if it.Clicked && !it.Right && !m.Disabled {
				c.picks[id] = i
				c.focus = ""
			}
		}
		// A click anywhere outside closes the menu; so does Esc.
		if (c.Pressed(MouseLeft) || c.Pressed(MouseRight)) && !list.Contains(c.in.X, c.in.Y) && !owner.Contains(c.in.X, c.in.Y) {
			c.focus = ""
		}
		if c.KeyPressed(KeyEscape) {
			c.focus = ""
			c.Consume(KeyEscape)
		}
	})
}

// Progress draws a bar filled to frac (0..1) with a caption inside.
func (c *Context) Progress(r Rect, frac float64, caption string) {
	t := c.Theme
	c.Paint.Rect(r, t.Field)
	c.Paint.Rect(Rect{r.X, r.Y, r.W * clamp(frac, 0, 1), r.H}, t.Accent)
	c.Paint.Text(r.X+r.W/2, r.Y+(r.H-t.FontSize*1.3)/2, caption, t.FontSize, t.Text, AlignCenter)
}

// StatusItem is one segment of a status bar: a coloured dot (when Dot.A > 0)
// and text.
type StatusItem struct {
	Text string
	Dot  color.RGBA
}

// StatusBar draws left-aligned and right-aligned segments along r.
func (c *Context) StatusBar(r Rect, left, right []StatusItem) {
	t := c.Theme
	c.Paint.Rect(r, t.Panel)
	c.Paint.FillRect(r.X, r.Y, r.W, 1, t.Border)
	x := r.X + t.Pad
	for _, it := range left {
		x = c.statusItem(x, r, it) + 18
	}
	x = r.Right() - t.Pad
	for i := len(right) - 1; i >= 0; i-- {
		it := right[i]
		w := c.Paint.TextWidth(it.Text, t.FontSize-1)
		if it.Dot.A > 0 {
			w += 12
		}
		c.statusItem(x-w, r, it)
		x -= w + 18
	}
}

func (c *Context) statusItem(x float64, r Rect, it StatusItem) float64 {
	t := c.Theme
	if it.Dot.A > 0 {
		c.Paint.Circle(x+4, r.Y+r.H/2, 4, 0, it.Dot)
		x += 12
	}
	size := t.FontSize - 1
	c.Paint.Text(x, r.Y+(r.H-size*1.3)/2, it.Text, size, t.TextDim, AlignLeft)
	return x + c.Paint.TextWidth(it.Text, size)
}

func mix(a, b color.RGBA, f float64) color.RGBA {
	l := func(x, y uint8) uint8 { return uint8(float64(x)*(1-f) + float64(y)*f + 0.5) }
	return color.RGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), l(a.A, b.A)}
}

// Mix blends two colours (f = 0: a, 1: b).
func Mix(a, b color.RGBA, f float64) color.RGBA { return mix(a, b, f) }
