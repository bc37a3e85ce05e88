package main

/*
#cgo pkg-config: alsa
#include <alsa/asoundlib.h>

// quiet drops ALSA's own error lines during the check; the app prints one line of its own.
static void quiet(const char *file, int line, const char *fn, int err, const char *fmt, ...) {}

static int openDefault(void) {
	snd_pcm_t *h;
	snd_lib_error_set_handler(quiet);
	int rc = snd_pcm_open(&h, "default", SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
	snd_lib_error_set_handler(NULL);
	if (rc == 0) snd_pcm_close(h);
	return rc;
}
*/
import "C"

import "fmt"

// checkAudio opens ALSA's default playback device the way Ebiten's audio (oto) will, and closes
// it again. Ebiten reports a failed audio device by ending RunGame, so the app must know
// beforehand and run silent instead of crashing.
func checkAudio() error {
	if rc := C.openDefault(); rc < 0 {
		return fmt.Errorf("ALSA default playback device: %s", C.GoString(C.snd_strerror(rc)))
	}
	return nil
}
