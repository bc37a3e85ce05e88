package desktop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"latentstudio/web/projects"
	"latentstudio/web/security"
	"latentstudio/web/server"
)

// Backend is the studio server the desktop app talks to: one started in this process on a
// free loopback port, or a running one named with --server (maybe on a GPU machine elsewhere).
type Backend struct {
	URL   string // http base URL, without a trailing slash
	Token string
	Place string // key of its projects in the recent list

	local *server.Server // nil for a remote server
	done  chan error     // the in-process server's Serve result
	stop  context.CancelFunc
	http  *http.Client
}

// StartLocal starts the studio server in-process, as `studio serve` would, on 127.0.0.1 with a
// random port and a fresh token (other local users cannot reach the projects through it).
func StartLocal(ctx context.Context, dataDir, engine string, out io.Writer, log *slog.Logger) (*Backend, error) {
	cfg := server.Config{
		Listen: "127.0.0.1:0",
		Data:   dataDir,
		Token:  security.NewToken(),
		Engine: engine,
		Keep:   20,
		Log:    log,
		Out:    out,
	}
	s, err := server.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("start the local studio server: %w", err)
	}
	if err := s.Start(); err != nil {
		return nil, fmt.Errorf("start the local studio server: %w", err)
	}
	// Only Close stops it: a Ctrl+C ends the window first, and the app's last save on the way
	// out still needs the server.
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	b := &Backend{
		URL:   "http://" + s.Addr(),
		Token: s.Token(),
		Place: localPlace(s.Store.Dir()),
		local: s,
		done:  make(chan error, 1),
		stop:  stop,
		http:  newClient(),
	}
	go func() { b.done <- s.Serve(sctx) }()
	return b, nil
}

// ConnectRemote checks that a studio server answers at base (and accepts the token).
func ConnectRemote(ctx context.Context, base, token string) (*Backend, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want a URL such as http://gpu-box:7380", base)
	}
	if t := u.Query().Get("token"); t != "" && token == "" {
		token = t // the URL the server printed carries its token
	}
	u.RawQuery, u.Fragment = "", ""
	b := &Backend{
		URL:   strings.TrimRight(u.String(), "/"),
		Token: token,
		http:  newClient(),
	}
	b.Place = b.URL
	resp, err := b.do(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return nil, fmt.Errorf("studio server at %s does not answer (start it with `studio serve`, or leave out --server to run one in this app): %w", b.URL, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return b, nil
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("studio server at %s wants a token: pass --token or the URL it printed (…/?token=…)", b.URL)
	}
	return nil, fmt.Errorf("studio server at %s: /healthz answered %s", b.URL, resp.Status)
}

// newClient talks to the studio's HTTP side. Redirects are not followed: the one answer
// that redirects (a new project, 303 to /p/ID) carries what we want in its Location.
func newClient() *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (b *Backend) do(ctx context.Context, method, path string, body url.Values) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, b.URL+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.Token != "" {
		req.Header.Set("Authorization", "Bearer "+b.Token)
	}
	return b.http.Do(req)
}

// WebSocket is the URL of the server's websocket.
func (b *Backend) WebSocket() string {
	return "ws" + strings.TrimPrefix(b.URL, "http") + "/ws"
}

// Browser is the URL that opens the same studio in a browser.
func (b *Backend) Browser() string {
	if b.Token != "" {
		return b.URL + "/?token=" + url.QueryEscape(b.Token)
	}
	return b.URL + "/"
}

// ErrNoProject says a project named with --project (or remembered) is not on the server.
var ErrNoProject = errors.New("no such project")

// Exists asks the server whether a project is there.
func (b *Backend) Exists(ctx context.Context, id string) (bool, error) {
	if b.local != nil {
		_, err := b.local.Store.Get(id)
		return err == nil, nil
	}
	resp, err := b.do(ctx, http.MethodGet, "/projects/"+url.PathEscape(id)+"/files/"+projects.SongFile, nil)
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound, http.StatusBadRequest: // a malformed id is not a project either
		return false, nil
	}
	return false, fmt.Errorf("project %s on %s: %s", id, b.URL, resp.Status)
}

// Name is the project's name where the server tells it cheaply ("" otherwise).
func (b *Backend) Name(id string) string {
	if b.local == nil {
		return ""
	}
	m, err := b.local.Store.Get(id)
	if err != nil {
		return ""
	}
	return m.Name
}

// Create makes a new piano-roll project and returns its id.
func (b *Backend) Create(ctx context.Context, name string) (string, error) {
	kind := projects.PianoRoll().Name
	if b.local != nil {
		m, err := b.local.Projects.Create(kind, name)
		if err != nil {
			return "", err
		}
		return m.ID, nil
	}
	// The server's form answers 303 See Other to /p/ID (not followed: see newClient).
	resp, err := b.do(ctx, http.MethodPost, "/projects", url.Values{"kind": {kind}, "name": {name}})
	if err != nil {
		return "", fmt.Errorf("create a project on %s: %w", b.URL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/p/") {
		return "", fmt.Errorf("create a project on %s: %s", b.URL, resp.Status)
	}
	return strings.TrimPrefix(loc, "/p/"), nil
}

// Newest is the most recently changed piano-roll project of the in-process server's data
// directory (a remote server's list is not asked for).
func (b *Backend) Newest() (id, name string, ok bool) {
	if b.local == nil {
		return "", "", false
	}
	list, _, err := b.local.Store.List()
	if err != nil {
		return "", "", false
	}
	kind := projects.PianoRoll().Name
	sort.SliceStable(list, func(i, j int) bool { return list[i].Modified.After(list[j].Modified) })
	for _, m := range list {
		if m.Kind == kind {
			return m.ID, m.Name, true
		}
	}
	return "", "", false
}

// DataDir is the in-process server's data directory ("" for a remote server).
func (b *Backend) DataDir() string {
	if b.local == nil {
		return ""
	}
	return b.local.Store.Dir()
}

// Close shuts the in-process server down gracefully (jobs cancelled, saves flushed).
func (b *Backend) Close() error {
	if b.local == nil {
		return nil
	}
	b.stop()
	select {
	case err := <-b.done:
		return err
	case <-time.After(15 * time.Second):
		return errors.New("local studio server did not stop within 15 s")
	}
}

// PickProject decides which project to open: the one named, else the most recent one of this
// server that still exists, else (local) the newest in the data directory, else a new one.
func PickProject(ctx context.Context, b *Backend, recent *RecentList, named string, fresh bool) (id, name string, err error) {
	if named != "" {
		ok, err := b.Exists(ctx, named)
		if err != nil {
			return "", "", err
		}
		if !ok {
			return "", "", fmt.Errorf("%w %q on %s (the recent ones: studio-desktop --recent)", ErrNoProject, named, b.Place)
		}
		return named, firstNonEmpty(b.Name(named), recentName(recent, b.Place, named)), nil
	}
	if !fresh {
		for _, r := range recent.At(b.Place) {
			ok, err := b.Exists(ctx, r.ID)
			if err != nil {
				return "", "", err
			}
			if ok {
				return r.ID, firstNonEmpty(b.Name(r.ID), r.Name), nil
			}
			recent.Remove(r.Place, r.ID) // deleted on the server since
		}
		if id, name, ok := b.Newest(); ok {
			return id, name, nil
		}
	}
	name = "Desktop " + time.Now().Format("2006-01-02 15:04:05")
	id, err = b.Create(ctx, name)
	return id, name, err
}

func recentName(l *RecentList, place, id string) string {
	for _, r := range l.At(place) {
		if r.ID == id {
			return r.Name
		}
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
