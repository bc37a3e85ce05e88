package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	roll "latentstudio/gpu/models/pianoroll"
	"latentstudio/studio/pianoroll"
	"latentstudio/studio/pianoroll/corpus"
	"latentstudio/studio/pianoroll/metrics"
	"latentstudio/studio/safefile"
	"latentstudio/web/music"
)

func init() {
	register(command{name: "listen", summary: "listening check: three inpainting tasks on 32-bar examples, rendered to WAV (fluidsynth) and PNG", run: runListen})
}

// listenWidth is the window every example is cut to: 32 bars, what the model was trained on.
const listenWidth = 512

// listenTask is one of the three one-call tasks the check runs, as `studio inpaint` flags.
type listenTask struct {
	slug, label string
	args        []string
	mask        func() (*roll.Mask, error)
}

var listenTasks = []listenTask{
	{"fill-bars", "fill bars 13-20 (every pitch)", []string{"--bars", "13-20"}, func() (*roll.Mask, error) { return roll.BarsMask(listenWidth, 13, 20) }},
	{"continue", "continue from bar 17", []string{"--task", "continue", "--at", "256"}, func() (*roll.Mask, error) { return roll.ContinueMask(listenWidth, 256) }},
	{"accompany", "accompany: everything below middle C (60) under the kept upper voices", []string{"--task", "accompany", "--line", "60"}, func() (*roll.Mask, error) { return roll.AccompanyMask(listenWidth, 60) }},
}

// listenExample is a 32-bar window of a piece.
type listenExample struct {
	name  string
	notes []pianoroll.Note // relative to the window
	bpm   float64
}

func runListen(ctx context.Context, args []string) error { return listenTo(ctx, args, os.Stdout) }

func listenTo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	valid := fs.String("valid", "build/music/valid.safetensors", "validation corpus to take the examples from (task data:music); when missing, assets/examples/*.mid")
	examples := fs.String("examples", "assets/examples", "folder of example MIDI files, used when --valid is missing")
	pieces := fs.String("pieces", "mma/00757-PopBallad2Plus-G-100,mma-examples/simple/bill-bailey,mma/00269-BossaNova1SusPlus-Cm-127", "validation pieces for the three tasks, in order (others are taken when missing)")
	out := fs.String("out", "build/listen", "output folder")
	soundfont := fs.String("soundfont", "/usr/share/sounds/sf2/FluidR3_GM.sf2", "SoundFont for fluidsynth")
	steps := fs.Int("steps", 30, "sampler steps")
	repaint := fs.Int("repaint", 2, "RePaint jumps U")
	seed := fs.Uint64("seed", 1, "noise seed")
	engine := fs.String("engine", "", "auto | cuda | cpu (default: STUDIO_ENGINE, else auto)")
	weights := fs.String("weights", "", "weights file (default "+music.ShippedWeights+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	synth, err := exec.LookPath("fluidsynth")
	if err != nil {
		return errors.New("listen: fluidsynth not found: install it (Debian: apt-get install fluidsynth fluid-soundfont-gm)")
	}
	if _, err := os.Stat(*soundfont); err != nil {
		return fmt.Errorf("listen: soundfont: %w (install fluid-soundfont-gm or pass --soundfont)", err)
	}
	exs, source, err := listenExamples(*valid, *examples, strings.Split(*pieces, ","), len(listenTasks))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var report strings.Builder
	fmt.Fprintf(&report, "# Listening check\n\nExamples from %s; model %s, %d DPM++ 2M SDE steps, U = %d, seed %d, one candidate (percentile 0.5).\n"+
		"Each folder holds original.{mid,wav,png} and inpainted.{mid,wav,png} (mask tinted blue in the PNGs).\n\n", source, weightsPath(*weights), *steps, *repaint, *seed)
	for i, ex := range exs {
		task := listenTasks[i]
		dir := filepath.Join(*out, fmt.Sprintf("%d-%s", i+1, task.slug))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		mask, err := task.mask()
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		cells := make([]bool, len(mask.Cells))
		for j, c := range mask.Cells {
			cells[j] = c != 0
		}
		orig := &pianoroll.Song{Notes: ex.notes, Tempos: []pianoroll.Tempo{{Step: 0, BPM: ex.bpm}}, Steps: listenWidth}
		var mid, png bytes.Buffer
		if err := pianoroll.Write(&mid, orig); err != nil {
			return fmt.Errorf("listen: %s: %w", ex.name, err)
		}
		if err := pianoroll.WritePNGMasked(&png, ex.notes, 0, listenWidth, 2, cells); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		origMID, inpMID := filepath.Join(dir, "original.mid"), filepath.Join(dir, "inpainted.mid")
		if err := safefile.Write(origMID, mid.Bytes()); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		if err := safefile.Write(filepath.Join(dir, "original.png"), png.Bytes()); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		cli := append([]string{"--in", origMID, "--out", inpMID, "--png", filepath.Join(dir, "inpainted.png"),
			"--steps", strconv.Itoa(*steps), "--repaint", strconv.Itoa(*repaint), "--seed", strconv.FormatUint(*seed, 10)}, task.args...)
		if *engine != "" {
			cli = append(cli, "--engine", *engine)
		}
		if *weights != "" {
			cli = append(cli, "--weights", *weights)
		}
		fmt.Fprintf(stdout, "%d. %s: studio inpaint %s\n", i+1, ex.name, strings.Join(cli, " "))
		if err := inpaintTo(ctx, cli, stdout); err != nil {
			return fmt.Errorf("listen: %s: %w", ex.name, err)
		}
		f, err := os.Open(inpMID)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		gen, err := pianoroll.Read(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("listen: %s: %w", inpMID, err)
		}
		for _, name := range []string{"original", "inpainted"} {
			wav := filepath.Join(dir, name+".wav")
			cmd := exec.CommandContext(ctx, synth, "-ni", "-g", "0.7", "-r", "44100", "-F", wav, *soundfont, filepath.Join(dir, name+".mid"))
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("listen: fluidsynth %s: %v: %s", wav, err, b)
			}
		}
		fmt.Fprintf(&report, "## %d. %s — %s (%.0f BPM) in `%s`\n\n%s\n", i+1, task.label, ex.name, ex.bpm, dir, listenFacts(ex.notes, gen.Notes, cells))
	}
	path := filepath.Join(*out, "facts.md")
	if err := safefile.Write(path, []byte(report.String())); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "\n%s\nwrote %s\n", report.String(), path)
	return nil
}

// listenExamples takes one 32-bar window per task: from the named validation pieces (their
// first window with at least 64 notes), else other pieces, else the example MIDI files.
func listenExamples(valid, dir string, names []string, n int) ([]listenExample, string, error) {
	var exs []listenExample
	if ps, _, err := corpus.ReadSafetensors(valid); err == nil {
		window := func(p corpus.Piece) bool {
			ws := metrics.Windows(p.Notes, p.Steps, listenWidth, 64)
			if len(ws) == 0 {
				return false
			}
			exs = append(exs, listenExample{name: p.Name, notes: ws[0], bpm: bpmFromName(p.Name)})
			return true
		}
		used := map[string]bool{}
		for _, name := range names {
			for _, p := range ps {
				if p.Name == name && len(exs) < n && window(p) {
					used[p.Name] = true
				}
			}
		}
		for _, p := range ps {
			if len(exs) < n && !used[p.Name] && window(p) {
				used[p.Name] = true
			}
		}
		if len(exs) == n {
			return exs, valid, nil
		}
		exs = nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.mid"))
	slices.Sort(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, "", err
		}
		s, err := pianoroll.Parse(b)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", f, err)
		}
		ws := metrics.Windows(s.Notes, s.Steps, listenWidth, 64)
		if len(ws) > 0 && len(exs) < n {
			exs = append(exs, listenExample{name: filepath.Base(f), notes: ws[0], bpm: s.BPMAt(0)})
		}
	}
	if len(exs) < n {
		return nil, "", fmt.Errorf("need %d examples of 32 bars: %s is missing (go tool -modfile=tools/go.mod task data:music) and %s holds %d", n, valid, dir, len(exs))
	}
	return exs, dir, nil
}

// bpmFromName reads the tempo an mma corpus song carries in its name (…-Key-BPM).
func bpmFromName(name string) float64 {
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		if v, err := strconv.Atoi(name[i+1:]); err == nil && v >= 40 && v <= 250 {
			return float64(v)
		}
	}
	return pianoroll.DefaultBPM
}

// listenFacts compares, as a markdown table, the notes the model put in the mask with the
// original notes there (the truth) and with the context (notes outside the mask).
func listenFacts(orig, gen []pianoroll.Note, cells []bool) string {
	in := func(n pianoroll.Note) bool { return cells[int(n.Pitch)*listenWidth+n.Start] }
	var truth, context, made []pianoroll.Note
	for _, n := range orig {
		if in(n) {
			truth = append(truth, n)
		} else {
			context = append(context, n)
		}
	}
	for _, n := range gen {
		if n.Start < listenWidth && in(n) {
			made = append(made, n)
		}
	}
	maskBars, ctxBars := 0, 0
	for b := 0; b < listenWidth/16; b++ {
		m, c := false, false
		for p := 0; p < 128; p++ {
			for t := b * 16; t < (b+1)*16; t++ {
				if cells[p*listenWidth+t] {
					m = true
				} else {
					c = true
				}
			}
		}
		if m {
			maskBars++
		}
		if c {
			ctxBars++
		}
	}
	key, scale := estimateKey(context)
	var sb strings.Builder
	fmt.Fprintf(&sb, "Key of the context (Krumhansl–Kessler profile match): %s.\n\n", key)
	sb.WriteString("| notes | count | per bar | pitch range | median pitch | median duration (16ths) | sounding per step | mean velocity | in the context's key | on 8ths | echo |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(label string, ns []pianoroll.Note, bars int) {
		if len(ns) == 0 {
			fmt.Fprintf(&sb, "| %s | 0 | 0 | – | – | – | 0 | – | – | – | – |\n", label)
			return
		}
		var ps, ds []float64
		lo, hi, inKey, echo, sounding, eighths, vel := 127, 0, 0, 0, 0, 0, 0
		for _, n := range ns {
			ps, ds = append(ps, float64(n.Pitch)), append(ds, float64(n.Dur))
			lo, hi = min(lo, int(n.Pitch)), max(hi, int(n.Pitch))
			if scale[n.Pitch%12] {
				inKey++
			}
			if isEcho(n, context) || isEcho(n, ns) {
				echo++
			}
			sounding += min(n.End(), listenWidth) - n.Start
			vel += int(n.Vel)
			if n.Start%2 == 0 {
				eighths++
			}
		}
		pct := func(k int) float64 { return 100 * float64(k) / float64(len(ns)) }
		fmt.Fprintf(&sb, "| %s | %d | %.1f | %s–%s | %.0f | %.0f | %.2f | %.0f | %.0f %% | %.0f %% | %.0f %% |\n", label, len(ns), float64(len(ns))/float64(max(bars, 1)),
			pitchName(lo), pitchName(hi), median(ps), median(ds), float64(sounding)/float64(bars*16), float64(vel)/float64(len(ns)), pct(inKey), pct(eighths), pct(echo))
	}
	row("original in the mask (truth)", truth, maskBars)
	row("generated in the mask", made, maskBars)
	row("context (outside the mask)", context, ctxBars)
	sb.WriteString("\n\"echo\": notes that repeat a note of the same pitch (of the context or of the same row) 1, 2, 4, 8 or 16 bars earlier at the same place in the bar; \"on 8ths\": onsets on an 8th-note position.\n")
	return sb.String()
}

func isEcho(n pianoroll.Note, earlier []pianoroll.Note) bool {
	for _, c := range earlier {
		if c.Pitch == n.Pitch {
			switch n.Start - c.Start {
			case 16, 32, 64, 128, 256:
				return true
			}
		}
	}
	return false
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var pitchClasses = []string{"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"}

func pitchName(p int) string { return fmt.Sprintf("%s%d", pitchClasses[p%12], p/12-1) }

// estimateKey matches the duration-weighted pitch-class histogram of notes to the
// Krumhansl–Kessler major and minor profiles; the scale is the major scale, or for minor
// the natural minor scale plus the raised seventh.
func estimateKey(notes []pianoroll.Note) (string, [12]bool) {
	major := []float64{6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88}
	minor := []float64{6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17}
	var h [12]float64
	for _, n := range notes {
		h[n.Pitch%12] += float64(n.Dur)
	}
	best, bestR, bestMinor := 0, math.Inf(-1), false
	for tonic := 0; tonic < 12; tonic++ {
		for _, prof := range [][]float64{major, minor} {
			rot := make([]float64, 12)
			for i := range rot {
				rot[(tonic+i)%12] = prof[i]
			}
			if r := correlation(h[:], rot); r > bestR {
				best, bestR, bestMinor = tonic, r, &prof[0] == &minor[0]
			}
		}
	}
	steps, name := []int{0, 2, 4, 5, 7, 9, 11}, pitchClasses[best]+" major"
	if bestMinor {
		steps, name = []int{0, 2, 3, 5, 7, 8, 10, 11}, pitchClasses[best]+" minor"
	}
	var scale [12]bool
	for _, s := range steps {
		scale[(best+s)%12] = true
	}
	return fmt.Sprintf("%s (r = %.2f)", name, bestR), scale
}

func correlation(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma, mb = ma+a[i]/float64(len(a)), mb+b[i]/float64(len(b))
	}
	var num, da, db float64
	for i := range a {
		num += (a[i] - ma) * (b[i] - mb)
		da += (a[i] - ma) * (a[i] - ma)
		db += (b[i] - mb) * (b[i] - mb)
	}
	if da == 0 || db == 0 {
		return 0
	}
	return num / math.Sqrt(da*db)
}
