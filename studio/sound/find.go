package sound

import (
	"errors"
	"fmt"
	"os"
)

// SoundFontPaths are searched in order when no path is given: Debian's timgm6mb-soundfont
// (6 MB) and fluidr3mono-gm-soundfont.
var SoundFontPaths = []string{
	"/usr/share/sounds/sf2/TimGM6mb.sf2",
	"/usr/share/sounds/sf2/FluidR3Mono_GM.sf2",
	"/usr/share/sounds/sf2/FluidR3_GM.sf2",
	"/usr/share/sounds/sf2/default-GM.sf2",
}

// ErrNoSoundFont says that no SoundFont was found; the built-in piano plays instead.
var ErrNoSoundFont = errors.New("no soundfont found: install timgm6mb-soundfont or pass --soundfont (the built-in piano plays meanwhile)")

// Open returns the piano of the SoundFont at path, or of the first one found in
// $STUDIO_SOUNDFONT or SoundFontPaths when path is empty. On any error it also returns the
// built-in piano, so that sound never depends on an install.
func Open(path string) (Instrument, error) {
	candidates := SoundFontPaths
	if env := os.Getenv("STUDIO_SOUNDFONT"); path == "" && env != "" {
		path = env
	}
	if path != "" {
		candidates = []string{path}
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			if path != "" {
				return Piano{}, fmt.Errorf("soundfont %s: %w", p, err)
			}
			continue
		}
		sf, err := LoadSoundFont(p)
		if err != nil {
			return Piano{}, err
		}
		return sf.Preset(0), nil
	}
	return Piano{}, ErrNoSoundFont
}
