package ui

import (
	"image/color"
	"time"
)

// Level says how a message should look.
type Level uint8

const (
	Info Level = iota
	Success
	Warning
	Error
)

type toast struct {
	text  string
	level Level
	until time.Time
}

// Toast shows a short message in the bottom-right corner for a few seconds
// (errors stay longer).
func (c *Context) Toast(level Level, text string) {
	d := 4 * time.Second
	if level == Error {
		d = 8 * time.Second
	}
	c.toasts = append(c.toasts, toast{text: text, level: level, until: c.now().Add(d)})
	if len(c.toasts) > 4 {
		c.toasts = c.toasts[len(c.toasts)-4:]
	}
}

// Toasts returns the messages on screen now (for tests and test hooks).
func (c *Context) Toasts() []string {
	var s []string
	for _, t := range c.toasts {
		s = append(s, t.text)
	}
	return s
}

func (c *Context) levelColor(l Level) color.RGBA {
	t := c.Theme
	switch l {
	case Success:
		return t.Ok
	case Warning:
		return t.Warn
	case Error:
		return t.Danger
	}
	return t.Accent
}

func (c *Context) drawToasts() {
	now := c.now()
	keep := c.toasts[:0]
	for _, t := range c.toasts {
		if now.Before(t.until) {
			keep = append(keep, t)
		}
	}
	c.toasts = keep
	t := c.Theme
	y := c.Screen.Bottom() - 40
	for i := len(c.toasts) - 1; i >= 0; i-- {
		m := c.toasts[i]
		w := c.Paint.TextWidth(m.text, t.FontSize) + 36
		r := Rect{c.Screen.Right() - w - 16, y - 36, w, 36}
		c.Paint.Rect(Rect{r.X + 3, r.Y + 4, r.W, r.H}, t.Shadow)
		c.Paint.Rect(r, t.PanelHi)
		c.Paint.Rect(Rect{r.X, r.Y, 4, r.H}, c.levelColor(m.level))
		c.Label(Rect{r.X + 18, r.Y, r.W - 18, r.H}, m.text, t.Text, AlignLeft)
		y -= 44
	}
}

// Modal draws a centred dialog over a dimmed screen with a title, lines of
// text and buttons; it returns the index of the button clicked this tick, or
// -1. While a modal is open nothing else gets the pointer.
func (c *Context) Modal(id, title string, lines []string, buttons []string) int {
	c.modalNow = id
	t := c.Theme
	w := 420.0
	for _, l := range lines {
		w = maxf(w, c.Paint.TextWidth(l, t.FontSize)+48)
	}
	h := 56 + float64(len(lines))*20 + 56
	r := Rect{c.Screen.X + (c.Screen.W-w)/2, c.Screen.Y + (c.Screen.H-h)/2, w, h}
	picked := -1
	c.Later(func() {
		c.Paint.Rect(c.Screen, color.RGBA{0, 0, 0, 0x80})
		c.Paint.Rect(r, t.Panel)
		c.Paint.Stroke(r, 1, t.Border)
		c.Paint.Text(r.X+24, r.Y+20, title, -(t.FontSize + 3), t.Text, AlignLeft)
		for i, l := range lines {
			c.Paint.Text(r.X+24, r.Y+56+float64(i)*20, l, t.FontSize, t.TextDim, AlignLeft)
		}
		x := r.Right() - 24
		for i := len(buttons) - 1; i >= 0; i-- {
			bw := c.Paint.TextWidth(buttons[i], t.FontSize) + 32
			x -= bw
			if c.Button(id+"#"+buttons[i], Rect{x, r.Bottom() - 44, bw, 28}, buttons[i]) {
				c.picks[id] = i
			}
			x -= 8
		}
	})
	if p, ok := c.picks[id]; ok {
		delete(c.picks, id)
		picked = p
	}
	return picked
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
