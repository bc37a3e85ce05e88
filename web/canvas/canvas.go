// Package canvas serves the studio canvas (Go compiled to WebAssembly from ../../wasm) to the
// editor page.
//
// Where the wasm comes from:
//   - a release directory (`--wasm DIR`, written by `task wasm`): studio.wasm, studio.wasm.gz
//     and the wasm_exec.js of the toolchain that built it;
//   - otherwise, in a source checkout with a Go toolchain (`go run ./web/cmd/studio`), the
//     server builds it itself in the background at start, into the user's cache directory
//     under a key made of the wasm's Go sources, go.sum and the Go version, so an unchanged
//     tree never builds twice and the README's one start command needs no extra step.
//
// Until the build is done the editor shows "building the canvas…" (Status); the files are
// served under a URL holding their hash, gzip-compressed when the browser accepts it, and
// cached by the browser for good.
package canvas

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"latentstudio/studio/safefile"
)

// Files of a canvas build.
const (
	WasmFile = "studio.wasm"
	GzipFile = "studio.wasm.gz"
	ExecFile = "wasm_exec.js"
)

// States of the canvas.
const (
	Building = "building" // the server is compiling it (a minute or two the first time)
	Ready    = "ready"
	Failed   = "failed"  // the build failed: Message says why
	Missing  = "missing" // no release directory and no source checkout with a Go toolchain
)

// Status is what the editor page needs to load the canvas.
type Status struct {
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	Hash    string `json:"hash,omitempty"` // URL key of the files (Ready)
	Wasm    string `json:"wasm,omitempty"` // URL of studio.wasm (Ready)
	Exec    string `json:"exec,omitempty"` // URL of wasm_exec.js (Ready)
	Bytes   int64  `json:"bytes,omitempty"`
	Gzip    int64  `json:"gzip,omitempty"`
}

// Config says where the canvas comes from.
type Config struct {
	Dir   string       // release directory with studio.wasm and wasm_exec.js; "" = build from source
	Root  string       // source root (the directory holding go.mod and wasm/); "" = look for it
	Cache string       // build cache directory; "" = os.UserCacheDir()/latentstudio
	Go    string       // the go command; "" = go on PATH
	Pkg   string       // package to build, relative to Root; "" = ./wasm
	Log   *slog.Logger // build and failure lines
}

// Canvas is the served canvas; its zero value is not usable, call Open.
type Canvas struct {
	cfg Config
	b   *build
}

// Open prepares the canvas; nothing is loaded or built until Start (or the first Status).
func Open(cfg Config) *Canvas {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Pkg == "" {
		cfg.Pkg = "./wasm"
	}
	c := &Canvas{cfg: cfg}
	if cfg.Dir != "" {
		c.b = newBuild(func() result { return prebuilt(cfg.Dir) })
		return c
	}
	c.b = shared(cfg)
	return c
}

// Start begins loading or building the canvas in the background (once; later calls do
// nothing). The studio command calls it at start; a server in a test builds only when a
// canvas is first asked for.
func (c *Canvas) Start() {
	c.b.once.Do(func() { go c.b.finish(c.b.run()) })
}

// Status reports the canvas's state now, starting it if it has not started.
func (c *Canvas) Status() Status {
	c.Start()
	return c.b.status()
}

// Wait starts the canvas and blocks until it is ready, failed or missing, or ctx ends.
func (c *Canvas) Wait(ctx context.Context) Status {
	c.Start()
	select {
	case <-c.b.done:
	case <-ctx.Done():
	}
	return c.b.status()
}

// Dir is the directory the ready files are served from ("" until ready).
func (c *Canvas) Dir() string {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return c.b.dir
}

// Handler serves GET /wasm/status (Status as JSON) and /wasm/HASH/FILE.
func (c *Canvas) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/wasm/")
		if rest == "status" {
			b, _ := json.Marshal(c.Status())
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(b)
			return
		}
		hash, name, ok := strings.Cut(rest, "/")
		st := c.Status()
		if !ok || st.State != Ready || hash != st.Hash || (name != WasmFile && name != ExecFile) {
			http.Error(w, "no such canvas file (the canvas was rebuilt: reload the page)", http.StatusNotFound)
			return
		}
		dir := c.Dir()
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		if name == ExecFile {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeFile(w, r, filepath.Join(dir, ExecFile))
			return
		}
		w.Header().Set("Content-Type", "application/wasm")
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			if f, err := os.Open(filepath.Join(dir, GzipFile)); err == nil {
				defer f.Close()
				fi, _ := f.Stat()
				w.Header().Set("Content-Encoding", "gzip")
				http.ServeContent(w, r, GzipFile, fi.ModTime(), f)
				return
			}
		}
		f, err := os.Open(filepath.Join(dir, WasmFile))
		if err != nil {
			http.Error(w, "canvas file unreadable", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		http.ServeContent(w, r, WasmFile, fi.ModTime(), f)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// build is one load or build of the canvas, shared by every server of the process that
// builds the same sources.
type build struct {
	once sync.Once
	run  func() result
	mu   sync.Mutex
	st   Status
	dir  string
	done chan struct{}
}

func newBuild(run func() result) *build {
	return &build{run: run, st: Status{State: Building}, done: make(chan struct{})}
}

func (b *build) status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st
}

// result is a finished load: the directory of the files, or why there is none.
type result struct {
	dir   string
	state string // Ready, Failed or Missing
	msg   string
}

func (b *build) finish(r result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer close(b.done)
	if r.state != Ready {
		b.st = Status{State: r.state, Message: r.msg}
		return
	}
	hash, size, gz, err := describe(r.dir)
	if err != nil {
		b.st = Status{State: Failed, Message: err.Error()}
		return
	}
	b.dir = r.dir
	b.st = Status{State: Ready, Hash: hash, Wasm: "/wasm/" + hash + "/" + WasmFile, Exec: "/wasm/" + hash + "/" + ExecFile, Bytes: size, Gzip: gz}
}

// describe checks a canvas directory, writes studio.wasm.gz when it is missing, and returns
// a hash of the wasm for its URLs.
func describe(dir string) (hash string, size, gz int64, err error) {
	wasm, err := os.ReadFile(filepath.Join(dir, WasmFile))
	if err != nil {
		return "", 0, 0, fmt.Errorf("canvas: %w", err)
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return "", 0, 0, fmt.Errorf("canvas: %s is not a WebAssembly module", filepath.Join(dir, WasmFile))
	}
	if _, err := os.Stat(filepath.Join(dir, ExecFile)); err != nil {
		return "", 0, 0, fmt.Errorf("canvas: %w (copy it from $(go env GOROOT)/lib/wasm of the Go that built the wasm)", err)
	}
	gzPath := filepath.Join(dir, GzipFile)
	fi, err := os.Stat(gzPath)
	if err != nil {
		if err := writeGzip(gzPath, wasm); err != nil {
			return "", 0, 0, err
		}
		if fi, err = os.Stat(gzPath); err != nil {
			return "", 0, 0, err
		}
	}
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:8]), int64(len(wasm)), fi.Size(), nil
}

func writeGzip(path string, data []byte) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return err
	}
	if err := safefile.Write(path, buf.Bytes()); err != nil {
		return fmt.Errorf("canvas: %w", err)
	}
	return nil
}

func prebuilt(dir string) result {
	if _, err := os.Stat(filepath.Join(dir, WasmFile)); err != nil {
		return result{state: Failed, msg: fmt.Sprintf("--wasm %s: %v (build it with `task wasm`)", dir, err)}
	}
	return result{dir: dir, state: Ready}
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

// shared returns the process's build of cfg's sources, starting it when it is the first.
func shared(cfg Config) *build {
	key := cfg.Root + "\x00" + cfg.Cache + "\x00" + cfg.Go + "\x00" + cfg.Pkg
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if b, ok := builds[key]; ok {
		return b
	}
	b := newBuild(func() result { return fromSource(cfg) })
	builds[key] = b
	return b
}

// fromSource builds the wasm from a source checkout, or finds it already built in the cache.
func fromSource(cfg Config) result {
	if cfg.Pkg == "" {
		cfg.Pkg = "./wasm"
	}
	goCmd := cfg.Go
	if goCmd == "" {
		p, err := exec.LookPath("go")
		if err != nil {
			return result{state: Missing, msg: "no Go toolchain to build the browser canvas with: install Go, or start the studio with --wasm DIR (built by `task wasm`)"}
		}
		goCmd = p
	}
	root := cfg.Root
	if root == "" {
		root = findRoot()
		if root == "" {
			return result{state: Missing, msg: "no source checkout to build the browser canvas from: start the studio with --wasm DIR (built by `task wasm`), or from the repository"}
		}
	}
	cache := cfg.Cache
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			d = os.TempDir()
		}
		cache = filepath.Join(d, "latentstudio")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	key, goroot, err := sourceKey(ctx, goCmd, root, cfg.Pkg)
	if err != nil {
		return result{state: Failed, msg: err.Error()}
	}
	dir := filepath.Join(cache, "wasm-"+key)
	if _, err := os.Stat(filepath.Join(dir, GzipFile)); err == nil {
		cfg.Log.Info("browser canvas: cached build", "dir", dir)
		return result{dir: dir, state: Ready}
	}
	cfg.Log.Info("browser canvas: building the wasm in the background (a minute or two, once per change)", "dir", dir)
	start := time.Now()
	if err := Build(ctx, goCmd, goroot, root, cfg.Pkg, dir); err != nil {
		cfg.Log.Error("browser canvas: build failed", "err", err)
		return result{state: Failed, msg: err.Error()}
	}
	cfg.Log.Info("browser canvas: built", "took", time.Since(start).Round(time.Second))
	prune(cache, filepath.Base(dir), 3)
	return result{dir: dir, state: Ready}
}

// findRoot looks for the source root from the working directory up, then beside this file
// (a `go run` binary keeps its source paths).
func findRoot() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, d := range starts {
		for {
			if isRoot(d) {
				return d
			}
			up := filepath.Dir(d)
			if up == d {
				break
			}
			d = up
		}
	}
	return ""
}

func isRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("module latentstudio")) {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "wasm"))
	return err == nil
}

func goEnv(ctx context.Context, goCmd, dir string, extra []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extra...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}

var wasmEnv = []string{"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0"}

// sourceKey hashes what the wasm is built from: the Go version, go.mod and go.sum (the
// versions of every outside module) and every file of the module's own packages the wasm
// imports (Go and embedded files).
func sourceKey(ctx context.Context, goCmd, root, pkg string) (key, goroot string, err error) {
	env, err := goEnv(ctx, goCmd, root, nil, "env", "GOVERSION", "GOROOT")
	if err != nil {
		return "", "", err
	}
	lines := strings.Split(strings.TrimSpace(string(env)), "\n")
	if len(lines) != 2 {
		return "", "", fmt.Errorf("go env: unexpected output %q", env)
	}
	goroot = lines[1]
	list, err := goEnv(ctx, goCmd, root, wasmEnv, "list", "-deps",
		"-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{range .EmbedFiles}}|{{.}}{{end}}{{end}}{{end}}`, pkg)
	if err != nil {
		return "", "", fmt.Errorf("the browser canvas does not build: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", lines[0])
	var files []string
	for _, name := range []string{"go.mod", "go.sum"} {
		files = append(files, filepath.Join(root, name))
	}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		parts := strings.Split(line, "|")
		for _, f := range parts[1:] {
			files = append(files, filepath.Join(parts[0], f))
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && filepath.Base(f) == "go.sum") {
			return "", "", fmt.Errorf("hash the canvas sources: %w", err)
		}
		rel, _ := filepath.Rel(root, f)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:10]), goroot, nil
}

// Build compiles pkg (in root) to dir/studio.wasm with the toolchain at goCmd, writes
// studio.wasm.gz and copies the toolchain's wasm_exec.js beside it. dir appears whole or not
// at all (built in a temporary directory, then renamed).
func Build(ctx context.Context, goCmd, goroot, root, pkg, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("canvas cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("canvas cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := goEnv(ctx, goCmd, root, wasmEnv, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
		"-o", filepath.Join(tmp, WasmFile), pkg); err != nil {
		return fmt.Errorf("building the browser canvas failed: %w", err)
	}
	if err := copyExec(goroot, filepath.Join(tmp, ExecFile)); err != nil {
		return err
	}
	wasm, err := os.ReadFile(filepath.Join(tmp, WasmFile))
	if err != nil {
		return err
	}
	if err := writeGzip(filepath.Join(tmp, GzipFile), wasm); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, GzipFile)); serr == nil {
			return nil // another studio built the same sources first
		}
		return fmt.Errorf("canvas cache: %w", err)
	}
	return nil
}

func copyExec(goroot, to string) error {
	for _, rel := range []string{"lib/wasm/wasm_exec.js", "misc/wasm/wasm_exec.js"} {
		b, err := os.ReadFile(filepath.Join(goroot, rel))
		if err == nil {
			return os.WriteFile(to, b, 0o644)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return fmt.Errorf("no wasm_exec.js in %s/lib/wasm", goroot)
}

// prune removes all but the newest keep builds from the cache (keep counts the current one).
func prune(cache, current string, keep int) {
	ents, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	type built struct {
		name string
		mod  time.Time
	}
	var old []built
	for _, e := range ents {
		if !e.IsDir() || e.Name() == current || !strings.HasPrefix(e.Name(), "wasm-") {
			continue
		}
		if strings.Contains(e.Name(), ".tmp-") { // a build killed half way
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(filepath.Join(cache, e.Name()))
			}
			continue
		}
		if fi, err := e.Info(); err == nil {
			old = append(old, built{e.Name(), fi.ModTime()})
		}
	}
	sort.Slice(old, func(i, j int) bool { return old[i].mod.After(old[j].mod) })
	for i := keep - 1; i < len(old); i++ {
		os.RemoveAll(filepath.Join(cache, old[i].name))
	}
}

// Copy writes a ready canvas's files to dir (the `task wasm` release directory).
func Copy(from, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range []string{WasmFile, GzipFile, ExecFile} {
		in, err := os.Open(filepath.Join(from, n))
		if err != nil {
			return err
		}
		out, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
