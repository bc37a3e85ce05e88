package screentest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"latentstudio/studio/pianoroll"
)

// TestDropMIDI drops files on the window through XDND, as from a file manager: a corrupt .mid
// and a 60 MB one are refused with a message and leave the song as it was; a real MIDI file
// replaces the song, shows its notes and is saved to the project. Undo takes the drop back,
// Ctrl+O (Open MIDI through the desktop's file dialog) brings the song in again, and Ctrl+E
// exports it as a file in the export folder, named after the project.
func TestDropMIDI(t *testing.T) {
	needXvfb(t)
	dir := t.TempDir()
	song := &pianoroll.Song{}
	for i := range 12 {
		song.Notes = append(song.Notes, pianoroll.Note{Start: 4 * i, Dur: 3, Pitch: uint8(60 + i%5*2), Vel: 90})
	}
	var mid bytes.Buffer
	if err := pianoroll.Write(&mid, song); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "twelve notes.mid")
	bad := filepath.Join(dir, "corrupt.mid")
	big := filepath.Join(dir, "huge.mid")
	os.WriteFile(good, mid.Bytes(), 0o644)
	os.WriteFile(bad, []byte("MThd this is not a MIDI file at all"), 0o644)
	if f, err := os.Create(big); err != nil {
		t.Fatal(err)
	} else {
		f.Truncate(60 << 20) // sparse: 60 MB on paper, nothing on disk
		f.Close()
	}

	// File → Open MIDI (Ctrl+O) runs zenity; a GTK dialog cannot be driven here, so a stand-in
	// zenity on PATH answers with the path a person would pick, exactly as zenity prints it.
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	picked := filepath.Join(dir, "picked.mid")
	os.WriteFile(picked, mid.Bytes(), 0o644)
	os.WriteFile(filepath.Join(bin, "zenity"), []byte("#!/bin/sh\necho '"+picked+"'\n"), 0o755)

	x := startXvfb(t, screenW, screenH)
	a := startApp(t, x, true, "PATH="+bin+":"+os.Getenv("PATH"))
	open := a.waitFor("the project to open", 60*time.Second, func(s state) bool { return s.Ready && s.View.StepW > 0 })
	a.measure(open)
	v := open.st.View
	cx, cy := int(v.GridX+v.GridW/2), int(v.GridY+v.GridH/2)
	d := newXdnd(t, x.display)
	win := windowID(t, a.window)

	d.drop(win, cx, cy, bad)
	got := a.waitFor("the corrupt file refused", 10*time.Second, func(s state) bool { return strings.Contains(s.LastError, "corrupt.mid") }).st
	if !strings.Contains(got.LastError, "could not open corrupt.mid") || !strings.Contains(got.LastError, "unchanged") || got.Notes != 0 {
		t.Fatalf("corrupt file: %q, %d notes", got.LastError, got.Notes)
	}

	d.drop(win, cx, cy, big)
	got = a.waitFor("the huge file refused", 10*time.Second, func(s state) bool { return strings.Contains(s.LastError, "huge.mid") }).st
	if !strings.Contains(got.LastError, "60 MB") || !strings.Contains(got.LastError, "refused") || got.Notes != 0 {
		t.Fatalf("60 MB file: %q, %d notes", got.LastError, got.Notes)
	}

	d.drop(win, cx, cy, good)
	a.park(open.st)
	dropped := a.waitFor("the dropped song", 10*time.Second, func(s state) bool { return s.Notes == len(song.Notes) })
	saveTo(t, "desktop-drop", dropped.img)
	a.waitFor("the dropped song saved", 20*time.Second, func(s state) bool { return s.Connection == "saved" && s.Version > 1 })
	saved := savedSong(t, a.data, a.project)
	if len(saved.Notes) != len(song.Notes) {
		t.Fatalf("saved %d notes, dropped %d", len(saved.Notes), len(song.Notes))
	}
	for i, n := range saved.Notes {
		w := song.Notes[i]
		if n.Start != w.Start || n.Dur != w.Dur || n.Pitch != w.Pitch || n.Vel != w.Vel {
			t.Fatalf("saved note %d: %+v, dropped %+v", i, n, w)
		}
	}

	// Open MIDI through the file dialog: undo the drop first, then pick the same song.
	a.key("ctrl+z")
	a.waitFor("the drop undone", 10*time.Second, func(s state) bool { return s.Notes == 0 })
	a.key("ctrl+o")
	got = a.waitFor("the picked song", 10*time.Second, func(s state) bool { return s.Notes == len(song.Notes) }).st
	if got.LastError != "" && !strings.Contains(got.LastError, "huge.mid") {
		t.Fatalf("open through the dialog: %q", got.LastError)
	}

	a.key("ctrl+e")
	path, ex := exported(t, a, filepath.Join(a.home, "export"))
	if !strings.HasPrefix(filepath.Base(path), "Desktop ") || len(ex.Notes) != len(song.Notes) {
		t.Fatalf("export %s: %d notes", path, len(ex.Notes))
	}
	if !strings.Contains(a.out.String(), "exported "+path) {
		t.Fatalf("the app did not say where the export went:\n%s", a.out.String())
	}
	a.waitFor("the export's folder in a toast", 10*time.Second, func(s state) bool {
		for _, m := range s.Toasts {
			if strings.Contains(m, path) {
				return true
			}
		}
		return false
	})
}

// exported waits for the one MIDI file in dir and parses it.
func exported(t *testing.T, a *app, dir string) (string, *pianoroll.Song) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "[^.]*.mid")) // not the hidden temp file
		if len(files) == 1 {
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			song, err := pianoroll.Parse(b)
			if err != nil {
				t.Fatalf("exported %s: %v", files[0], err)
			}
			return files[0], song
		}
		if len(files) > 1 {
			t.Fatalf("several exports: %v", files)
		}
		a.checkRunning(deadline, "for the exported file in "+dir)
		time.Sleep(100 * time.Millisecond)
	}
}
