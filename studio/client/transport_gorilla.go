//go:build !js

package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"latentstudio/studio/protocol"
)

func init() { defaultDial = dialGorilla }

type gorillaConn struct{ ws *websocket.Conn }

func dialGorilla(ctx context.Context, url string, header http.Header) (Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10}
	ws, resp, err := d.DialContext(ctx, url, header)
	if err != nil {
		if resp != nil {
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				return nil, protocol.Errorf(protocol.Unauthorized, "server refused the connection: missing or wrong token (pass the token the server printed)")
			case http.StatusForbidden:
				return nil, fmt.Errorf("server refused the connection (HTTP 403: origin not allowed): %w", err)
			}
			return nil, fmt.Errorf("dial %s: HTTP %d: %w", url, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(protocol.MaxBinaryFrame)
	return &gorillaConn{ws: ws}, nil
}

func (c *gorillaConn) Read(ctx context.Context) (bool, []byte, error) {
	// A read without a deadline must clear the one a previous read set (the welcome's), or
	// the connection would drop that long after every dial.
	dl, _ := ctx.Deadline()
	_ = c.ws.SetReadDeadline(dl)
	t, b, err := c.ws.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == websocket.CloseMessageTooBig {
			return false, nil, protocol.Errorf(protocol.TooLarge, "connection closed: %s", ce.Text)
		}
		return false, nil, err
	}
	return t == websocket.BinaryMessage, b, nil
}

func (c *gorillaConn) Write(ctx context.Context, binary bool, data []byte) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	_ = c.ws.SetWriteDeadline(dl)
	t := websocket.TextMessage
	if binary {
		t = websocket.BinaryMessage
	}
	return c.ws.WriteMessage(t, data)
}

func (c *gorillaConn) Close() error {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return c.ws.Close()
}
