package ui

import "image/color"

// Theme is the palette and the metrics every surface draws with. The roll
// colours live here too so that a light/dark switch reaches every editor.
type Theme struct {
	Name string
	Dark bool

	Bg, Panel, PanelHi, Field, Border color.RGBA
	Text, TextDim, Accent, AccentText color.RGBA
	Danger, Warn, Ok                  color.RGBA
	Shadow                            color.RGBA

	// Piano roll.
	RowWhite, RowBlack, GridBar, GridBeat, GridStep color.RGBA
	KeyWhite, KeyBlack, KeyPressed, KeyLabel        color.RGBA
	Note, NoteEdge, NoteSelected, NoteGenerated     color.RGBA
	Mask, MaskEdge, Playhead, Loop, Ruler           color.RGBA

	FontSize float64 // logical pixels
	Pad      float64
	Radius   float64
}

func rgb(v uint32) color.RGBA {
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}

func rgba(v uint32, a uint8) color.RGBA {
	c := rgb(v)
	c.A = a
	return c
}

// Dark is the default theme: deep slate panels and a blue note colour in the
// manner of Signal, magenta masks that read clearly over notes.
func Dark() *Theme {
	return &Theme{
		Name: "dark", Dark: true,
		Bg: rgb(0x16171b), Panel: rgb(0x1f2127), PanelHi: rgb(0x2a2d35), Field: rgb(0x121317),
		Border: rgb(0x33363f), Text: rgb(0xe6e8ee), TextDim: rgb(0x8b90a0),
		Accent: rgb(0x5b8cff), AccentText: rgb(0xffffff),
		Danger: rgb(0xff5d6c), Warn: rgb(0xffb545), Ok: rgb(0x3fd08f),
		Shadow: rgba(0x000000, 0x90),

		RowWhite: rgb(0x1d1f25), RowBlack: rgb(0x17181d),
		GridBar: rgb(0x464a56), GridBeat: rgb(0x2d3038), GridStep: rgb(0x22242b),
		KeyWhite: rgb(0xe9eaef), KeyBlack: rgb(0x24262d), KeyPressed: rgb(0x5b8cff), KeyLabel: rgb(0x6b7080),
		Note: rgb(0x5b8cff), NoteEdge: rgb(0x2f4fa8), NoteSelected: rgb(0xffb545), NoteGenerated: rgb(0x3fd0b4),
		Mask: rgba(0xff4fa0, 0x48), MaskEdge: rgba(0xff4fa0, 0xc0), Playhead: rgb(0xff5d5d),
		Loop: rgba(0x3fd08f, 0x30), Ruler: rgb(0x1a1b20),

		FontSize: 13, Pad: 8, Radius: 4,
	}
}

// Light is the daytime theme.
func Light() *Theme {
	t := Dark()
	t.Name, t.Dark = "light", false
	t.Bg, t.Panel, t.PanelHi, t.Field = rgb(0xf4f5f8), rgb(0xffffff), rgb(0xe8ebf2), rgb(0xeef0f4)
	t.Border, t.Text, t.TextDim = rgb(0xd3d7e0), rgb(0x1c1f26), rgb(0x6b7080)
	t.Accent = rgb(0x3c6cf0)
	t.Shadow = rgba(0x000000, 0x40)
	t.RowWhite, t.RowBlack = rgb(0xffffff), rgb(0xf0f2f6)
	t.GridBar, t.GridBeat, t.GridStep = rgb(0xb8bdc9), rgb(0xdde0e7), rgb(0xeceef2)
	t.KeyWhite, t.KeyBlack, t.KeyLabel = rgb(0xffffff), rgb(0x30333b), rgb(0x8b90a0)
	t.Note, t.NoteEdge = rgb(0x3c6cf0), rgb(0x2447a8)
	t.NoteSelected, t.NoteGenerated = rgb(0xf59a23), rgb(0x17a88c)
	t.Mask, t.MaskEdge = rgba(0xe0287e, 0x38), rgba(0xe0287e, 0xb0)
	t.Ruler = rgb(0xe8ebf1)
	return t
}
