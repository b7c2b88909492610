package noex

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/noex-go/noex/store/live"
)

// metrics are the server's Prometheus series. Each Server has a registry
// of its own, so several servers in one process do not collide.
type metrics struct {
	reg               *prometheus.Registry
	connections       prometheus.Gauge
	connectionsTotal  prometheus.Counter
	rejected          *prometheus.CounterVec
	closes            *prometheus.CounterVec
	requests          *prometheus.CounterVec
	latency           *prometheus.HistogramVec
	panics            prometheus.Counter
	bytesQueued       prometheus.Gauge
	pushesSent        prometheus.Counter
	pushesCoalesced   prometheus.Counter
	pushesDropped     prometheus.Counter
	slowConsumers     prometheus.Counter
	heartbeatTimeouts prometheus.Counter
	woken             prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "noex_connections", Help: "Open WebSocket connections."}),
		connectionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "noex_connections_accepted_total", Help: "Connections admitted since start."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noex_connections_rejected_total", Help: "Upgrades refused, by reason."}, []string{"reason"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noex_connections_closed_total", Help: "Connections ended, by the close code the server sent (0: peer left)."}, []string{"code"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noex_requests_total", Help: "Requests answered, by operation and result code."}, []string{"type", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "noex_request_duration_seconds",
			Help:    "Time from a request's dispatch to its answer being queued.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"type"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "noex_handler_panics_total", Help: "Requests whose handler panicked (answered INTERNAL_ERROR)."}),
		bytesQueued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "noex_outbound_bytes_queued", Help: "Bytes queued or being written, all connections."}),
		pushesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "noex_pushes_sent_total", Help: "Push frames queued for sending."}),
		pushesCoalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "noex_pushes_coalesced_total", Help: "Subscription pushes replaced by a later state on a congested connection."}),
		pushesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "noex_pushes_dropped_total", Help: "Rules event pushes dropped on a congested connection."}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "noex_slow_consumer_disconnects_total", Help: "Connections closed with 4008 slow_consumer."}),
		heartbeatTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "noex_heartbeat_timeouts_total", Help: "Connections closed with 4001 heartbeat_timeout."}),
		woken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "noex_query_instances_woken_per_change",
			Help:    "Distinct (query, params) instances a record change marked for re-evaluation.",
			Buckets: []float64{0, 1, 2, 5, 10, 100, 1000, 10000},
		}),
	}
}

func (m *metrics) register(srv *Server) {
	m.reg.MustRegister(
		m.connections, m.connectionsTotal, m.rejected, m.closes, m.requests, m.latency,
		m.panics, m.bytesQueued, m.pushesSent, m.pushesCoalesced, m.pushesDropped,
		m.slowConsumers, m.heartbeatTimeouts, m.woken,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

// registerLive adds the live engine's counters.
func (m *metrics) registerLive(e *live.Engine) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "noex_query_evaluations_total",
			Help: "Query evaluations run (shared by every subscriber of the same query and params).",
		}, func() float64 { return float64(e.Evaluations()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "noex_store_subscriptions",
			Help: "Live store subscriptions, all connections.",
		}, func() float64 { _, n := e.Counts(); return float64(n) }),
	)
}

// Registry exposes the server's Prometheus registry, so an embedding
// program can add its own series or serve them elsewhere.
func (srv *Server) Registry() *prometheus.Registry { return srv.metrics.reg }

// opsRoute finds the operational endpoint for path.
func (srv *Server) opsRoute(path string) (http.Handler, bool) {
	switch path {
	case "/metrics":
		return promhttp.HandlerFor(srv.metrics.reg, promhttp.HandlerOpts{}), true
	case "/healthz":
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("ok\n"))
		}), true
	case "/readyz":
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if !srv.IsRunning() {
				http.Error(w, "stopping", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ready\n"))
		}), true
	}
	return nil, false
}

// opsHandler serves the operational endpoints on their own listener.
func (srv *Server) opsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := srv.opsRoute(r.URL.Path); ok {
			h.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
}
