// Package handlers is the studio's HTTP layer: it reads requests, calls the services
// (projects, store, jobs, engine) and renders components. No logic of its own.
package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/a-h/templ"

	"latentstudio/studio/protocol"
	"latentstudio/web/canvas"
	"latentstudio/web/components"
	"latentstudio/web/engine"
	"latentstudio/web/jobs"
	"latentstudio/web/projects"
	"latentstudio/web/security"
	"latentstudio/web/static"
)

// Handlers serve the pages and project files.
type Handlers struct {
	Projects *projects.Service
	Jobs     *jobs.Scheduler
	Engine   engine.Status
	Socket   http.Handler   // the websocket hub
	TestJobs []string       // test job kinds to offer in the editor
	Canvas   *canvas.Canvas // the browser canvas (wasm); nil: the editor says it is missing
	Log      *slog.Logger
}

// Routes returns the studio's mux (without the security wrapper, which the server adds).
func (h *Handlers) Routes() http.Handler {
	if h.Log == nil {
		h.Log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.home)
	mux.HandleFunc("POST /projects", h.create)
	mux.HandleFunc("POST /projects/import", h.importZip)
	mux.HandleFunc("POST /projects/{id}/rename", h.rename)
	mux.HandleFunc("POST /projects/{id}/duplicate", h.duplicate)
	mux.HandleFunc("POST /projects/{id}/delete", h.delete)
	mux.HandleFunc("POST /projects/{id}/restore/{version}", h.restore)
	mux.HandleFunc("GET /projects/{id}/thumb.png", h.thumb)
	mux.HandleFunc("GET /projects/{id}/export.zip", h.export)
	mux.HandleFunc("GET /projects/{id}/files/{file}", h.file)
	mux.HandleFunc("GET /p/{id}", h.editor)
	mux.HandleFunc("GET /p/{id}/canvas", h.canvasFrame)
	if h.Canvas != nil {
		mux.Handle("GET /wasm/", h.Canvas.Handler())
	}
	mux.HandleFunc("GET /trash", h.trash)
	mux.HandleFunc("POST /trash/empty", h.emptyTrash)
	mux.HandleFunc("POST /trash/{entry}/restore", h.undelete)
	mux.HandleFunc("GET /api/engine", h.engineJSON)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static.Files)))
	if h.Socket != nil {
		mux.Handle("GET /ws", h.Socket)
	}
	return mux
}

func (h *Handlers) engineView() components.Engine {
	i := h.Engine.Info()
	return components.Engine{Backend: i.Backend, Label: engine.Label(i), Reason: i.Reason}
}

func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		h.Log.Error("render", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers an error with a status that fits its code and a page that says it.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch protocol.CodeOf(err) {
	case protocol.BadInput:
		status = http.StatusBadRequest
	case protocol.NotFound:
		status = http.StatusNotFound
	case protocol.TooLarge:
		status = http.StatusRequestEntityTooLarge
	case protocol.Busy:
		status = http.StatusServiceUnavailable
	case protocol.Unauthorized:
		status = http.StatusUnauthorized
	}
	if status == http.StatusInternalServerError {
		h.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	msg := protocol.AsError(err).Message
	h.render(w, r, status, components.ErrorPage(h.engineView(), status, msg))
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 24*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return t.Local().Format("2 Jan 2006")
}

func (h *Handlers) homeView(formErr string) (components.Home, error) {
	st := h.Projects.Store
	list, broken, err := st.List()
	if err != nil {
		return components.Home{}, err
	}
	v := components.Home{Engine: h.engineView(), Error: formErr, DataDir: st.Dir()}
	for _, m := range list {
		_, thumb := m.Files[projects.ThumbFile]
		v.Cards = append(v.Cards, components.Card{ID: m.ID, Name: m.Name, Kind: h.Projects.Label(m.Kind), Modified: ago(m.Modified), Version: m.Version, HasThumb: thumb})
	}
	for id, err := range broken {
		v.Broken = append(v.Broken, id+": "+protocol.AsError(err).Message)
	}
	for _, k := range h.Projects.Kinds() {
		v.Kinds = append(v.Kinds, components.KindOption{Name: k.Name, Label: k.Label})
	}
	if tr, err := st.Trash(); err == nil {
		v.Trashed = len(tr)
	}
	return v, nil
}

func (h *Handlers) home(w http.ResponseWriter, r *http.Request) {
	v, err := h.homeView("")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, components.HomePage(v))
}

func (h *Handlers) create(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	m, err := h.Projects.Create(r.FormValue("kind"), r.FormValue("name"))
	if err != nil {
		if protocol.CodeOf(err) == protocol.BadInput || protocol.CodeOf(err) == protocol.NotFound {
			v, verr := h.homeView(protocol.AsError(err).Message)
			if verr == nil {
				h.render(w, r, http.StatusBadRequest, components.HomePage(v))
				return
			}
		}
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/p/"+m.ID, http.StatusSeeOther)
}

func (h *Handlers) rename(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	id := r.PathValue("id")
	if _, err := h.Projects.Store.Rename(id, r.FormValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	if r.FormValue("back") == "editor" {
		http.Redirect(w, r, "/p/"+id, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handlers) duplicate(w http.ResponseWriter, r *http.Request) {
	if _, err := h.Projects.Store.Duplicate(r.PathValue("id"), ""); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handlers) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.Projects.Store.Delete(r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handlers) restore(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		h.fail(w, r, protocol.Errorf(protocol.BadInput, "version must be a number"))
		return
	}
	if _, err := h.Projects.Store.Restore(id, v); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/p/"+id, http.StatusSeeOther)
}

func (h *Handlers) thumb(w http.ResponseWriter, r *http.Request) {
	b, err := h.Projects.Thumbnail(r.PathValue("id"))
	if err != nil {
		http.Error(w, protocol.AsError(err).Message, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

func (h *Handlers) file(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("file")
	m, err := h.Projects.Store.Get(id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := h.Projects.Store.ReadFile(id, name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ct := "application/octet-stream"
	if k, ok := h.Projects.Kind(m.Kind); ok && k.Types[name] != "" {
		ct = k.Types[name]
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Project-Version", strconv.Itoa(m.Version))
	w.Header().Set("X-Project-Name", url.PathEscape(m.Name)) // for the canvas's title; escaped: any Unicode name
	w.Write(b)
}

func (h *Handlers) export(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, err := h.Projects.Store.Get(id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := h.Projects.Store.Export(id, &buf); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(m.Name)+".zip")
	w.Write(buf.Bytes())
}

func (h *Handlers) importZip(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 80<<20)
	f, hdr, err := r.FormFile("zip")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, r, protocol.Errorf(protocol.TooLarge, "the upload is larger than 80 MiB"))
			return
		}
		h.fail(w, r, protocol.Errorf(protocol.BadInput, "choose a .zip file to import"))
		return
	}
	defer f.Close()
	m, err := h.Projects.Store.Import(f, hdr.Size)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/p/"+m.ID, http.StatusSeeOther)
}

func (h *Handlers) editor(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, err := h.Projects.Store.Get(id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	k, _ := h.Projects.Kind(m.Kind)
	v := components.Editor{Engine: h.engineView(), ID: m.ID, Name: m.Name, Kind: m.Kind, Label: h.Projects.Label(m.Kind), Main: k.Main, TestJobs: h.TestJobs}
	for _, j := range h.Jobs.ProjectJobs(id) {
		if canvasKinds[j.Kind] {
			continue // the canvas shows its own jobs; its session ends with the page
		}
		cj := components.Job{ID: j.ID, Kind: j.Kind, State: j.State, Percent: int(j.Percent), Stage: j.Stage}
		if j.ETAms > 0 {
			cj.ETA = strconv.FormatInt((j.ETAms+999)/1000, 10) + " s"
		}
		v.Jobs = append(v.Jobs, cj)
	}
	if vs, err := h.Projects.Store.Versions(id); err == nil {
		for _, ver := range vs {
			v.Versions = append(v.Versions, components.Version{Number: ver.Version, Saved: ago(ver.Saved), Current: ver.Version == m.Version})
		}
	}
	h.render(w, r, http.StatusOK, components.EditorPage(v))
}

// canvasKinds are the job kinds the canvas runs and shows itself (progress, cancel, result);
// the page's job bar leaves them out.
var canvasKinds = map[string]bool{protocol.KindRollInpaint: true}

// canvasFrame is the editor's frame that runs the canvas.
func (h *Handlers) canvasFrame(w http.ResponseWriter, r *http.Request) {
	m, err := h.Projects.Store.Get(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	k, _ := h.Projects.Kind(m.Kind)
	st := canvas.Status{State: canvas.Missing, Message: "this studio serves no browser canvas"}
	if h.Canvas != nil {
		st = h.Canvas.Status()
	}
	w.Header().Set("Content-Security-Policy", security.CanvasCSP)
	h.render(w, r, http.StatusOK, components.CanvasPage(components.Canvas{ID: m.ID, Name: m.Name, Kind: m.Kind, Main: k.Main,
		State: st.State, Message: st.Message, Wasm: st.Wasm, Exec: st.Exec}))
}

func (h *Handlers) trash(w http.ResponseWriter, r *http.Request) {
	tr, err := h.Projects.Store.Trash()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := components.Trash{Engine: h.engineView()}
	for _, t := range tr {
		v.Entries = append(v.Entries, components.Trashed{Entry: t.Entry, Name: t.Manifest.Name, Kind: h.Projects.Label(t.Manifest.Kind)})
	}
	h.render(w, r, http.StatusOK, components.TrashPage(v))
}

func (h *Handlers) emptyTrash(w http.ResponseWriter, r *http.Request) {
	if err := h.Projects.Store.EmptyTrash(); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/trash", http.StatusSeeOther)
}

func (h *Handlers) undelete(w http.ResponseWriter, r *http.Request) {
	if _, err := h.Projects.Store.Undelete(r.PathValue("entry")); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handlers) engineJSON(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(h.Engine.Info())
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
