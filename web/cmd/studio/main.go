// Command studio is the Latent Studio server and its helpers. `studio` and `studio serve`
// start the server; other subcommands register themselves in their own file (see
// commands.go), so adding one never touches this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "studio:", err)
		}
		os.Exit(2)
	}
}
