//go:build js && wasm

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"latentstudio/studio/protocol"
)

// In a browser the socket is the browser's WebSocket, reached through coder/websocket
// (gorilla has no js/wasm transport). The browser sends the page's Origin and cookies itself;
// a token given in Options moves into the URL (browserURL).
func init() { defaultDial = DialBrowser }

// DialBrowser is the js/wasm DialFunc: it opens the browser's WebSocket to url.
func DialBrowser(ctx context.Context, url string, header http.Header) (Conn, error) {
	u, err := browserURL(url, header)
	if err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial %s: %w", url, ctx.Err())
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, probe(ctx, u)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(protocol.MaxBinaryFrame)
	return &browserConn{ws: ws}, nil
}

type browserConn struct{ ws *websocket.Conn }

func (c *browserConn) Read(ctx context.Context) (bool, []byte, error) {
	t, b, err := c.ws.Read(ctx)
	if err != nil {
		if errors.Is(err, websocket.ErrMessageTooBig) {
			return false, nil, protocol.Errorf(protocol.TooLarge, "connection closed: a message over %d bytes", protocol.MaxBinaryFrame)
		}
		if errors.Is(err, net.ErrClosed) {
			return false, nil, fmt.Errorf("connection lost: %w", err)
		}
		return false, nil, err
	}
	return t == websocket.MessageBinary, b, nil
}

func (c *browserConn) Write(ctx context.Context, binary bool, data []byte) error {
	t := websocket.MessageText
	if binary {
		t = websocket.MessageBinary
	}
	return c.ws.Write(ctx, t, data) // the browser buffers; it never blocks
}

// Close starts the closing handshake and waits for it at most a second: a server that went
// away without a word must not hold the client's reconnect loop.
func (c *browserConn) Close() error {
	done := make(chan error, 1)
	go func() { done <- c.ws.Close(websocket.StatusNormalClosure, "") }()
	select {
	case err := <-done:
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	case <-time.After(time.Second):
		return nil
	}
}

// probe asks the socket's URL over plain HTTP why the upgrade failed (dialFailure).
func probe(ctx context.Context, wsURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, probeURL(wsURL), nil)
	if err != nil {
		return dialFailure(wsURL, 0, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return dialFailure(wsURL, 0, err)
	}
	resp.Body.Close()
	return dialFailure(wsURL, resp.StatusCode, nil)
}
