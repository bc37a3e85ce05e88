//go:build e2e

package e2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"latentstudio/web/canvas"
)

// theCanvas is the browser canvas every test server serves: built once per run from this
// checkout (or found in the build cache), started before the first test so that tests which
// do not need it run while it builds.
var theCanvas *canvas.Canvas

func TestMain(m *testing.M) {
	theCanvas = canvas.Open(canvas.Config{Dir: os.Getenv("STUDIO_WASM"), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	theCanvas.Start()
	os.Exit(m.Run())
}

// canvasReady waits for the canvas build (minutes on a cold cache) and fails when it failed.
func canvasReady(t testing.TB) canvas.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	st := theCanvas.Wait(ctx)
	if st.State != canvas.Ready {
		t.Fatalf("browser canvas %s: %s", st.State, st.Message)
	}
	if d := time.Since(start); d > time.Second {
		t.Logf("waited %s for the canvas build", d.Round(time.Second))
	}
	return st
}
