package ui

import "image/color"

// ShortcutSheet draws every registered shortcut, grouped, over a dimmed
// screen (the `?` sheet). It returns true when the user dismissed it (a click
// or Esc).
func (c *Context) ShortcutSheet() bool {
	t := c.Theme
	groups := c.Shortcuts.Groups()
	const colW, rowH = 300.0, 22.0
	cols := 3
	if len(groups) < cols {
		cols = len(groups)
	}
	// Lay groups out in columns, balancing their heights greedily.
	heights := make([]float64, cols)
	type placed struct {
		group string
		col   int
		y     float64
	}
	var place []placed
	for _, g := range groups {
		col := 0
		for i := range heights {
			if heights[i] < heights[col] {
				col = i
			}
		}
		place = append(place, placed{g, col, heights[col]})
		n := 0
		for _, sc := range c.Shortcuts.list {
			if sc.Group == g {
				n++
			}
		}
		heights[col] += 34 + float64(n)*rowH + 12
	}
	h := 0.0
	for _, v := range heights {
		h = maxf(h, v)
	}
	w := float64(cols)*colW + 48
	h += 80
	r := Rect{c.Screen.X + (c.Screen.W-w)/2, c.Screen.Y + (c.Screen.H-h)/2, w, h}
	c.modalNow = "shortcuts"
	closed := c.KeyPressed(KeyEscape)
	c.Later(func() {
		c.Paint.Rect(c.Screen, color.RGBA{0, 0, 0, 0x90})
		c.Paint.Rect(r, t.Panel)
		c.Paint.Stroke(r, 1, t.Border)
		c.Paint.Text(r.X+24, r.Y+20, "Keyboard shortcuts", -(t.FontSize + 4), t.Text, AlignLeft)
		c.Paint.Text(r.Right()-24, r.Y+22, "Esc or click to close", t.FontSize-1, t.TextDim, AlignRight)
		for _, p := range place {
			x, y := r.X+24+float64(p.col)*colW, r.Y+64+p.y
			c.Paint.Text(x, y, p.group, -t.FontSize, t.Accent, AlignLeft)
			y += 28
			for _, sc := range c.Shortcuts.list {
				if sc.Group != p.group {
					continue
				}
				c.Paint.Text(x, y, sc.Title, t.FontSize, t.Text, AlignLeft)
				c.Paint.Text(x+colW-24, y, sc.Keys(), t.FontSize, t.TextDim, AlignRight)
				y += rowH
			}
		}
	})
	return closed || c.Pressed(MouseLeft)
}
