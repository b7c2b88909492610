// Package noex is the noex real-time data server: a WebSocket server that
// speaks the noex JSON protocol. Start one from a Config:
//
//	srv, err := noex.New(noex.DefaultConfig())
//	if err != nil { … }
//	if err := srv.Start(ctx); err != nil { … }
//	defer srv.Stop(context.Background(), 0)
package noex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/noex-go/noex/audit"
	"github.com/noex-go/noex/store/live"
)

// Server is one running noex server. It owns every goroutine it starts.
type Server struct {
	cfg        Config
	log        *slog.Logger
	namespaces []*namespace
	knownTypes map[string]struct{}
	metrics    *metrics

	// ctx is cancelled when the server stops; handlers receive it.
	ctx    context.Context
	cancel context.CancelFunc

	limiter *rateLimiter
	auth    *authMode // nil without auth
	workers *workerPool
	live    *live.Engine // nil without a store
	audit   *audit.Log   // nil without an audit log

	mu        sync.Mutex
	started   bool
	stopping  bool
	stopped   chan struct{} // closed when Stop has finished
	listener  net.Listener
	httpSrv   *http.Server
	metricSrv *http.Server
	metricLn  net.Listener
	startedAt time.Time
	port      int

	nextConnID atomic.Uint64
	nextSubID  atomic.Uint64
	totalSubs  atomic.Int64
	registry   registry
	perIP      map[string]int
	conns      sync.WaitGroup // one per admitted or admitting connection
	bg         sync.WaitGroup // server-wide goroutines
	bgStop     chan struct{}
}

// New builds a server from cfg. Nothing listens until Start.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		namespaces: defaultNamespaces(),
		knownTypes: make(map[string]struct{}),
		metrics:    newMetrics(),
		ctx:        ctx,
		cancel:     cancel,
		stopped:    make(chan struct{}),
		perIP:      make(map[string]int),
		bgStop:     make(chan struct{}),
	}
	srv.registry.init()
	srv.workers = newWorkerPool(func(r any) {
		srv.metrics.panics.Inc()
		srv.log.Error("connection task panicked", "panic", r)
	})
	srv.metrics.register(srv)
	if cfg.RateLimit != nil {
		srv.limiter = newRateLimiter(*cfg.RateLimit, func() int64 { return time.Now().UnixMilli() })
	}
	srv.Mount(NamespaceServer, introspection{srv}, "server.stats", "server.connections")
	if cfg.Auth != nil {
		srv.auth = newAuthMode(cfg.Auth)
		srv.Mount(NamespaceAuth, authService{srv}, authOperations...)
	}
	if cfg.Store != nil {
		engine, err := live.New(cfg.Store, live.Options{
			Logger:   cfg.Logger,
			OnChange: func(n int) { srv.metrics.woken.Observe(float64(n)) },
		})
		if err != nil {
			cancel()
			return nil, err
		}
		srv.live = engine
		srv.metrics.registerLive(engine)
		srv.Mount(NamespaceStore, &storeService{srv: srv, st: cfg.Store, live: engine}, append(storeOperations, liveOperations...)...)
	}
	if cfg.Identity != nil {
		if err := srv.openIdentity(cfg.Store, *cfg.Identity); err != nil {
			srv.closeEngines()
			cancel()
			return nil, err
		}
	}
	if cfg.Audit != nil {
		l, err := audit.Open(cfg.Store, *cfg.Audit)
		if err != nil {
			srv.closeEngines()
			cancel()
			return nil, err
		}
		srv.audit = l
		srv.Mount(NamespaceAudit, auditService{log: l}, auditOperations...)
	}
	if cfg.Rules != nil {
		srv.Mount(NamespaceRules, &rulesService{eng: cfg.Rules, hideInternal: cfg.HideErrorDetails}, rulesOperations...)
	}
	srv.Mount(NamespaceProcedures, newProceduresService(srv), procedureOperations...)
	return srv, nil
}

// Operations lists every operation name the server answers, sorted: the
// dispatch's own table, for introspection and for tests that must cover
// every operation (a new one cannot be forgotten).
func (srv *Server) Operations() []string {
	ops := make([]string, 0, len(srv.knownTypes))
	for op := range srv.knownTypes {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

// closeEngines releases what New opened over the store.
func (srv *Server) closeEngines() {
	if srv.live != nil {
		srv.live.Close()
	}
	if m := srv.auth; m != nil && m.identity != nil {
		m.identity.Close()
	}
	if srv.audit != nil {
		srv.audit.Close()
	}
}

// Mount plugs a service in as the handler of a namespace ("store",
// "rules", "identity", "auth", "audit", "procedures" or "server"),
// replacing the not-configured answer. operations lists the names it
// handles, for metrics. Call it before Start.
func (srv *Server) Mount(namespaceWord string, svc Service, operations ...string) {
	for _, ns := range srv.namespaces {
		if ns.word == namespaceWord {
			ns.service = svc
			ns.unavailable = nil
		}
	}
	for _, op := range operations {
		srv.knownTypes[op] = struct{}{}
	}
}

// DefineQuery registers a query written in Go for store.subscribe (not
// persisted: define it at every start). It needs a store.
func (srv *Server) DefineQuery(name string, fn live.QueryFunc) error {
	if srv.live == nil {
		return errors.New("noex: DefineQuery needs Config.Store")
	}
	return srv.live.DefineQuery(name, fn)
}

// Config returns the effective configuration.
func (srv *Server) Config() Config { return srv.cfg }

// Start opens the listener and begins accepting connections. It returns
// once the server is listening.
func (srv *Server) Start(ctx context.Context) error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.started {
		return errors.New("server already started")
	}
	addr := net.JoinHostPort(srv.cfg.Host, strconv.Itoa(srv.cfg.Port))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	var mln net.Listener
	if srv.cfg.MetricsAddr != "" {
		mln, err = lc.Listen(ctx, "tcp", srv.cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
	}
	srv.listener = ln
	srv.port = ln.Addr().(*net.TCPAddr).Port
	srv.startedAt = time.Now()
	srv.started = true
	srv.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(srv.serveHTTP),
		ReadHeaderTimeout: handshakeTimeout,
		IdleTimeout:       httpIdleTimeout,
		ErrorLog:          slog.NewLogLogger(srv.log.Handler(), slog.LevelDebug),
	}
	srv.bg.Add(1)
	go func() {
		defer srv.bg.Done()
		_ = srv.httpSrv.Serve(ln)
	}()
	if mln != nil {
		srv.metricLn = mln
		srv.metricSrv = &http.Server{Handler: srv.opsHandler(), ReadHeaderTimeout: handshakeTimeout}
		srv.bg.Add(1)
		go func() {
			defer srv.bg.Done()
			_ = srv.metricSrv.Serve(mln)
		}()
	}
	if srv.limiter != nil {
		srv.bg.Add(1)
		go func() {
			defer srv.bg.Done()
			srv.limiter.run(srv.bgStop)
		}()
	}
	srv.log.Info("listening", "addr", ln.Addr().String(), "path", srv.cfg.Path)
	return nil
}

// Port is the port the server listens on (the OS's choice when the
// configured port was 0).
func (srv *Server) Port() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.port
}

// Addr is the listener's address.
func (srv *Server) Addr() net.Addr {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.listener == nil {
		return nil
	}
	return srv.listener.Addr()
}

// MetricsAddr is the address of the separate metrics listener, or nil when
// the operational endpoints share the WebSocket listener.
func (srv *Server) MetricsAddr() net.Addr {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.metricLn == nil {
		return nil
	}
	return srv.metricLn.Addr()
}

// IsRunning reports whether the server has started and not begun stopping.
func (srv *Server) IsRunning() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.started && !srv.stopping
}

// Stop shuts the server down (PROTOCOL.md §8.8): it stops accepting, tells
// connected clients when gracePeriod > 0 and lets them finish until they
// leave, the grace period ends or ctx is done, then closes every remaining
// connection with 1000 server_shutdown. Calling it again waits for the
// first call to finish.
func (srv *Server) Stop(ctx context.Context, gracePeriod time.Duration) error {
	srv.mu.Lock()
	if !srv.started && !srv.stopping {
		// Never started: release what New started (query evaluators).
		srv.stopping = true
		srv.mu.Unlock()
		srv.workers.close()
		srv.closeEngines()
		srv.cancel()
		close(srv.stopped)
		return nil
	}
	if srv.stopping || !srv.started {
		wasStopping := srv.stopping
		srv.mu.Unlock()
		if wasStopping {
			select {
			case <-srv.stopped:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	srv.stopping = true
	srv.mu.Unlock()
	defer close(srv.stopped)

	srv.log.Info("stopping", "gracePeriod", gracePeriod)
	// 1. Stop accepting: close the listeners.
	_ = srv.httpSrv.Close()
	if srv.metricSrv != nil {
		_ = srv.metricSrv.Close()
	}
	// 2. Tell clients and give them the grace period.
	if gracePeriod > 0 && srv.registry.count() > 0 {
		frame := encodeShutdownFrame(gracePeriod)
		for _, s := range srv.registry.list() {
			s.send(frame)
		}
		timer := time.NewTimer(gracePeriod)
		select {
		case <-srv.registry.emptied():
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
	// 3. Close everyone who is left.
	for _, s := range srv.registry.list() {
		s.closeWith(CloseNormal, reasonShutdown)
	}
	srv.conns.Wait()
	// 4. Release server-wide resources.
	srv.workers.close()
	srv.closeEngines()
	close(srv.bgStop)
	srv.cancel()
	srv.bg.Wait()
	srv.log.Info("stopped")
	return nil
}

// admit registers a connection that passed the handshake, or closes it with
// the right code. It reports whether the connection was admitted.
func (srv *Server) admit(s *Session) (ok bool, code int, reason string) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.stopping {
		return false, CloseGoingAway, reasonShuttingDown
	}
	if limit := srv.cfg.MaxConnectionsPerIP; limit > 0 && srv.perIP[s.remoteAddr] >= limit {
		srv.metrics.rejected.WithLabelValues("per_ip_limit").Inc()
		return false, CloseTooManyConns, reasonTooManyConns
	}
	srv.perIP[s.remoteAddr]++
	srv.registry.add(s)
	srv.metrics.connections.Inc()
	srv.metrics.connectionsTotal.Inc()
	return true, 0, ""
}

// release undoes admit when a connection ends.
func (srv *Server) release(s *Session) {
	srv.mu.Lock()
	if srv.registry.remove(s) {
		if n := srv.perIP[s.remoteAddr] - 1; n > 0 {
			srv.perIP[s.remoteAddr] = n
		} else {
			delete(srv.perIP, s.remoteAddr)
		}
		srv.metrics.connections.Dec()
	}
	srv.mu.Unlock()
	srv.metrics.closes.WithLabelValues(strconv.Itoa(int(s.closeCode.Load()))).Inc()
	srv.log.Info("connection closed", "conn", s.idStr, "remote", s.remoteAddr, "code", s.closeCode.Load())
}

func (srv *Server) exposeDetails() bool { return !srv.cfg.HideErrorDetails }

// requiresAuth is the welcome frame's flag; true once an auth mode is
// configured (PROTOCOL.md §1.4).
func (srv *Server) requiresAuth() bool { return srv.auth != nil && srv.auth.gate.Required }

// ConnectionCount is the number of registered connections.
func (srv *Server) ConnectionCount() int { return srv.registry.count() }

// Connections returns the registry entries in admission order.
func (srv *Server) Connections() []ConnectionInfo {
	list := srv.registry.list()
	out := make([]ConnectionInfo, len(list))
	for i, s := range list {
		out[i] = s.Info()
	}
	return out
}

// registry holds the admitted connections (PROTOCOL.md §8.9).
type registry struct {
	mu      sync.Mutex
	byID    map[uint64]*Session
	waiters []chan struct{} // closed when the registry becomes empty
}

func (r *registry) init() { r.byID = make(map[uint64]*Session) }

func (r *registry) add(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID[s.id] = s
}

func (r *registry) remove(s *Session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[s.id]; !ok {
		return false
	}
	delete(r.byID, s.id)
	if len(r.byID) == 0 {
		for _, w := range r.waiters {
			close(w)
		}
		r.waiters = nil
	}
	return true
}

func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// list returns the sessions in admission order.
func (r *registry) list() []*Session {
	r.mu.Lock()
	out := make([]*Session, 0, len(r.byID))
	for _, s := range r.byID {
		out = append(out, s)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *Session) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return out
}

// emptied returns a channel closed once no connection is registered.
func (r *registry) emptied() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan struct{})
	if len(r.byID) == 0 {
		close(ch)
		return ch
	}
	r.waiters = append(r.waiters, ch)
	return ch
}
