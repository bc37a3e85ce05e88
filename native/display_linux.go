package main

/*
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

// studioCheckDisplay runs before Go starts. Ebiten connects to the window system while Go
// packages initialize and panics when there is none, so this is the one place where the app
// can still say plainly what is missing (even -h needs a display). The words match
// desktop.CheckDisplay; the exit code is exitNoDisplay.
__attribute__((constructor)) static void studioCheckDisplay(void) {
	const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	if (x && *x) return;
	if (w && *w) {
		fputs("studio-desktop: no display: WAYLAND_DISPLAY is set but DISPLAY is not; the desktop app needs XWayland (install xwayland, or start it from an X11 session)\n", stderr);
	} else {
		fputs("studio-desktop: no display: neither DISPLAY nor WAYLAND_DISPLAY is set; "
		      "start it from a desktop session, over `ssh -X`, or headless with `xvfb-run -a studio-desktop`; "
		      "or use the browser studio: `go run ./web/cmd/studio`\n", stderr);
	}
	_exit(3);
}
*/
import "C"
