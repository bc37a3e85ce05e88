package desktop

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func testServer(t *testing.T) *Backend {
	t.Helper()
	b, err := StartLocal(context.Background(), t.TempDir(), "cpu", io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func TestPickProjectLocal(t *testing.T) {
	ctx := context.Background()
	b := testServer(t)
	var recent RecentList

	id, name, err := PickProject(ctx, b, &recent, "", false)
	if err != nil || id == "" || !strings.HasPrefix(name, "Desktop ") {
		t.Fatalf("first start makes a project: %q %q %v", id, name, err)
	}
	recent.Add(Recent{Place: b.Place, ID: id, Name: name, Opened: time.Now()})

	again, _, err := PickProject(ctx, b, &recent, "", false)
	if err != nil || again != id {
		t.Fatalf("second start opens the recent project %s, got %s %v", id, again, err)
	}
	fresh, _, err := PickProject(ctx, b, &recent, "", true)
	if err != nil || fresh == id {
		t.Fatalf("--new: %s %v", fresh, err)
	}
	if _, _, err := PickProject(ctx, b, &recent, "nosuchproject", false); !errors.Is(err, ErrNoProject) {
		t.Fatalf("unknown --project: %v", err)
	}

	// A recent project deleted since is skipped and dropped; the newest one in the data
	// directory opens instead of a new one.
	if err := b.local.Store.Delete(id); err != nil {
		t.Fatal(err)
	}
	got, _, err := PickProject(ctx, b, &recent, "", false)
	if err != nil || got != fresh {
		t.Fatalf("after delete: %s %v, want the other project %s", got, err, fresh)
	}
	if len(recent.At(b.Place)) != 0 {
		t.Fatalf("deleted project still in the recent list: %+v", recent.Projects)
	}
}

func TestRemoteServer(t *testing.T) {
	ctx := context.Background()
	local := testServer(t)

	if _, err := ConnectRemote(ctx, local.URL, "wrong"); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := ConnectRemote(ctx, "gpu-box:7380", ""); err == nil {
		t.Fatal("URL without scheme accepted")
	}
	// The URL the server prints carries its token.
	r, err := ConnectRemote(ctx, local.Browser(), "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Token != local.Token || r.Place != local.URL || r.WebSocket() != "ws"+strings.TrimPrefix(local.URL, "http")+"/ws" {
		t.Fatalf("remote %+v", r)
	}
	var recent RecentList
	id, _, err := PickProject(ctx, r, &recent, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := local.local.Store.Get(id); err != nil || m.Kind != "pianoroll" {
		t.Fatalf("project made over HTTP: %+v %v", m, err)
	}
	if ok, err := r.Exists(ctx, id); !ok || err != nil {
		t.Fatalf("Exists(%s) = %v %v", id, ok, err)
	}
	if ok, err := r.Exists(ctx, "nope"); ok || err != nil {
		t.Fatalf("Exists(nope) = %v %v", ok, err)
	}
	if got, _, err := PickProject(ctx, r, &recent, id, false); err != nil || got != id {
		t.Fatalf("--project on a remote server: %s %v", got, err)
	}
	if _, err := ConnectRemote(ctx, "http://127.0.0.1:1", ""); err == nil {
		t.Fatal("a closed port answered")
	}
}
