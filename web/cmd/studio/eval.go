package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/pianoroll/corpus"
	"latentstudio/studio/pianoroll/metrics"
)

func init() {
	register(command{name: "eval", summary: "score inpainting on validation windows (metrics of issue 4; now: the copy-the-bars-before baseline)", run: runEval})
}

// inpainters by name; the model side adds its sampler here.
var inpainters = map[string]metrics.Inpainter{
	"copy-before": metrics.CopyBefore,
}

func runEval(ctx context.Context, args []string) error { return evalTo(ctx, args, os.Stdout) }

// evalTo runs the eval subcommand, printing its table to stdout.
func evalTo(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	valid := fs.String("valid", "build/music/valid.safetensors", "validation corpus (task data:music)")
	width := fs.Int("width", 512, "window in steps (512 = 32 bars)")
	maxWin := fs.Int("windows", 200, "at most this many windows (in corpus order)")
	name := fs.String("inpainter", "copy-before", "what fills the masks")
	out := fs.String("out", "", "also write the markdown table to this file")
	pngDir := fs.String("png", "", "write truth and inpainted rolls of the first windows of each task here (PNG)")
	pngCount := fs.Int("png-windows", 2, "windows per task drawn with -png")
	if err := fs.Parse(args); err != nil {
		return err
	}
	inp, ok := inpainters[*name]
	if !ok {
		return fmt.Errorf("unknown inpainter %q", *name)
	}
	pieces, _, err := corpus.ReadSafetensors(*valid)
	if err != nil {
		return fmt.Errorf("%w (build it with: go tool -modfile=tools/go.mod task data:music)", err)
	}
	var wins [][]pianoroll.Note
	for _, p := range pieces {
		wins = append(wins, metrics.Windows(p.Notes, p.Steps, *width, 16)...)
		if len(wins) >= *maxWin {
			wins = wins[:*maxWin]
			break
		}
	}
	if len(wins) == 0 {
		return fmt.Errorf("no window of %d steps in %s", *width, *valid)
	}
	tasks := metrics.Tasks()
	res, err := metrics.Run(wins, *width, tasks, inp)
	if err != nil {
		return err
	}
	if *pngDir != "" {
		if err := drawEval(*pngDir, wins, *width, tasks, inp, *pngCount); err != nil {
			return err
		}
	}
	var all []metrics.Result
	for _, t := range tasks {
		all = append(all, res[t.Name]...)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "inpainter %s, %d windows of %d steps from %s\n\n", *name, len(wins), *width, *valid)
	sb.WriteString("| metric |")
	for _, t := range tasks {
		sb.WriteString(" " + t.Name + " |")
	}
	sb.WriteString(" all |\n|---|")
	sb.WriteString(strings.Repeat("---|", len(tasks)+1) + "\n")
	cols := make([][]metrics.Field, 0, len(tasks)+1)
	column := func(rs []metrics.Result) []metrics.Field {
		m, _ := metrics.Mean(rs)
		p := metrics.Pooled(rs)
		return append(m, metrics.Field{Name: "pooled D_P", Value: p.DP}, metrics.Field{Name: "pooled D_D", Value: p.DD},
			metrics.Field{Name: "pooled KL_P", Value: p.KLP}, metrics.Field{Name: "pooled KL_D", Value: p.KLD})
	}
	for _, t := range tasks {
		cols = append(cols, column(res[t.Name]))
	}
	cols = append(cols, column(all))
	for i, f := range cols[0] {
		fmt.Fprintf(&sb, "| %s |", f.Name)
		for _, c := range cols {
			v := c[i].Value
			if math.IsNaN(v) {
				sb.WriteString(" – |")
			} else {
				fmt.Fprintf(&sb, " %.3f |", v)
			}
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "\n%s\n", metrics.DefinitionsSource)
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(stdout, f)
	}
	_, err = io.WriteString(w, sb.String())
	return err
}

// drawEval writes <task>-<window>-truth.png and -<inpainter>.png with the mask tinted.
func drawEval(dir string, wins [][]pianoroll.Note, width int, tasks []metrics.Task, inp metrics.Inpainter, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, t := range tasks {
		m := t.Mask(width)
		for i, win := range wins[:min(n, len(wins))] {
			gen, err := inp(win, m)
			if err != nil {
				return err
			}
			for _, side := range []struct {
				name  string
				notes []pianoroll.Note
			}{{"truth", win}, {"inpainted", gen}} {
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d-%s.png", t.Name, i, side.name)))
				if err != nil {
					return err
				}
				err = pianoroll.WritePNGMasked(f, side.notes, 0, width, 2, m.Cells)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}
