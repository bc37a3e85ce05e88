package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"

	"latentstudio/studio/pianoroll/corpus"
)

func init() {
	register(command{name: "corpus", summary: "build the music training corpus (build/music/{train,valid}.safetensors)", run: runCorpus})
}

func runCorpus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
	cfg := corpus.Config{}
	fs.StringVar(&cfg.Out, "out", "build/music", "output folder")
	fs.IntVar(&cfg.Songs, "songs", 1000, "random mma songs to render (~2.2 min of music each)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed for the song choices")
	fs.IntVar(&cfg.Workers, "workers", runtime.NumCPU(), "parallel mma processes")
	fs.IntVar(&cfg.ValidPct, "valid", 5, "percent of pieces for validation (by name hash)")
	fs.StringVar(&cfg.MMA, "mma", "mma", "mma binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Log = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "corpus: "+f+"\n", a...) }
	rep, err := corpus.Build(ctx, cfg)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(rep.Sources))
	for n := range rep.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := rep.Sources[n]
		fmt.Printf("source %-13s %5d pieces %7.2f h, %d skipped %v\n", n, s.Pieces, s.Seconds/3600, s.Skipped, s.Reasons)
	}
	for _, x := range []struct {
		name string
		s    corpus.Stats
	}{{"train", rep.Train}, {"valid", rep.Valid}} {
		fmt.Printf("%s: %d pieces, %d notes, %.2f h, %d steps, %d distinct bars\n", x.name, x.s.Pieces, x.s.Notes, x.s.Hours, x.s.Steps, x.s.DistinctBars)
	}
	fmt.Printf("total: %.2f h in %s (%d workers)\n", rep.Train.Hours+rep.Valid.Hours, rep.Elapsed.Round(1e8), cfg.Workers)
	return nil
}
