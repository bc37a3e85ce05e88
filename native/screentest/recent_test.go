package screentest

import (
	"encoding/json"
	"image"
	"image/draw"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRecentProjects switches projects in the window: Ctrl+P lists the recent projects, "New
// project" opens an empty one, and picking the first project again from the list brings back
// its note. The recent list on disk follows, newest first.
func TestRecentProjects(t *testing.T) {
	needXvfb(t)
	x := startXvfb(t, screenW, screenH)
	a := startApp(t, x, true)

	first := a.waitFor("the project to open", 60*time.Second, func(s state) bool { return s.Ready && s.View.StepW > 0 })
	a.measure(first)
	projectA := first.st.Project
	if projectA != a.project {
		t.Fatalf("window shows project %q, the app said %q", projectA, a.project)
	}
	top, left := int(first.st.View.Top), int(first.st.View.Left)
	first.st.click(a, "tool.Pencil")
	px, py := first.st.cell(left+3, top-5)
	a.drag(px, py, px, py)
	a.park(first.st)
	a.waitFor("the note saved", 20*time.Second, func(s state) bool { return s.Notes == 1 && s.Connection == "saved" })

	a.key("ctrl+p")
	list := a.waitFor("the recent list", 10*time.Second, func(s state) bool { return s.Picker })
	list.st.click(a, "recent.new")
	b := a.waitFor("a new project", 30*time.Second, func(s state) bool {
		return !s.Picker && s.Project != projectA && s.Ready && s.View.StepW > 0
	})
	if b.st.Notes != 0 {
		t.Fatalf("the new project has %d notes", b.st.Notes)
	}

	a.key("ctrl+p")
	list = a.waitFor("the recent list", 10*time.Second, func(s state) bool { return s.Picker })
	saveTo(t, "desktop-recent", cropPicker(list))
	list.st.click(a, "recent.1") // newest first: the new project, then the first one
	back := a.waitFor("the first project again", 30*time.Second, func(s state) bool {
		return !s.Picker && s.Project == projectA && s.Ready && s.Notes == 1
	})
	if back.st.Picker {
		t.Fatal("the list stayed open")
	}

	raw, err := os.ReadFile(filepath.Join(a.home, "config", "latent-studio", "recent.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rl struct {
		Projects []struct{ ID string } `json:"projects"`
	}
	if err := json.Unmarshal(raw, &rl); err != nil {
		t.Fatal(err)
	}
	if len(rl.Projects) != 2 || rl.Projects[0].ID != projectA || rl.Projects[1].ID != b.st.Project {
		t.Fatalf("recent.json %s, want %s then %s", raw, projectA, b.st.Project)
	}
}

// cropPicker cuts the recent-projects panel out of a frame, for docs/.
func cropPicker(s snap) image.Image {
	var r image.Rectangle
	for _, b := range s.st.Picks {
		r = r.Union(image.Rect(int(b.X), int(b.Y), int(b.X+b.W), int(b.Y+b.H)))
	}
	r = image.Rect(r.Min.X-40, r.Min.Y-90, r.Max.X+40, r.Max.Y+40).Intersect(s.img.Bounds())
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Bounds(), s.img, r.Min, draw.Src)
	return out
}
