package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/pianoroll/corpus"
)

// A piece that repeats one bar: the copy-the-bars-before baseline restores every mask exactly,
// so the table must show perfect overlaps, zero KL and zero leakage.
func TestEvalBaselineOnRepeatingPiece(t *testing.T) {
	var notes []pianoroll.Note
	for b := 0; b < 64; b++ {
		for _, n := range []pianoroll.Note{{Start: 0, Dur: 4, Pitch: 48, Vel: 90}, {Start: 4, Dur: 4, Pitch: 64, Vel: 80}, {Start: 8, Dur: 2, Pitch: 67, Vel: 70}, {Start: 10, Dur: 6, Pitch: 72, Vel: 100}} {
			n.Start += 16 * b
			notes = append(notes, n)
		}
	}
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.safetensors")
	if err := corpus.WriteSafetensors(valid, []corpus.Piece{{Name: "loop", Notes: notes, Steps: 1024}}, nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "table.md")
	pngs := filepath.Join(dir, "png")
	var stdout bytes.Buffer
	if err := evalTo(context.Background(), []string{"-valid", valid, "-out", out, "-png", pngs, "-png-windows", "1"}, &stdout); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	table := string(b)
	if stdout.String() != table {
		t.Error("stdout and -out differ")
	}
	for _, row := range []string{
		"| D_P | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |",
		"| D_D | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |",
		"| KL_P | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 |",
		"| leak cells | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 |",
		"2 windows of 512 steps",
	} {
		if !strings.Contains(table, row) {
			t.Errorf("table lacks %q:\n%s", row, table)
		}
	}
	if _, err := os.Stat(filepath.Join(pngs, "bars-0-inpainted.png")); err != nil {
		t.Error(err)
	}
	if err := runEval(context.Background(), []string{"-valid", valid, "-inpainter", "oracle"}); err == nil || !strings.Contains(err.Error(), "unknown inpainter") {
		t.Errorf("unknown inpainter: %v", err)
	}
	if err := runEval(context.Background(), []string{"-valid", filepath.Join(dir, "missing")}); err == nil || !strings.Contains(err.Error(), "task data:music") {
		t.Errorf("missing corpus: %v", err)
	}
}
