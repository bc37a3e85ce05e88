package security

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7380": true, "localhost:1": true, "[::1]:80": true,
		"0.0.0.0:7380": false, ":7380": false, "192.168.1.2:80": false, "nonsense": false,
	} {
		if IsLoopback(addr) != want {
			t.Errorf("IsLoopback(%q) != %v", addr, want)
		}
	}
}

func TestGuard(t *testing.T) {
	g := Guard{Token: "sekret", Origins: []string{"http://other:1"}}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	h := g.Pages(ok)
	do := func(method, target string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		r.Host = "127.0.0.1:7380"
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do("GET", "/", nil); w.Code != 401 || w.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("no token: %d", w.Code)
	}
	if w := do("GET", "/", map[string]string{"Authorization": "Bearer wrong"}); w.Code != 401 {
		t.Fatalf("bad token: %d", w.Code)
	}
	w := do("GET", "/p/x?token=sekret&a=1", nil)
	if w.Code != 303 || w.Header().Get("Location") != "/p/x?a=1" || len(w.Result().Cookies()) != 1 {
		t.Fatalf("token in URL: %d %v", w.Code, w.Header())
	}
	if w := do("GET", "/ws?token=sekret", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}); w.Code != 200 {
		t.Fatalf("websocket with token in URL: %d", w.Code)
	}
	if w := do("GET", "/", map[string]string{"Cookie": CookieName + "=sekret"}); w.Code != 200 {
		t.Fatalf("cookie: %d", w.Code)
	}
	auth := map[string]string{"Authorization": "Bearer sekret", "Origin": "http://evil.example"}
	if w := do("POST", "/projects", auth); w.Code != 403 {
		t.Fatalf("cross-origin post: %d", w.Code)
	}
	auth["Origin"] = "http://127.0.0.1:7380"
	if w := do("POST", "/projects", auth); w.Code != 200 {
		t.Fatalf("same-origin post: %d", w.Code)
	}
	auth["Origin"], auth["Sec-Fetch-Site"] = "null", "same-origin" // a form under a strict referrer policy
	if w := do("POST", "/projects", auth); w.Code != 200 {
		t.Fatalf("same-origin form with Origin null: %d", w.Code)
	}
	auth["Sec-Fetch-Site"] = "cross-site"
	if w := do("POST", "/projects", auth); w.Code != 403 {
		t.Fatalf("cross-site with Origin null: %d", w.Code)
	}
	delete(auth, "Sec-Fetch-Site")
	auth["Origin"] = "http://other:1"
	if w := do("POST", "/projects", auth); w.Code != 200 {
		t.Fatalf("allowed origin post: %d", w.Code)
	}
}

func TestCanvasCSP(t *testing.T) {
	if !strings.Contains(CanvasCSP, "script-src 'self' 'wasm-unsafe-eval' blob:;") || !strings.Contains(CSP, "script-src 'self' 'wasm-unsafe-eval';") ||
		strings.Replace(CanvasCSP, "'wasm-unsafe-eval' blob:;", "'wasm-unsafe-eval';", 1) != CSP {
		t.Fatalf("canvas CSP %q", CanvasCSP)
	}
}
