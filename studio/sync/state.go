package sync

import (
	"fmt"
	"strconv"
)

// Kind is what the status bar shows.
type Kind int

// The session's states.
const (
	Connecting   Kind = iota // opening
	Saved                    // the server holds the song as it is here
	Saving                   // a save is on its way
	Unsaved                  // edits wait for the autosave
	Offline                  // no connection; edits are kept on this device; retrying
	Reconnecting             // connection back; pushing this device's song
	Failed                   // the server refused a save, or the local store failed (Err says)
)

var kindNames = [...]string{"connecting", "saved", "saving", "unsaved", "offline", "reconnecting", "error"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "state " + strconv.Itoa(int(k))
}

// State is the session's state for the status bar.
type State struct {
	Kind    Kind
	Version int    // the server's version of the song this device last saved or loaded
	Err     error  // for Failed (and the last error seen while Offline)
	Note    string // something the person should know, e.g. a version replaced on resync
}

func (s State) String() string {
	var msg string
	switch s.Kind {
	case Saved:
		msg = fmt.Sprintf("saved (version %d)", s.Version)
	case Saving:
		msg = "saving…"
	case Unsaved:
		msg = "edited"
	case Offline:
		msg = "offline: edits are kept on this device and saved when the studio is back"
	case Reconnecting:
		msg = "reconnected: saving this device's song…"
	case Failed:
		msg = "not saved: " + errString(s.Err)
	default:
		msg = s.Kind.String() + "…"
	}
	if s.Note != "" {
		msg += " — " + s.Note
	}
	return msg
}

func errString(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
