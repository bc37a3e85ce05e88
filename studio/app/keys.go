package app

import (
	"latentstudio/studio/rollview"
	"latentstudio/studio/ui"
)

// registerShortcuts lists every key the studio answers, for the `?` sheet.
func (a *App) registerShortcuts() {
	k := func(key ui.Key, mods ui.Mods) ui.Chord { return ui.Chord{Key: key, Mods: mods} }
	a.ui.Shortcuts.Add(
		ui.Shortcut{Name: "play", Title: "Play / stop", Group: "Transport", Chords: []ui.Chord{k(ui.KeySpace, 0)}},
		ui.Shortcut{Name: "inpaint", Title: "Inpaint the mask", Group: "Inpaint", Chords: []ui.Chord{k(ui.KeyEnter, 0)}},
		ui.Shortcut{Name: "remask", Title: "Re-mask", Group: "Inpaint", Chords: []ui.Chord{k(ui.KeyR, ui.Shift)}},
		ui.Shortcut{Name: "clearmask", Title: "Clear the mask", Group: "Inpaint", Chords: []ui.Chord{k(ui.KeyM, ui.Shift)}},
		ui.Shortcut{Name: "export", Title: "Export MIDI", Group: "File", Chords: []ui.Chord{k(ui.KeyE, ui.Primary)}},
		ui.Shortcut{Name: "open", Title: "Open MIDI", Group: "File", Chords: []ui.Chord{k(ui.KeyO, ui.Primary)}},
		ui.Shortcut{Name: "help", Title: "This sheet", Group: "View", Chords: []ui.Chord{{Rune: '?'}}},
	)
	a.ui.Shortcuts.Add(rollview.Shortcuts()...)
}

func (a *App) handleKeys() {
	c := a.ui
	if a.help {
		return // the sheet is modal
	}
	switch {
	case c.Fired("play"):
		a.togglePlay()
	case c.Fired("inpaint"):
		a.startInpaint()
	case c.Fired("remask"):
		if a.inp.applied >= 0 {
			a.fail("re-mask", a.doc.Remask())
		}
	case c.Fired("clearmask"):
		a.doc.ClearMask()
	case c.Fired("export"):
		_, _ = a.ExportMIDI()
	case c.Fired("open"):
		if a.cfg.OpenFile != nil {
			a.cfg.OpenFile()
		}
	case c.Fired("help"):
		a.help = true
	default:
		a.view.HandleKeys(c)
	}
}
