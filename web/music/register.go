package music

import (
	"log/slog"
	"os"
	"path/filepath"

	"latentstudio/studio/protocol"
	"latentstudio/web/engine"
	"latentstudio/web/jobs"
	"latentstudio/web/server"
)

// ShippedWeights is the trained piano-roll model, relative to the repository (or install) root.
const ShippedWeights = "assets/pianoroll-hdit.safetensors"

// Register gives every server this process builds the roll.inpaint job. weights is asked for
// the weights file as each server is built (after flags are parsed; empty: FindWeights). A
// missing file is a warning at start and an engine error per request, so the studio still
// opens. Call it once a process (server.AddKind refuses a kind twice).
func Register(weights func() string) {
	server.AddKind(protocol.KindRollInpaint, func(eng *engine.Engine) (jobs.Kind, error) {
		w := weights()
		if w == "" {
			w = FindWeights()
		}
		in := NewInpainter(eng.Backend, w)
		if err := in.Check(); err != nil {
			slog.Warn("roll.inpaint will answer with an error until the weights are there (pass --weights)", "err", err)
		}
		return in.Kind(), nil
	})
}

// FindWeights looks for the shipped model beside the program and in the working directory,
// and in the folders above each (go run builds the program in a temp folder; a source checkout
// has it in assets/). When none is found it returns ShippedWeights, which Check then names.
func FindWeights() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, d := range starts {
		for {
			p := filepath.Join(d, ShippedWeights)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			up := filepath.Dir(d)
			if up == d {
				break
			}
			d = up
		}
	}
	return ShippedWeights
}
