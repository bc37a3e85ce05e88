package client

import (
	"net/http"
	"net/url"
	"strings"

	"latentstudio/studio/protocol"
)

// The browser transport (transport_js.go) cannot set request headers on a WebSocket: the
// browser sends its own Origin and the page's cookies. What it needs besides the socket is
// plain Go here, so that it is tested natively.

// browserURL turns a dial URL and the header the client would send into the URL a browser
// WebSocket opens: http(s) becomes ws(s), and a bearer token moves into ?token= (the server
// accepts it there, PROTOCOL.md "Token"). Without a token the page's studio_token cookie,
// sent by the browser itself, authorizes the socket.
func browserURL(raw string, header http.Header) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", protocol.Errorf(protocol.BadInput, "server URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", protocol.Errorf(protocol.BadInput, "server URL %q: the scheme must be ws, wss, http or https", raw)
	}
	if u.Host == "" {
		return "", protocol.Errorf(protocol.BadInput, "server URL %q has no host", raw)
	}
	if tok, ok := strings.CutPrefix(header.Get("Authorization"), "Bearer "); ok && tok != "" {
		q := u.Query()
		q.Set("token", tok)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// errRefused is what a browser socket that closed before it opened means. A browser hides
// the HTTP status of a refused upgrade (401 for a wrong token, 403 for another origin) and
// of a server that is down: all look the same from a page.
func errRefused(url string) error {
	return protocol.Errorf(protocol.Unauthorized, "could not open %s: the studio is not running, or it refused this page (wrong token or origin)", url)
}
