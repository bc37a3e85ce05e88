package desktop

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// ErrNoDisplay says there is no window system to draw on.
var ErrNoDisplay = errors.New("no display")

// NoDisplayHelp is what to do about it; the desktop command prints the same words before Go
// starts (Ebiten opens the window system while packages initialize and panics without one).
const NoDisplayHelp = "start it from a desktop session, over `ssh -X`, or headless with `xvfb-run -a studio-desktop`; or use the browser studio: `go run ./web/cmd/studio`"

// CheckDisplay reports whether a window can be opened: the desktop build talks to X11 (GLFW),
// directly or through XWayland.
func CheckDisplay(getenv func(string) string) error {
	if runtime.GOOS != "linux" && runtime.GOOS != "freebsd" {
		return nil // Windows and macOS always have their window system
	}
	if getenv("DISPLAY") != "" {
		return nil
	}
	if getenv("WAYLAND_DISPLAY") != "" {
		return fmt.Errorf("%w: WAYLAND_DISPLAY is set but DISPLAY is not; the desktop app needs XWayland (install xwayland, or start it from an X11 session)", ErrNoDisplay)
	}
	return fmt.Errorf("%w: neither DISPLAY nor WAYLAND_DISPLAY is set; %s", ErrNoDisplay, NoDisplayHelp)
}

// WindowHint adds what to install when Ebiten could not open its window or GL context.
func WindowHint(err error) error {
	if err == nil {
		return nil
	}
	s := strings.ToLower(err.Error())
	if strings.Contains(s, "glfw") || strings.Contains(s, "opengl") || strings.Contains(s, "libgl") || strings.Contains(s, "glx") {
		return fmt.Errorf("%w\nthe window or its OpenGL context could not be made: on Debian/Ubuntu `sudo apt-get install libgl1 libgl1-mesa-dri libx11-6 libxrandr2 libxcursor1 libxi6 libxinerama1 libxxf86vm1`, and check that DISPLAY=%q is a running X server", err, os.Getenv("DISPLAY"))
	}
	return err
}
