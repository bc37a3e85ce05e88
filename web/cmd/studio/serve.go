package main

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"latentstudio/web/music"
	"latentstudio/web/server"
)

func init() {
	register(command{name: "serve", summary: "start the studio server (the default)", run: serve})
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("studio serve", flag.ContinueOnError)
	var cfg server.Config
	var origins string
	fs.StringVar(&cfg.Listen, "listen", server.DefaultListen, "address to listen on; beyond loopback a token is required")
	fs.StringVar(&cfg.Data, "data", "", "data directory for projects (default $XDG_DATA_HOME/latent-studio or ~/.local/share/latent-studio)")
	fs.StringVar(&cfg.Token, "token", os.Getenv("STUDIO_TOKEN"), "token clients must present (generated and printed for a non-loopback --listen); env STUDIO_TOKEN")
	fs.StringVar(&cfg.Engine, "engine", envOr("STUDIO_ENGINE", "auto"), "engine backend: auto, cuda or cpu; env STUDIO_ENGINE")
	fs.StringVar(&origins, "allow-origin", "", "extra browser origins allowed to connect, comma separated")
	fs.IntVar(&cfg.Keep, "keep", 20, "versions kept per project")
	fs.IntVar(&cfg.Workers, "workers", 0, "concurrent engine runs (default: the number of CPUs)")
	fs.StringVar(&cfg.Wasm, "wasm", os.Getenv("STUDIO_WASM"), "directory of a prebuilt browser canvas (`task wasm` writes build/wasm); default: build it from this source checkout in the background; env STUDIO_WASM")
	fs.StringVar(&serveWeights, "weights", "", "piano-roll model for roll.inpaint (default "+music.ShippedWeights+" under the working directory or above)")
	fs.BoolVar(&cfg.TestJobs, "test-jobs", false, "register the burn test job (for load, fault and browser tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if origins != "" {
		cfg.Origins = strings.Split(origins, ",")
	}
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	if !testing.Testing() {
		// A source checkout builds the browser canvas now, in the background. A test binary
		// that serves (fault, load, sync tests) builds it only if a canvas is asked for.
		s.Canvas.Start()
	}
	return s.Serve(ctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
