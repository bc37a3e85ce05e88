// Package ui is the studio's small immediate-mode widget and tool layer, shared
// by the piano roll and the editors to come (toon board, latent pad).
//
// Each tick a shell calls Context.Begin with an Input snapshot (pointer in
// logical pixels, held keys, typed runes), runs its widgets and surfaces, and
// calls End. Widgets (Button, Toggle, Slider, Dropdown, Menu, Popup, Progress,
// StatusBar, Toast, Modal, ShortcutSheet) do their own hit testing through
// Interact, which also gives drag capture (the widget pressed keeps the
// pointer until release), hover, and keyboard focus (Tab / Shift-Tab).
// Overlays (open menus, modals) claim the pointer from the next tick on.
// Shortcuts are registered once and listed by the `?` sheet, so the keys
// shown are the keys that work.
//
// Everything is drawn into a Painter: a display list of quads and text in
// logical pixels, scaled to device pixels (HiDPI) as it is built. This package
// does not import Ebiten, so its tests and the editors' tests run without a
// display; studio/ui/screen reads Ebiten's input and submits the list.
package ui
