package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. A subcommand lives in its own file and registers itself:
//
//	func init() { register(command{name: "corpus", summary: "build the music corpus", run: corpus}) }
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("studio: subcommand registered twice: " + c.name)
	}
	commands[c.name] = c
}

// defaultCommand runs when the first argument is a flag or missing.
const defaultCommand = "serve"

func run(ctx context.Context, args []string) error {
	name := defaultCommand
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		usage()
		return nil
	}
	c, ok := commands[name]
	if !ok {
		usage()
		return fmt.Errorf("unknown subcommand %q", name)
	}
	return c.run(ctx, args)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: studio [SUBCOMMAND] [FLAGS]   (no subcommand: serve)")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "`studio SUBCOMMAND -h` lists a subcommand's flags.")
}
