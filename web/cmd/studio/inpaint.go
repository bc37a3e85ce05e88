package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/png" // mask PNGs
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"latentstudio/gpu"
	_ "latentstudio/gpu/cpu"
	_ "latentstudio/gpu/cuda"
	roll "latentstudio/gpu/models/pianoroll"
	"latentstudio/studio/pianoroll"
	"latentstudio/studio/pianoroll/metrics"
	"latentstudio/studio/safefile"
	"latentstudio/web/music"
)

func init() {
	register(command{name: "inpaint", summary: "fill a masked region of a MIDI file with the piano-roll model", run: runInpaint})
	// the model as inpainters of `studio eval`: DPM++ 2M SDE (hdit-uU) or the deterministic
	// DPM++ 2M (hdit-ode-uU), per RePaint U
	for _, u := range []int{1, 2, 4} {
		inpainters[fmt.Sprintf("hdit-u%d", u)] = modelInpainter("dpm++2m-sde", u)
		inpainters[fmt.Sprintf("hdit-ode-u%d", u)] = modelInpainter("dpm++2m", u)
	}
}

var (
	evalModelOnce sync.Once
	evalModel     *roll.Model
	evalModelErr  error
)

// modelInpainter loads the shipped weights on first use (engine from STUDIO_ENGINE, auto by
// default) and fills each window with one candidate of 30 sampler steps.
func modelInpainter(samplerName string, u int) metrics.Inpainter {
	seed := uint64(0)
	return func(window []pianoroll.Note, m metrics.Mask) ([]pianoroll.Note, error) {
		evalModelOnce.Do(func() {
			be, err := gpu.Open("")
			if err != nil {
				evalModelErr = err
				return
			}
			evalModel, evalModelErr = roll.Load(be, weightsPath(""))
		})
		if evalModelErr != nil {
			return nil, evalModelErr
		}
		mask := roll.NewMask(m.W)
		for i, c := range m.Cells {
			if c {
				mask.Cells[i] = 1
			}
		}
		seed++
		res, err := evalModel.Inpaint(context.Background(), pianoroll.Image(window, 0, m.W), mask, roll.Options{Sampler: samplerName, Jumps: u, Seed: seed})
		if err != nil {
			return nil, err
		}
		return pianoroll.FromImage(res.Candidates[res.Pick], m.W, 0)
	}
}

// weightsPath is the --weights flag's file, else the shipped model (music.FindWeights).
func weightsPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return music.FindWeights()
}

func runInpaint(ctx context.Context, args []string) error { return inpaintTo(ctx, args, os.Stdout) }

func inpaintTo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("inpaint", flag.ContinueOnError)
	in := fs.String("in", "", "MIDI file to read (required)")
	out := fs.String("out", "", "MIDI file to write (required)")
	maskPNG := fs.String("mask", "", "mask PNG, W×128 px (W = --width), white = generate, top row = pitch 127")
	bars := fs.String("bars", "", "bars to fill, 1-based within the window, e.g. 9-12")
	task := fs.String("task", "", "continue | accompany | melody")
	at := fs.Int("at", 0, "--task continue: first step to generate (default: the window's middle)")
	line := fs.Int("line", 60, "--task accompany/melody: the pitch line (accompany fills below it, melody at and above)")
	from := fs.Int("from", 0, "first step of the window in the song")
	width := fs.Int("width", 512, "window in steps (512 = 32 bars of 4/4)")
	repaint := fs.Int("repaint", 2, "RePaint jumps U, 1..10 (more: busier, better joined, slower)")
	candidates := fs.Int("candidates", 1, "candidates sampled in one batch")
	percentile := fs.Float64("percentile", 0.5, "pick among the candidates ranked by notes in the mask (0 sparsest .. 1 busiest)")
	seed := fs.Uint64("seed", 1, "noise seed (same seed, same result on every engine)")
	steps := fs.Int("steps", 30, "sampler steps")
	samplerName := fs.String("sampler", "dpm++2m-sde", "euler | dpm++2m | dpm++2m-sde")
	pngOut := fs.String("png", "", "also draw the result as a piano-roll PNG (Pictures of MIDI colours, mask tinted)")
	weights := fs.String("weights", "", "weights file (default "+music.ShippedWeights+")")
	engine := fs.String("engine", "", "auto | cuda | cpu (default: STUDIO_ENGINE, else auto)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return errors.New("inpaint: --in and --out are required")
	}
	chosen := 0
	for _, s := range []string{*maskPNG, *bars, *task} {
		if s != "" {
			chosen++
		}
	}
	if chosen != 1 {
		return errors.New("inpaint: give exactly one of --mask, --bars, --task")
	}
	f, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("inpaint: %w", err)
	}
	song, err := pianoroll.Read(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("inpaint: %s: %w", *in, err)
	}
	if *from < 0 || *from >= max(song.Steps, 1) {
		return fmt.Errorf("inpaint: --from %d is outside the song's %d steps", *from, song.Steps)
	}
	w := *width
	var mask *roll.Mask
	switch {
	case *maskPNG != "":
		mask, err = readMaskPNG(*maskPNG, w)
	case *bars != "":
		a, b, ok := strings.Cut(*bars, "-")
		if !ok {
			b = a
		}
		first, err1 := strconv.Atoi(a)
		last, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("inpaint: --bars %q: want FIRST-LAST, e.g. 9-12", *bars)
		}
		mask, err = roll.BarsMask(w, first, last)
	case *task == "continue":
		if *at == 0 {
			*at = w / 2
		}
		mask, err = roll.ContinueMask(w, *at)
	case *task == "accompany":
		mask, err = roll.AccompanyMask(w, *line)
	case *task == "melody":
		mask, err = roll.MelodyMask(w, *line)
	default:
		return fmt.Errorf("inpaint: unknown --task %q: use continue, accompany or melody", *task)
	}
	if err != nil {
		return fmt.Errorf("inpaint: %w", err)
	}
	be, err := gpu.Open(*engine)
	if err != nil {
		return fmt.Errorf("inpaint: %w", err)
	}
	defer be.Close()
	model, err := roll.Load(be, weightsPath(*weights))
	if err != nil {
		return fmt.Errorf("inpaint: %w", err)
	}
	defer model.Close()
	res, err := model.Inpaint(ctx, pianoroll.Image(song.Notes, *from, w), mask, roll.Options{
		Sampler: *samplerName, Steps: *steps, Jumps: *repaint, Candidates: *candidates,
		Percentile: *percentile, Seed: *seed,
	})
	if err != nil {
		return fmt.Errorf("inpaint: %w", err)
	}
	gen, err := pianoroll.FromImage(res.Candidates[res.Pick], w, *from)
	if err != nil {
		return fmt.Errorf("inpaint: %w", err)
	}
	song.Notes = pianoroll.SpliceWindow(song.Notes, gen, *from, w)
	song.Steps = max(song.Steps, pianoroll.NotesEnd(song.Notes))
	var buf bytes.Buffer
	if err := pianoroll.Write(&buf, song); err != nil {
		return fmt.Errorf("inpaint: %w", err)
	}
	if err := safefile.Write(*out, buf.Bytes()); err != nil {
		return fmt.Errorf("inpaint: %w", err)
	}
	if *pngOut != "" {
		cells := make([]bool, len(mask.Cells))
		for i, c := range mask.Cells {
			cells[i] = c != 0
		}
		var pb bytes.Buffer
		if err := pianoroll.WritePNGMasked(&pb, song.Notes, *from, w, 2, cells); err != nil {
			return fmt.Errorf("inpaint: %w", err)
		}
		if err := safefile.Write(*pngOut, pb.Bytes()); err != nil {
			return fmt.Errorf("inpaint: %w", err)
		}
	}
	fmt.Fprintf(stdout, "inpainted %d cells of %s (steps %d-%d) on %s: candidate notes in the mask %v, picked %d; wrote %s\n",
		mask.Count(), *in, *from, *from+w, be.Info().Backend, res.Notes, res.Pick, *out)
	return nil
}

// readMaskPNG reads a W×128 mask image: a pixel brighter than mid-grey is a cell to
// generate; the top row is pitch 127.
func readMaskPNG(path string, w int) (*roll.Mask, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("mask %s: %w", path, err)
	}
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != roll.Pitches {
		return nil, fmt.Errorf("%w: mask %s is %d×%d px, want %d×%d (steps × pitches)", roll.ErrBadTask, path, b.Dx(), b.Dy(), w, roll.Pitches)
	}
	m := roll.NewMask(w)
	for y := 0; y < roll.Pitches; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			if (r+g+bl)/3 > 0x7fff {
				m.Cells[(roll.Pitches-1-y)*w+x] = 1
			}
		}
	}
	return m, nil
}
