// Package security holds the server's defaults that keep a studio private: loopback
// listening, tokens, Origin checks, same-origin form posts and the page headers (CSP).
package security

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// CookieName carries the token in a browser after it opened a page with ?token=.
const CookieName = "studio_token"

// CSP allows only our own scripts, styles, images and websocket; 'wasm-unsafe-eval' lets
// the studio canvas (Go compiled to wasm) start. The canvas runs in a frame of the editor page
// (frame-src 'self'), and pages may be framed by our own pages only (frame-ancestors 'self').
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; media-src 'self' blob:; worker-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"

// CanvasCSP is the CSP of the editor's canvas frame (/p/ID/canvas): as CSP, and the audio
// output's AudioWorklet, whose module Ebiten's audio (oto) makes from a blob: URL, may load.
var CanvasCSP = strings.Replace(CSP, "script-src 'self' 'wasm-unsafe-eval'", "script-src 'self' 'wasm-unsafe-eval' blob:", 1)

// IsLoopback reports whether a listen address only accepts local connections.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewToken makes a random token for a non-loopback listen.
func NewToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Guard checks requests against the server's token and allowed origins.
type Guard struct {
	Token   string   // empty: no token needed (loopback)
	Origins []string // extra allowed origins, e.g. "http://studio.local:7380"
}

// Authorized reports whether r carries the token (bearer header, cookie or ?token=).
func (g Guard) Authorized(r *http.Request) bool {
	if g.Token == "" {
		return true
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") && g.equal(strings.TrimPrefix(h, "Bearer ")) {
		return true
	}
	if c, err := r.Cookie(CookieName); err == nil && g.equal(c.Value) {
		return true
	}
	return g.equal(r.URL.Query().Get("token"))
}

func (g Guard) equal(s string) bool {
	return s != "" && subtle.ConstantTimeCompare([]byte(s), []byte(g.Token)) == 1
}

// OriginOK reports whether a browser request comes from a page we served. Requests without
// an Origin (tools, the desktop app) pass: they are not a browser being abused by another site.
func (g Guard) OriginOK(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range g.Origins {
		if strings.EqualFold(strings.TrimRight(a, "/"), o) {
			return true
		}
	}
	return false
}

// Pages wraps the page and API handlers: security headers on every answer, the token for
// everything when one is set (a ?token= is moved into a cookie and dropped from the URL), and
// same-origin checks for requests that change things.
func (g Guard) Pages(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin") // no-referrer would make browsers send Origin: null on our own forms
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if g.Token != "" {
			if !g.Authorized(r) {
				http.Error(w, "unauthorized: open the URL with the token the studio printed (…/?token=…)", http.StatusUnauthorized)
				return
			}
			// A page opened with ?token= gets a cookie and a clean URL; a websocket upgrade
			// or a tool keeps its query as it is.
			if t := r.URL.Query().Get("token"); t != "" && r.Method == http.MethodGet && g.equal(t) && r.Header.Get("Upgrade") == "" {
				http.SetCookie(w, &http.Cookie{Name: CookieName, Value: g.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
				q := r.URL.Query()
				q.Del("token")
				u := *r.URL
				u.RawQuery = q.Encode()
				http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			ok := g.OriginOK(r)
			switch r.Header.Get("Sec-Fetch-Site") { // set by browsers; tools send none
			case "same-origin", "none":
				ok = ok || r.Header.Get("Origin") == "null"
			case "cross-site", "same-site":
				ok = ok && len(g.Origins) > 0
			}
			if !ok {
				http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
