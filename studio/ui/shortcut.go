package ui

import (
	"strings"
)

// Chord is a key with modifiers, or a typed character (Rune != 0) for keys
// whose position differs between layouts ("?").
type Chord struct {
	Key  Key
	Mods Mods
	Rune rune
}

// Shortcut is a named action with its chords; the registry lists them in the
// shortcut sheet, so the keys a user sees are the keys that work.
type Shortcut struct {
	Name   string // stable id: "undo"
	Title  string // shown in the sheet: "Undo"
	Group  string // sheet section: "Edit"
	Chords []Chord
	Repeat bool // fires again while held (arrows)
}

// Shortcuts is a registry of shortcuts.
type Shortcuts struct {
	list []Shortcut
}

// Add registers (or replaces) shortcuts.
func (s *Shortcuts) Add(list ...Shortcut) {
	for _, sc := range list {
		replaced := false
		for i := range s.list {
			if s.list[i].Name == sc.Name {
				s.list[i], replaced = sc, true
			}
		}
		if !replaced {
			s.list = append(s.list, sc)
		}
	}
}

// List returns the registered shortcuts in registration order.
func (s *Shortcuts) List() []Shortcut { return s.list }

// Groups returns the group names in first-seen order.
func (s *Shortcuts) Groups() []string {
	var gs []string
	seen := map[string]bool{}
	for _, sc := range s.list {
		if !seen[sc.Group] {
			seen[sc.Group] = true
			gs = append(gs, sc.Group)
		}
	}
	return gs
}

// Fired reports whether shortcut name was triggered this tick. Modifiers
// must match exactly (Shift-Z is not Z), Primary matching Ctrl or ⌘. Keys
// consumed by a focused widget do not fire.
func (c *Context) Fired(name string) bool {
	for _, sc := range c.Shortcuts.list {
		if sc.Name != name {
			continue
		}
		for _, ch := range sc.Chords {
			if c.chordFired(ch, sc.Repeat) {
				return true
			}
		}
	}
	return false
}

func (c *Context) chordFired(ch Chord, repeat bool) bool {
	if ch.Rune != 0 {
		for _, r := range c.in.Chars {
			if r == ch.Rune && c.in.Mods()&(Ctrl|Meta|Alt) == 0 {
				return true
			}
		}
		return false
	}
	if c.consumed[ch.Key] {
		return false
	}
	if repeat {
		if !c.KeyRepeat(ch.Key) {
			return false
		}
	} else if !c.KeyPressed(ch.Key) {
		return false
	}
	return modsMatch(c.in.Mods(), ch.Mods)
}

func modsMatch(held, want Mods) bool {
	if want&Primary != 0 {
		if held&(Ctrl|Meta) == 0 {
			return false
		}
		held &^= Ctrl | Meta
		want &^= Primary
	}
	return held == want
}

// PrimaryName is how the Primary modifier is written in the sheet.
var PrimaryName = "Ctrl"

// String renders a chord for people: "Ctrl+Shift+Z".
func (ch Chord) String() string {
	if ch.Rune != 0 {
		return string(ch.Rune)
	}
	var parts []string
	if ch.Mods&Primary != 0 {
		parts = append(parts, PrimaryName)
	}
	if ch.Mods&Ctrl != 0 {
		parts = append(parts, "Ctrl")
	}
	if ch.Mods&Alt != 0 {
		parts = append(parts, "Alt")
	}
	if ch.Mods&Shift != 0 {
		parts = append(parts, "Shift")
	}
	parts = append(parts, keyName(ch.Key))
	return strings.Join(parts, "+")
}

// Keys renders all chords of a shortcut: "Ctrl+Y / Ctrl+Shift+Z".
func (sc Shortcut) Keys() string {
	s := make([]string, len(sc.Chords))
	for i, ch := range sc.Chords {
		s[i] = ch.String()
	}
	return strings.Join(s, "  ")
}

func keyName(k Key) string {
	switch k {
	case KeyArrowUp:
		return "↑"
	case KeyArrowDown:
		return "↓"
	case KeyArrowLeft:
		return "←"
	case KeyArrowRight:
		return "→"
	case KeyEscape:
		return "Esc"
	case KeyBracketL:
		return "["
	case KeyBracketR:
		return "]"
	case KeyMinus:
		return "-"
	case KeyEqual:
		return "="
	}
	return strings.TrimPrefix(string(k), "Digit")
}
