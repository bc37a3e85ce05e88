package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"

	"latentstudio/native/desktop"
	"latentstudio/studio/ui"
	"latentstudio/studio/ui/screen"
)

// picker is the recent-projects list (Ctrl+P): the projects this server had open lately,
// newest first, and a new one. It is drawn with the studio's widgets in place of the studio,
// which waits untouched (no input reaches it) until the list closes.
type picker struct {
	open    bool
	ui      *ui.Context
	input   screen.Input
	fonts   *screen.Fonts
	list    []desktop.Recent
	current string
	busy    string // "creating a project…" while the server answers
	err     string
	rects   map[string]ui.Rect // buttons by id, for the screenshot tests
}

func newPicker(theme *ui.Theme, fonts *screen.Fonts) *picker {
	p := ui.NewPainter()
	p.Measure = fonts.Width
	return &picker{ui: ui.NewContext(theme, p), fonts: fonts, rects: map[string]ui.Rect{}}
}

// toggled reports whether Ctrl+P was pressed this tick.
func toggled() bool {
	return inpututil.IsKeyJustPressed(ebiten.KeyP) &&
		(ebiten.IsKeyPressed(ebiten.KeyControl) || ebiten.IsKeyPressed(ebiten.KeyMeta))
}

// choice is what the person picked: a project id, or new.
type choice struct {
	id, name string
	new      bool
}

// update runs the picker for one tick in a screen of w×h logical pixels and returns a choice
// when one was made.
func (p *picker) update(w, h, scale float64) (choice, bool) {
	c := p.ui
	c.Paint.Scale = scale
	c.Paint.Reset()
	c.Screen = ui.R(0, 0, w, h)
	c.Begin(p.input.Read(scale))
	defer c.End()
	t := c.Theme
	clear(p.rects)

	c.Paint.Rect(c.Screen, t.Bg) // the studio is paused underneath, so it is not shown
	rows := min(len(p.list), 12)
	pw, ph := 520.0, 150+float64(rows)*40
	r := ui.R((w-pw)/2, max(24, (h-ph)/2), pw, ph)
	c.Panel(r)
	c.Paint.Stroke(r, 1, t.Border)
	c.Label(ui.R(r.X+24, r.Y+16, pw-48, 24), "Recent projects", t.Text, ui.AlignLeft)
	c.Label(ui.R(r.X+24, r.Y+40, pw-48, 18), "on this studio server · Ctrl+P or Esc closes", t.TextDim, ui.AlignLeft)

	y := r.Y + 70
	var picked choice
	done := false
	for i, e := range p.list[:rows] {
		label := e.Name
		if label == "" {
			label = e.ID
		}
		when := e.Opened.Local().Format("2 Jan 15:04")
		if e.ID == p.current {
			when = "open now"
		}
		br := ui.R(r.X+24, y, pw-48, 34)
		id := fmt.Sprint("recent.", i)
		p.rects[id] = br
		if c.Button(id, br, label) && p.busy == "" {
			picked, done = choice{id: e.ID, name: e.Name}, true
		}
		c.Label(ui.R(br.X+br.W-160, br.Y, 150, br.H), when, t.TextDim, ui.AlignRight)
		y += 40
	}
	if len(p.list) == 0 {
		c.Label(ui.R(r.X+24, y, pw-48, 34), "none yet", t.TextDim, ui.AlignLeft)
	}
	y = r.Y + ph - 56
	if p.busy != "" {
		c.Label(ui.R(r.X+24, y, pw-200, 32), p.busy, t.TextDim, ui.AlignLeft)
	} else if p.err != "" {
		c.Label(ui.R(r.X+24, y, pw-200, 32), p.err, t.Danger, ui.AlignLeft)
	}
	p.rects["recent.new"] = ui.R(r.X+pw-24-140, y, 140, 32)
	if c.Button("recent.new", p.rects["recent.new"], "New project") && p.busy == "" {
		picked, done = choice{new: true}, true
	}
	if c.KeyPressed(ui.KeyEscape) {
		p.open = false
	}
	return picked, done
}

// show opens the picker on the current recent list.
func (p *picker) show(list []desktop.Recent, current string) {
	p.open, p.list, p.current, p.err = true, list, current, ""
}

// newProjectName is what a project made from the picker is called until renamed in the browser.
func newProjectName() string { return "Desktop " + time.Now().Format("2006-01-02 15:04:05") }

// createProject asks the server for a new project off the game goroutine.
func createProject(ctx context.Context, b *desktop.Backend, out chan<- created) {
	name := newProjectName()
	id, err := b.Create(ctx, name)
	out <- created{id, name, err}
}

type created struct {
	id, name string
	err      error
}
