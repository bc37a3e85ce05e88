// Package screentest drives the desktop app (studio-desktop) under Xvfb with real X pointer
// drags (xdotool) and checks the pixels it draws and the song it saves. It holds only tests,
// which run when STUDIO_XVFB=1 (task desktop:test); it links no Ebiten itself, so `go test
// ./...` can build and skip it on a machine without a display.
package screentest
