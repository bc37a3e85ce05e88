package desktop

import (
	"sync"

	"latentstudio/web/music"
)

// addInpaintKind gives the in-process server the roll.inpaint job, as `studio serve` has it.
// Kinds are registered once a process; the first call's weights stay.
func addInpaintKind(weights string) {
	inpaintOnce.Do(func() { music.Register(func() string { return weights }) })
}

var inpaintOnce sync.Once
