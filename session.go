package noex

import (
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/noex-go/noex/auth"
)

// AuthContext is the identity bound to a connection after a login
// (PROTOCOL.md §6.2). It is the access gate's own type, so checking a
// request needs no conversion.
type AuthContext = auth.Context

// Session is one client connection as services see it: who is on the other
// end, and how to push to it. Services never touch the socket.
type Session struct {
	srv         *Server
	id          uint64
	idStr       string
	nc          net.Conn
	raw         syscall.RawConn // nil when nc has no file descriptor
	remoteAddr  string
	connectedAt int64
	out         outbound

	// done is closed when the connection has been torn down.
	done      chan struct{}
	closeCode atomic.Int32

	auth      atomic.Pointer[AuthContext]
	storeSubs atomic.Int32
	rulesSubs atomic.Int32

	hb heartbeatState
	// busy is set while a request is being handled; a heartbeat deadline
	// that falls in a busy period waits for it (PROTOCOL.md §8.3: the
	// reference processes ticks and requests in one queue).
	busy atomic.Bool

	cleanupMu sync.Mutex
	cleanups  []func()
	tornDown  bool

	hdr [14]byte // frame header scratch for the reader
	in  inbuf    // the reader's pooled read buffer (reader goroutine only)
}

func newSession(srv *Server, nc net.Conn, id uint64, remote string) *Session {
	s := &Session{
		srv:         srv,
		id:          id,
		idStr:       "conn-" + strconv.FormatUint(id, 10),
		nc:          nc,
		remoteAddr:  remote,
		connectedAt: time.Now().UnixMilli(),
		done:        make(chan struct{}),
	}
	s.in.s = s
	s.initRaw()
	return s
}

// ID is the connection id, "conn-<n>".
func (s *Session) ID() string { return s.idStr }

// RemoteAddress is the peer's IP address as the socket reports it.
func (s *Session) RemoteAddress() string { return s.remoteAddr }

// Auth returns the bound auth context, or nil.
func (s *Session) Auth() *AuthContext { return s.auth.Load() }

// SetAuth binds (or, with nil, unbinds) an auth context.
func (s *Session) SetAuth(a *AuthContext) { s.auth.Store(a) }

// Done is closed when the connection has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// OnClose registers fn to run once when the connection ends; subscriptions
// use it to cancel themselves. If the connection has already ended, fn runs
// at once.
func (s *Session) OnClose(fn func()) {
	s.cleanupMu.Lock()
	if s.tornDown {
		s.cleanupMu.Unlock()
		fn()
		return
	}
	s.cleanups = append(s.cleanups, fn)
	s.cleanupMu.Unlock()
}

// Info is the connection's registry entry (PROTOCOL.md §8.9).
func (s *Session) Info() ConnectionInfo {
	info := ConnectionInfo{
		ConnectionID:           s.idStr,
		RemoteAddress:          s.remoteAddr,
		ConnectedAt:            s.connectedAt,
		Roles:                  []string{},
		StoreSubscriptionCount: int(s.storeSubs.Load()),
		RulesSubscriptionCount: int(s.rulesSubs.Load()),
	}
	// An expired context counts as unauthenticated at once, even before a
	// request unbinds it (COMPATIBILITY.md P§11 #33).
	if a := s.auth.Load(); a != nil && !a.Expired(s.srv.nowMs()) {
		info.Authenticated = true
		uid := a.UserID
		info.UserID = &uid
		if a.Roles != nil {
			info.Roles = slices.Clone(a.Roles)
		}
	}
	return info
}

// ConnectionInfo is one entry of server.connections.
type ConnectionInfo struct {
	ConnectionID           string   `json:"connectionId"`
	RemoteAddress          string   `json:"remoteAddress"`
	ConnectedAt            int64    `json:"connectedAt"`
	Authenticated          bool     `json:"authenticated"`
	UserID                 *string  `json:"userId"`
	Roles                  []string `json:"roles"`
	StoreSubscriptionCount int      `json:"storeSubscriptionCount"`
	RulesSubscriptionCount int      `json:"rulesSubscriptionCount"`
}

// runCleanups runs every OnClose hook once.
func (s *Session) runCleanups() {
	s.cleanupMu.Lock()
	fns := s.cleanups
	s.cleanups = nil
	s.tornDown = true
	s.cleanupMu.Unlock()
	for _, fn := range fns {
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.srv.log.Error("connection cleanup panicked", "conn", s.idStr, "panic", r)
				}
			}()
			fn()
		}()
	}
}
