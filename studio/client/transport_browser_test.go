package client

import (
	"errors"
	"net/http"
	"testing"

	"latentstudio/studio/protocol"
)

func TestBrowserURL(t *testing.T) {
	bearer := http.Header{"Authorization": {"Bearer s3cr/t"}}
	for _, c := range []struct {
		in     string
		header http.Header
		want   string
	}{
		{"http://127.0.0.1:7380/ws", nil, "ws://127.0.0.1:7380/ws"},
		{"https://studio.example/ws", nil, "wss://studio.example/ws"},
		{"ws://h:1/ws", http.Header{}, "ws://h:1/ws"},
		{"http://h:1/ws", bearer, "ws://h:1/ws?token=s3cr%2Ft"},
		{"wss://h/ws?x=1", bearer, "wss://h/ws?token=s3cr%2Ft&x=1"},
		{"http://h/ws", http.Header{"Authorization": {"Basic abc"}}, "ws://h/ws"},
	} {
		got, err := browserURL(c.in, c.header)
		if err != nil || got != c.want {
			t.Errorf("browserURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"ftp://h/ws", "http:///ws", "://nope", "/ws"} {
		if _, err := browserURL(bad, nil); protocol.CodeOf(err) != protocol.BadInput {
			t.Errorf("browserURL(%q): %v, want bad_input", bad, err)
		}
	}
}

func TestDialFailure(t *testing.T) {
	for _, c := range []struct {
		status int
		err    error
		final  bool
	}{
		{401, nil, true},
		{403, nil, true},
		{400, nil, false}, // the studio answers a plain GET of /ws: up and letting us in; retry
		{502, nil, false},
		{0, errors.New("Failed to fetch"), false},
	} {
		err := dialFailure("ws://h/ws", c.status, c.err)
		if err == nil || (protocol.CodeOf(err) == protocol.Unauthorized) != c.final {
			t.Errorf("status %d, probe error %v: %v (final %v)", c.status, c.err, err, c.final)
		}
	}
	if probeURL("ws://h:1/ws?token=x") != "http://h:1/ws?token=x" || probeURL("wss://h/ws") != "https://h/ws" {
		t.Error("probeURL")
	}
}
