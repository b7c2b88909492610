package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Welcome is the first frame of every connection (PROTOCOL.md §1.4).
type Welcome struct {
	Version      string `json:"version"`
	ServerTime   int64  `json:"serverTime"`
	RequiresAuth bool   `json:"requiresAuth"`
}

// inFrame is every server frame kind in one struct (PROTOCOL.md §1.3).
type inFrame struct {
	Type string `json:"type"`
	// result / error
	ID      json.Number     `json:"id"`
	Data    json.RawMessage `json:"data"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
	// push
	Channel        string     `json:"channel"`
	SubscriptionID string     `json:"subscriptionId"`
	Error          *wireError `json:"error"`
	// ping
	Timestamp json.Number `json:"timestamp"`
	// system
	Event         string `json:"event"`
	Reason        string `json:"reason"`
	GracePeriodMs int64  `json:"gracePeriodMs"`
	Count         int64  `json:"count"`
	// welcome
	Version      string `json:"version"`
	ServerTime   int64  `json:"serverTime"`
	RequiresAuth bool   `json:"requiresAuth"`
}

// wireError is the error object of a final subscription push
// (COMPATIBILITY.md P§11 #12).
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// data returns the frame's data, with an absent key read as null (§1.6).
func (f *inFrame) data() json.RawMessage {
	if len(f.Data) == 0 {
		return json.RawMessage("null")
	}
	return f.Data
}

// conn is one WebSocket connection. Its reader goroutine (Client.readLoop)
// owns it: it closes the socket and then done.
type conn struct {
	nc           net.Conn
	rw           io.ReadWriter // reads nc (after the handshake's buffer); control replies go through wmu
	writeTimeout time.Duration
	idleTimeout  time.Duration
	welcome      Welcome

	wmu     sync.Mutex // one frame at a time
	closing atomic.Bool

	// lost is set under Client.mu once the reader has stopped; cause is why.
	lost  bool
	cause error
	done  chan struct{}
}

// lockedWriter serializes the control-frame replies the WebSocket reader
// writes (pong, close echo) with the frames conn.writeText writes.
type lockedWriter struct{ c *conn }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	_ = w.c.nc.SetWriteDeadline(time.Now().Add(w.c.writeTimeout))
	return w.c.nc.Write(p)
}

type readWriter struct {
	io.Reader
	io.Writer
}

// dialConn opens a connection and reads its welcome frame, all within ctx.
func dialConn(ctx context.Context, url string, cfg *Config) (*conn, error) {
	d := ws.Dialer{}
	if len(cfg.Header) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(http.Header(cfg.Header))
	}
	if cfg.NetDial != nil {
		d.NetDial = cfg.NetDial
	}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("noex client: dial %s: %w", url, err)
	}
	c := &conn{nc: nc, writeTimeout: cfg.WriteTimeout, idleTimeout: cfg.IdleTimeout, done: make(chan struct{})}
	var r io.Reader = nc
	if br != nil {
		// Frames that arrived with the handshake answer are in br.
		r = io.MultiReader(br, nc)
	}
	c.rw = readWriter{Reader: r, Writer: lockedWriter{c}}

	// The welcome is the first frame (§1.4); wait for it within ctx.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetReadDeadline(dl)
	}
	msg, err := c.readText()
	if err == nil {
		var f inFrame
		if err = json.Unmarshal(msg, &f); err == nil && f.Type != "welcome" {
			err = fmt.Errorf("first frame is %q, not a welcome", f.Type)
		}
		c.welcome = Welcome{Version: f.Version, ServerTime: f.ServerTime, RequiresAuth: f.RequiresAuth}
	}
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		cerr := ctx.Err()
		if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
			cerr = context.DeadlineExceeded // the read deadline fired first
		}
		if cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return nil, fmt.Errorf("noex client: %s: %w", url, closeCause(err))
	}
	_ = nc.SetReadDeadline(time.Time{})
	return c, nil
}

// readText returns the next text message, answering WebSocket control
// frames on the way; binary messages are skipped.
func (c *conn) readText() ([]byte, error) {
	for {
		if c.idleTimeout > 0 && !c.closing.Load() {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.idleTimeout))
		}
		msg, op, err := wsutil.ReadServerData(c.rw)
		if err != nil {
			return nil, err
		}
		if op == ws.OpText {
			return msg, nil
		}
	}
}

// writeText sends one text frame; ctx's deadline bounds the write when it
// is earlier than the write timeout. A failed write leaves the stream in an
// unknown state, so it closes the socket (the reader then reports the loss).
func (c *conn) writeText(ctx context.Context, p []byte) error {
	deadline := time.Now().Add(c.writeTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing.Load() {
		return errors.New("connection is closing")
	}
	_ = c.nc.SetWriteDeadline(deadline)
	if err := wsutil.WriteClientText(c.nc, p); err != nil {
		c.nc.Close()
		return err
	}
	return nil
}

// pong answers a heartbeat ping, echoing its timestamp (§1.8).
func (c *conn) pong(timestamp json.Number) error {
	p := make([]byte, 0, 48)
	p = append(p, `{"type":"pong","timestamp":`...)
	p = append(p, timestamp...)
	p = append(p, '}')
	return c.writeText(context.Background(), p)
}

// closeGracefully sends a close frame and gives the server a moment to
// echo it; the reader then ends and closes the socket.
func (c *conn) closeGracefully(code int, wait time.Duration) {
	c.wmu.Lock()
	if c.closing.Swap(true) {
		c.wmu.Unlock()
		return
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(min(c.writeTimeout, wait)))
	frame := ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), ""))
	err := ws.WriteFrame(c.nc, ws.MaskFrameInPlace(frame))
	c.wmu.Unlock()
	if err != nil {
		c.nc.Close()
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
}

// closeCause turns the reader's error into what callers see: the server's
// close frame as a *CloseError, anything else unchanged.
func closeCause(err error) error {
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return err
}

// encodeRequest builds {<params>…,"id":<id>,"type":<typ>}. The id and
// type come last so that they win over same-named keys in params.
func encodeRequest(id uint64, typ string, params any) ([]byte, error) {
	var body []byte
	if params != nil {
		p, err := json.Marshal(params)
		if err != nil {
			return nil, fmt.Errorf("noex client: %s: encode params: %w", typ, err)
		}
		switch {
		case string(p) == "null":
		case len(p) < 2 || p[0] != '{':
			return nil, fmt.Errorf("noex client: %s: params must encode to a JSON object", typ)
		case len(p) > 2:
			body = p[1 : len(p)-1]
		}
	}
	t, _ := json.Marshal(typ)
	out := make([]byte, 0, len(body)+len(t)+40)
	out = append(out, '{')
	if len(body) > 0 {
		out = append(out, body...)
		out = append(out, ',')
	}
	out = append(out, `"id":`...)
	out = strconv.AppendUint(out, id, 10)
	out = append(out, `,"type":`...)
	out = append(out, t...)
	return append(out, '}'), nil
}
