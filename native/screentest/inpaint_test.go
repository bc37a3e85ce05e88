package screentest

import (
	"os"
	"testing"
	"time"
)

// TestInpaint runs the piano-roll model through the desktop app's own server: a brushed mask,
// Enter, and the candidates come back into the candidate strip. The CPU engine needs minutes
// for the app's default request (4 candidates), so it runs only with STUDIO_XVFB_INPAINT=1.
func TestInpaint(t *testing.T) {
	needXvfb(t)
	if os.Getenv("STUDIO_XVFB_INPAINT") != "1" {
		t.Skip("inpainting on the CPU takes minutes: set STUDIO_XVFB_INPAINT=1")
	}
	x := startXvfb(t, screenW, screenH)
	a := startApp(t, x, true)
	open := a.waitFor("the project to open", 60*time.Second, func(s state) bool { return s.Ready && s.View.StepW > 0 })
	a.measure(open)
	top, left := int(open.st.View.Top), int(open.st.View.Left)

	// a few notes for the model to continue, then a mask after them
	open.st.click(a, "tool.Pencil")
	for i, p := range []int{0, 4, 7, 4} {
		px, py := open.st.cell(left+4*i, top-12+p)
		qx, _ := open.st.cell(left+4*i+2, top-12+p)
		a.drag(px, py, qx, py)
	}
	open.st.click(a, "tool.Brush")
	for row := top - 16; row <= top-4; row += 3 {
		x0, y := open.st.cell(left+18, row)
		x1, _ := open.st.cell(left+30, row)
		a.drag(x0, y, x1, y)
	}
	a.park(open.st)
	masked := a.waitFor("the mask", 10*time.Second, func(s state) bool { return s.MaskCells > 0 && s.Notes == 4 })

	t0 := time.Now()
	masked.st.click(a, "inpaint")
	a.waitFor("the job to start", 30*time.Second, func(s state) bool { return s.Inpainting || s.LastError != "" })
	done := a.waitFor("the candidates", 15*time.Minute, func(s state) bool { return !s.Inpainting && (s.Candidates > 0 || s.LastError != "") })
	t.Logf("inpainting took %v: %d candidates, %d generated notes in the song, error %q",
		time.Since(t0).Round(time.Second), done.st.Candidates, done.st.Generated, done.st.LastError)
	if done.st.LastError != "" {
		t.Fatalf("inpaint: %s", done.st.LastError)
	}
	saveTo(t, "desktop-inpaint", done.img)
}
