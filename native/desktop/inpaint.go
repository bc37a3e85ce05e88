package desktop

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"latentstudio/studio/protocol"
	"latentstudio/web/engine"
	"latentstudio/web/jobs"
	"latentstudio/web/music"
	"latentstudio/web/server"
)

// modelFile is the shipped piano-roll model, relative to the repository (or install) root.
const modelFile = "assets/pianoroll-hdit.safetensors"

// addInpaintKind gives the in-process server the roll.inpaint job, as `studio serve` has it.
// Kinds are registered once a process; the first call's weights stay.
func addInpaintKind(weights string) {
	inpaintOnce.Do(func() { registerInpaint(weights) })
}

var inpaintOnce sync.Once

func registerInpaint(weights string) {
	if weights == "" {
		weights = findModel()
	}
	server.AddKind(protocol.KindRollInpaint, func(eng *engine.Engine) (jobs.Kind, error) {
		in := music.NewInpainter(eng.Backend, weights)
		if err := in.Check(); err != nil {
			slog.Warn("inpainting will answer with an error until the model is there (pass --weights)", "err", err)
		}
		return in.Kind(), nil
	})
}

// findModel looks for the model beside the program and in the working directory, and in the
// folders above each (go run builds the program in a temp folder; a source checkout has it
// in assets/).
func findModel() string {
	var starts []string
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, d := range starts {
		for {
			p := filepath.Join(d, modelFile)
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
	return modelFile // Check reports it missing, with this name
}
