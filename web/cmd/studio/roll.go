package main

import (
	"log/slog"

	"latentstudio/studio/protocol"
	"latentstudio/web/engine"
	"latentstudio/web/jobs"
	"latentstudio/web/music"
	"latentstudio/web/server"
)

// serveWeights is `studio serve --weights`: the piano-roll model roll.inpaint runs.
var serveWeights string

func init() {
	server.AddKind(protocol.KindRollInpaint, func(eng *engine.Engine) (jobs.Kind, error) {
		in := music.NewInpainter(eng.Backend, weightsPath(serveWeights))
		if err := in.Check(); err != nil {
			slog.Warn("roll.inpaint will answer with an error until the weights are there", "err", err)
		}
		return in.Kind(), nil
	})
}
