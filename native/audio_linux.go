package main

/*
#cgo pkg-config: alsa
#include <stdlib.h>
#include <alsa/asoundlib.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// checkAudio opens ALSA's default playback device the way Ebiten's audio (oto) will, and closes
// it again. Ebiten reports a failed audio device by ending RunGame, so the app must know
// beforehand and run silent instead of crashing.
func checkAudio() error {
	name := C.CString("default")
	defer C.free(unsafe.Pointer(name))
	var h *C.snd_pcm_t
	if rc := C.snd_pcm_open(&h, name, C.SND_PCM_STREAM_PLAYBACK, C.SND_PCM_NONBLOCK); rc < 0 {
		return fmt.Errorf("ALSA default playback device: %s", C.GoString(C.snd_strerror(rc)))
	}
	C.snd_pcm_close(h)
	return nil
}
