package noex

import "time"

// Every default of the server lives here, each with what it bounds and why.

const (
	// Version is this build's version, printed by --version and the banner.
	Version = "0.1.0-go"

	// DefaultName is reported by server.stats (PROTOCOL.md §8.1).
	DefaultName = "noex-server"
	// DefaultHost listens on every interface, as the reference does.
	DefaultHost = "0.0.0.0"
	// DefaultPort is the reference's port.
	DefaultPort = 8080
	// DefaultPath is the only URL path that accepts WebSocket upgrades.
	DefaultPath = "/"

	// DefaultMaxPayloadBytes bounds one inbound message (fragments summed);
	// larger ones close the connection with 1009.
	DefaultMaxPayloadBytes = 1 << 20

	// DefaultHeartbeatInterval is how often a connection is pinged.
	DefaultHeartbeatInterval = 30 * time.Second
	// DefaultHeartbeatTimeout is how long a ping may go unanswered before
	// the connection is closed with 4001 (COMPATIBILITY.md, P§11 #28).
	DefaultHeartbeatTimeout = 10 * time.Second

	// DefaultMaxBufferedBytes bounds the unsent bytes of one connection.
	// Above it the reader stops taking requests and the slow-consumer
	// clock runs.
	DefaultMaxBufferedBytes = 1 << 20
	// DefaultHighWaterMark is the fraction of DefaultMaxBufferedBytes above
	// which subscription pushes are coalesced and event pushes dropped.
	DefaultHighWaterMark = 0.8
	// DefaultSlowConsumerTimeout is how long a connection may stay above
	// its byte limit before it is closed with 4008.
	DefaultSlowConsumerTimeout = 30 * time.Second

	// DefaultMaxSubscriptionsPerConnection and DefaultMaxTotalSubscriptions
	// are the subscription limits of PROTOCOL.md §3.6.
	DefaultMaxSubscriptionsPerConnection = 100
	DefaultMaxTotalSubscriptions         = 10000

	// DefaultShutdownGracePeriod is how long a signalled stop lets clients
	// finish; 0 closes at once, as the reference's CLI does.
	DefaultShutdownGracePeriod = 0

	// closeWait bounds how long a closing connection waits for its close
	// frame to be written and answered before the TCP socket is dropped.
	closeWait = 2 * time.Second
	// handshakeTimeout bounds the HTTP upgrade of one connection, so a
	// client that opens a socket and says nothing cannot hold it.
	handshakeTimeout = 10 * time.Second
	// httpIdleTimeout closes plain-HTTP keep-alive connections (metrics
	// scrapers, health checks) that stay idle this long.
	httpIdleTimeout = time.Minute
	// maxControlPayload is RFC 6455's limit for ping/pong/close payloads.
	maxControlPayload = 125
)

// Close codes and reasons the server sends (PROTOCOL.md §1.13 and
// COMPATIBILITY.md "Backpressure").
const (
	CloseNormal            = 1000
	CloseGoingAway         = 1001
	CloseProtocolError     = 1002
	CloseUnsupportedData   = 1003
	CloseInvalidPayload    = 1007
	CloseMessageTooBig     = 1009
	CloseHeartbeatTimeout  = 4001
	CloseSessionRevoked    = 4002
	CloseTooManyConns      = 4003
	CloseSlowConsumer      = 4008
	reasonShutdown         = "server_shutdown"
	reasonShuttingDown     = "server_shutting_down"
	reasonBinary           = "binary_not_supported"
	reasonHeartbeatTimeout = "heartbeat_timeout"
	reasonTooManyConns     = "too_many_connections"
	reasonSlowConsumer     = "slow_consumer"
	reasonSessionRevoked   = "session_revoked"
)
