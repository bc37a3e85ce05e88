package ui

// MouseButton names the buttons the UI reads.
type MouseButton int

const (
	MouseLeft MouseButton = iota
	MouseRight
	MouseMiddle
)

// Mods is a set of held modifier keys.
type Mods uint8

const (
	Shift Mods = 1 << iota
	Ctrl
	Alt
	Meta
	// Primary is Ctrl on Linux and Windows, ⌘ on macOS: a chord with Primary
	// matches either key, so one shortcut table serves every platform.
	Primary
)

// Input is one tick's snapshot of the pointer and keyboard, in logical pixels.
// The UI reads nothing else, so tests feed synthetic Inputs without a window.
type Input struct {
	X, Y           float64
	Buttons        [3]bool
	WheelX, WheelY float64
	Keys           []Key  // held this tick
	Chars          []rune // typed this tick
}

// Mods returns the held modifiers.
func (in *Input) Mods() Mods {
	var m Mods
	for _, k := range in.Keys {
		switch k {
		case KeyShiftLeft, KeyShiftRight, KeyShift:
			m |= Shift
		case KeyControlLeft, KeyControlRight, KeyControl:
			m |= Ctrl
		case KeyAltLeft, KeyAltRight, KeyAlt:
			m |= Alt
		case KeyMetaLeft, KeyMetaRight, KeyMeta:
			m |= Meta
		}
	}
	return m
}

// Held reports whether k is held.
func (in *Input) Held(k Key) bool {
	for _, h := range in.Keys {
		if h == k {
			return true
		}
	}
	return false
}
