package canvas

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeRelease writes a release directory as `task wasm` does, with a small but valid module.
func fakeRelease(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("studio "), 1000)...)
	if err := os.WriteFile(filepath.Join(dir, WasmFile), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ExecFile), []byte("// glue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, wasm
}

func wait(t *testing.T, c *Canvas) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return c.Wait(ctx)
}

func TestReleaseDirServedCompressed(t *testing.T) {
	dir, wasm := fakeRelease(t)
	c := Open(Config{Dir: dir, Log: quiet})
	st := wait(t, c)
	if st.State != Ready || st.Hash == "" || st.Bytes != int64(len(wasm)) || st.Gzip <= 0 || st.Gzip >= st.Bytes {
		t.Fatalf("status %+v", st)
	}
	if st.Wasm != "/wasm/"+st.Hash+"/studio.wasm" || st.Exec != "/wasm/"+st.Hash+"/wasm_exec.js" {
		t.Fatalf("urls %+v", st)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	tr := &http.Transport{DisableCompression: true} // see the bytes as sent
	get := func(path, enc string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, b := get(st.Wasm, "gzip, br")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "application/wasm" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || int64(len(b)) != st.Gzip {
		t.Fatalf("gzip answer: %v, %d bytes", resp.Header, len(b))
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); !bytes.Equal(plain, wasm) {
		t.Fatal("gzip payload is not the wasm")
	}
	for _, enc := range []string{"", "identity", "gzip;q=0"} {
		if resp, b := get(st.Wasm, enc); resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(b, wasm) {
			t.Fatalf("Accept-Encoding %q: %v, %d bytes", enc, resp.Header, len(b))
		}
	}
	if resp, b := get(st.Exec, "gzip"); resp.StatusCode != 200 || string(b) != "// glue\n" {
		t.Fatalf("wasm_exec.js: %d %q", resp.StatusCode, b)
	}
	for _, p := range []string{"/wasm/0000/studio.wasm", "/wasm/" + st.Hash + "/../canvas.go", "/wasm/" + st.Hash + "/studio.wasm.gz", "/wasm/" + st.Hash} {
		if resp, _ := get(p, ""); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	resp, b = get("/wasm/status", "")
	var got Status
	if err := json.Unmarshal(b, &got); err != nil || got != st || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status JSON %s: %v", b, err)
	}
}

func TestReleaseDirProblems(t *testing.T) {
	empty := t.TempDir()
	if st := wait(t, Open(Config{Dir: empty, Log: quiet})); st.State != Failed || !strings.Contains(st.Message, "task wasm") {
		t.Fatalf("empty dir: %+v", st)
	}
	dir, _ := fakeRelease(t)
	os.WriteFile(filepath.Join(dir, WasmFile), []byte("<html>not wasm</html>"), 0o644)
	if st := wait(t, Open(Config{Dir: dir, Log: quiet})); st.State != Failed || !strings.Contains(st.Message, "not a WebAssembly module") {
		t.Fatalf("not wasm: %+v", st)
	}
	dir, _ = fakeRelease(t)
	os.Remove(filepath.Join(dir, ExecFile))
	if st := wait(t, Open(Config{Dir: dir, Log: quiet})); st.State != Failed || !strings.Contains(st.Message, "wasm_exec.js") {
		t.Fatalf("no wasm_exec.js: %+v", st)
	}
}

func TestNoToolchainIsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	st := wait(t, Open(Config{Root: t.TempDir(), Cache: t.TempDir(), Log: quiet}))
	if st.State != Missing || !strings.Contains(st.Message, "--wasm") {
		t.Fatalf("%+v", st)
	}
}

func TestFindRootIsThisCheckout(t *testing.T) {
	root := findRoot()
	if root == "" || !isRoot(root) {
		t.Fatalf("findRoot() = %q", root)
	}
	if _, err := os.Stat(filepath.Join(root, "web", "canvas", "canvas.go")); err != nil {
		t.Fatal(err)
	}
}

// A real build with the real toolchain, of a tiny module shaped like ours: the first Open
// builds, an unchanged tree is found in the cache, a changed source builds anew.
func TestBuildFromSourceAndCache(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, cache := t.TempDir(), t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module latentstudio\n\ngo 1.22\n")
	write("wasm/main.go", "package main\n\nimport \"latentstudio/tune\"\n\nfunc main() { println(tune.Name) }\n")
	write("tune/tune.go", "package tune\n\nconst Name = \"one\"\n")
	t.Setenv("GOFLAGS", "-mod=mod")
	cfg := Config{Root: root, Cache: cache, Go: goCmd, Log: quiet}
	st := wait(t, &Canvas{cfg: cfg, b: newBuild(func() result { return fromSource(cfg) })})
	if st.State != Ready {
		t.Fatalf("%+v", st)
	}
	dirs, _ := filepath.Glob(filepath.Join(cache, "wasm-*"))
	if len(dirs) != 1 {
		t.Fatalf("cache holds %v", dirs)
	}
	for _, f := range []string{WasmFile, GzipFile, ExecFile} {
		if _, err := os.Stat(filepath.Join(dirs[0], f)); err != nil {
			t.Fatal(err)
		}
	}
	stamp := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dirs[0], WasmFile), stamp, stamp)
	if r := fromSource(cfg); r.state != Ready || r.dir != dirs[0] {
		t.Fatalf("unchanged tree: %+v", r)
	}
	if fi, _ := os.Stat(filepath.Join(dirs[0], WasmFile)); !fi.ModTime().Equal(stamp) {
		t.Fatal("an unchanged tree was built again")
	}
	write("tune/tune.go", "package tune\n\nconst Name = \"two\"\n")
	if r := fromSource(cfg); r.state != Ready || r.dir == dirs[0] {
		t.Fatalf("changed tree: %+v", r)
	}
	write("tune/tune.go", "package tune\n\nconst Name = \n")
	if r := fromSource(cfg); r.state != Failed || !strings.Contains(r.msg, "tune.go:4") {
		t.Fatalf("broken tree: %+v", r)
	}
}

// The cache keeps the newest builds and drops half-built directories once they are stale.
func TestPrune(t *testing.T) {
	cache := t.TempDir()
	now := time.Now()
	for i, name := range []string{"wasm-a", "wasm-b", "wasm-c", "wasm-d", "wasm-e.tmp-1", "wasm-f.tmp-2", "other"} {
		os.Mkdir(filepath.Join(cache, name), 0o755)
		at := now.Add(-time.Duration(i) * time.Minute)
		if name == "wasm-e.tmp-1" {
			at = now.Add(-2 * time.Hour) // killed half way, long ago
		}
		os.Chtimes(filepath.Join(cache, name), at, at)
	}
	prune(cache, "wasm-d", 3) // d is the build in use, a and b the newest others
	var left []string
	ents, _ := os.ReadDir(cache)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if got := strings.Join(left, " "); got != "other wasm-a wasm-b wasm-d wasm-f.tmp-2" {
		t.Fatalf("left %s", got)
	}
}
