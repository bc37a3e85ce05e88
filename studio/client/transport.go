package client

import (
	"context"
	"net/http"
)

// Conn is one websocket connection as the client needs it. Native builds use gorilla
// (transport_gorilla.go); a js/wasm build plugs the browser's WebSocket in behind the same
// interface in a build-tagged file of its own.
type Conn interface {
	// Read returns the next message; binary tells a binary frame from a text frame.
	Read(ctx context.Context) (binary bool, data []byte, err error)
	// Write sends one message. Calls are serialized by the client.
	Write(ctx context.Context, binary bool, data []byte) error
	Close() error
}

// DialFunc opens a Conn. header carries Authorization and Origin where the transport can
// send them (a browser sends its own Origin and cookies).
type DialFunc func(ctx context.Context, url string, header http.Header) (Conn, error)

// defaultDial is set by the transport file built for this platform.
var defaultDial DialFunc
