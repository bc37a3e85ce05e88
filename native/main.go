// Command studio-desktop is Latent Studio's desktop app: the studio canvas (studio/app) in an
// Ebiten window, talking to a studio server over the websocket protocol. With --server it uses
// a running server, on this machine or a GPU machine elsewhere; without, it starts one in this
// process on a free loopback port, on the same data directory as `studio serve`.
//
//	go run ./native                      # local server, the most recent project
//	go run ./native --project ID         # that project
//	go run ./native --server http://gpu-box:7380 --token T
//	go run ./native --recent             # list the recent projects and exit
//
// Build it with `task desktop`, which checks the system libraries first. Exit codes: 0 done,
// 1 failed while running, 2 bad flags, 3 no display, 4 server or project not found.
// Everything without a window lives in native/desktop, where it is tested; this package
// links Ebiten, which needs a display from the moment the program starts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"latentstudio/native/desktop"
)

// Exit codes, so scripts can tell why the app stopped.
const (
	exitOK        = 0
	exitFailed    = 1 // the app or its server failed while running
	exitUsage     = 2 // bad flags
	exitNoDisplay = 3 // no window system (display_linux.go says so before Go starts)
	exitNoServer  = 4 // --server does not answer, or the project is not there
)

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "studio-desktop:", err)
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	o, err := desktop.ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	}
	if err != nil {
		return exitUsage, err
	}
	if o.Recent {
		if err := desktop.ListRecent(stdout); err != nil {
			return exitFailed, err
		}
		return exitOK, nil
	}
	if err := desktop.CheckDisplay(os.Getenv); err != nil {
		return exitNoDisplay, err
	}
	audio := !o.Silent
	if audio {
		if err := checkAudio(); err != nil {
			fmt.Fprintf(stderr, "studio-desktop: no sound: %v; running silent (see `aplay -L`, or pass --silent)\n", err)
			audio = false
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := desktop.Prepare(ctx, o, stdout)
	if err != nil {
		if errors.Is(err, desktop.ErrNoServer) || errors.Is(err, desktop.ErrNoProject) {
			return exitNoServer, err
		}
		return exitFailed, err
	}
	for _, w := range s.Warnings {
		fmt.Fprintln(stderr, "studio-desktop:", w)
	}
	fmt.Fprintf(stdout, "project %s %q on %s\nexported MIDI files go to %s\nthe same studio in a browser: %s\n",
		s.Project, s.Name, s.Backend.Place, s.ExportDir, s.Backend.Browser())

	werr := runWindow(ctx, s, audio, stdout, stderr)
	if err := s.Backend.Close(); err != nil {
		fmt.Fprintln(stderr, "studio-desktop: stopping the local server:", err)
	}
	if werr != nil {
		return exitFailed, desktop.WindowHint(werr)
	}
	return exitOK, nil
}
