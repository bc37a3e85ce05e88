package main

import "latentstudio/web/music"

// serveWeights is `studio serve --weights`: the piano-roll model roll.inpaint runs.
var serveWeights string

func init() { music.Register(func() string { return serveWeights }) }
