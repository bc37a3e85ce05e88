#!/bin/sh
# Checks the C toolchain and system headers the desktop build needs (Ebiten's GLFW window and
# OpenGL through cgo, ALSA audio through oto) and prints the exact install line when some are
# missing. Used by `task desktop`; exits 1 when something is missing.
missing=""
command -v gcc >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 || missing="$missing gcc libc6-dev"
if ! command -v pkg-config >/dev/null 2>&1; then
  missing="$missing pkg-config libx11-dev libxrandr-dev libxcursor-dev libxi-dev libxinerama-dev libxxf86vm-dev libasound2-dev libgl-dev"
else
  for pair in x11:libx11-dev xrandr:libxrandr-dev xcursor:libxcursor-dev xi:libxi-dev \
    xinerama:libxinerama-dev xxf86vm:libxxf86vm-dev alsa:libasound2-dev gl:libgl-dev; do
    pkg-config --exists "${pair%%:*}" || missing="$missing ${pair#*:}"
  done
fi
[ -z "$missing" ] && exit 0
echo "The desktop build (cgo: X11, OpenGL, ALSA) is missing system libraries. Install them with:" >&2
echo "  sudo apt-get install --no-install-recommends$missing" >&2
echo "(Fedora: libX11-devel libXrandr-devel libXcursor-devel libXi-devel libXinerama-devel libXxf86vm-devel alsa-lib-devel mesa-libGL-devel)" >&2
echo "The browser studio needs none of them: go run ./web/cmd/studio" >&2
exit 1
