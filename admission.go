package noex

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/noex-go/noex/internal/wire"
)

// serveHTTP is the HTTP entry point: WebSocket upgrades go through the
// admission steps of PROTOCOL.md §1.1; plain requests reach the operational
// endpoints (/metrics, /healthz, /readyz) unless those have a listener of
// their own.
func (srv *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		if srv.cfg.MetricsAddr == "" {
			if h, ok := srv.opsRoute(r.URL.Path); ok {
				h.ServeHTTP(w, r)
				return
			}
		}
		if r.URL.Path == srv.cfg.Path {
			w.Header().Set("Upgrade", "websocket")
			http.Error(w, "this endpoint speaks WebSocket only", http.StatusUpgradeRequired)
			return
		}
		http.NotFound(w, r)
		return
	}
	// 1. Path check: drop the TCP connection without a response.
	if r.URL.Path != srv.cfg.Path {
		srv.metrics.rejected.WithLabelValues("path").Inc()
		dropConnection(w)
		return
	}
	// 2. Origin check: raw 403, no handshake.
	if origins := srv.cfg.AllowedOrigins; origins != nil {
		if origin, has := r.Header["Origin"]; has && !slices.Contains(origins, first(origin)) {
			srv.metrics.rejected.WithLabelValues("origin").Inc()
			rejectForbidden(w)
			return
		}
	}
	// Count the connection before the handshake so Stop waits for it.
	srv.mu.Lock()
	if srv.stopping {
		srv.mu.Unlock()
		dropConnection(w)
		return
	}
	srv.conns.Add(1)
	srv.mu.Unlock()
	handedOff := false
	defer func() {
		if !handedOff {
			srv.conns.Done()
		}
	}()

	// 3. WebSocket handshake, without compression.
	up := ws.HTTPUpgrader{Timeout: handshakeTimeout}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			_ = nc.Close()
		}
		return
	}
	_ = nc.SetDeadline(time.Time{})
	s := newSession(srv, nc, srv.nextConnID.Add(1), remoteIP(nc.RemoteAddr()))
	if rw != nil && rw.Reader.Buffered() > 0 {
		// The client sent frames before reading the handshake answer: they
		// are read first.
		early, _ := rw.Reader.Peek(rw.Reader.Buffered())
		s.in.preload(early)
	}

	// 4–5. Shutdown and per-IP checks complete the handshake, then close.
	if ok, code, reason := srv.admit(s); !ok {
		s.closeWith(code, reason)
		s.out.writers.Wait()
		s.drain()
		_ = nc.Close()
		return
	}
	// 6. Accept: welcome first, then serve. The connection gets a goroutine
	// of its own and this handler returns, so net/http's per-connection
	// state (its buffers, its deep stack) is released rather than held for
	// the connection's lifetime.
	srv.log.Info("connection opened", "conn", s.idStr, "remote", s.remoteAddr)
	s.send(wire.EncodeWelcome(s.connectedAt, srv.requiresAuth()))
	handedOff = true
	go func() {
		defer srv.conns.Done()
		s.serve()
	}()
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// dropConnection closes the TCP connection without writing a response.
func dropConnection(w http.ResponseWriter) {
	nc, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = nc.Close()
	}
}

// rejectForbidden writes the raw 403 of §1.1 step 2 and closes.
func rejectForbidden(w http.ResponseWriter) {
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	_ = nc.SetWriteDeadline(time.Now().Add(closeWait))
	_, _ = nc.Write([]byte("HTTP/1.1 403 Forbidden\r\n\r\n"))
	_ = nc.Close()
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
