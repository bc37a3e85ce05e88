package client

import (
	"fmt"
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

// dialFailure says why a browser socket closed before it opened. A browser hides the HTTP
// status of a refused upgrade, so the transport asks the same URL over plain HTTP (with the
// page's cookies): 401 is a missing or wrong token, 403 another origin, both final;
// anything else (no answer, a server going down) is worth redialling.
func dialFailure(url string, status int, probeErr error) error {
	switch {
	case probeErr == nil && status == http.StatusUnauthorized:
		return protocol.Errorf(protocol.Unauthorized, "the studio at %s refused this page: missing or wrong token (open the URL with the token the studio printed)", url)
	case probeErr == nil && status == http.StatusForbidden:
		return protocol.Errorf(protocol.Unauthorized, "the studio at %s refused this page's origin (start it with --allow-origin)", url)
	case probeErr != nil:
		return fmt.Errorf("cannot reach the studio at %s: %v", url, probeErr)
	}
	return fmt.Errorf("cannot open a websocket to %s (the server answered HTTP %d)", url, status)
}

// probeURL is the plain HTTP URL that asks the same questions as the socket's upgrade.
func probeURL(wsURL string) string {
	if rest, ok := strings.CutPrefix(wsURL, "ws://"); ok {
		return "http://" + rest
	}
	if rest, ok := strings.CutPrefix(wsURL, "wss://"); ok {
		return "https://" + rest
	}
	return wsURL
}
