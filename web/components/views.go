// Package components holds the studio's templ pages and the plain view structs they take.
// No logic lives here: handlers fill the views, components turn them into HTML.
package components

// Engine is the engine line shown on every page.
type Engine struct {
	Backend string // "cpu", "cuda"
	Label   string // "CPU · 2 threads · 12.0 GiB free"
	Reason  string // why this backend (e.g. no GPU found)
}

// Card is one project in the gallery.
type Card struct {
	ID       string
	Name     string
	Kind     string // label, e.g. "Piano roll"
	Modified string
	Version  int
	HasThumb bool
}

// KindOption is a project kind offered by "New project".
type KindOption struct {
	Name, Label string
}

// Home is the gallery page.
type Home struct {
	Engine  Engine
	Cards   []Card
	Kinds   []KindOption
	Broken  []string // projects whose manifest cannot be read
	Trashed int
	Error   string
	DataDir string
}

// Job is a job's state as a progress bar shows it.
type Job struct {
	ID      string
	Kind    string
	State   string
	Percent int
	Stage   string
	ETA     string
}

// Version is one restorable version.
type Version struct {
	Number  int
	Saved   string
	Current bool
}

// Editor is a project's editor page.
type Editor struct {
	Engine   Engine
	ID       string
	Name     string
	Kind     string // name, e.g. "pianoroll"
	Label    string
	Main     string // main payload file, loaded by the canvas
	Jobs     []Job  // the project's jobs, so a reload shows them again
	Versions []Version
	TestJobs []string // test job kinds offered in settings (only with --test-jobs)
}

// Canvas is the frame that runs the studio canvas (Go compiled to wasm) for one project.
type Canvas struct {
	ID, Name, Kind string
	Main           string // main payload file, loaded by the canvas
	State          string // building, ready, failed, missing (web/canvas)
	Message        string // why the canvas cannot run (failed, missing)
	Wasm, Exec     string // URLs of studio.wasm and wasm_exec.js (ready)
}

// Trashed is a deleted project.
type Trashed struct {
	Entry, Name, Kind string
}

// Trash is the trash page.
type Trash struct {
	Engine  Engine
	Entries []Trashed
}

// Shortcut is one line of the keyboard-shortcut sheet.
type Shortcut struct{ Keys, Does string }

// Shortcuts of the editor page around the canvas. The canvas lists its own keys (tools,
// play, inpaint, undo…) on its "Keys ?" button; keys go to whichever has the focus.
var Shortcuts = []Shortcut{
	{"?", "show or hide this sheet (in the canvas: the canvas's own keys)"},
	{",", "show or hide settings"},
	{"Esc", "close a dialog"},
	{".", "cancel the running job"},
}
