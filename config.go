package noex

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/noex-go/noex/audit"
	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/procedures"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/store"
)

// Config is everything a Server is started from. Start from DefaultConfig
// and change what you need; zero values of durations and sizes mean "the
// default", except Port, where 0 asks the OS for a free port.
type Config struct {
	// Store serves the store.* namespace; nil leaves every store operation
	// unknown. The caller opens and closes it.
	Store *store.Store
	// Rules serves the rules.* namespace; nil answers RULES_NOT_AVAILABLE.
	// OpenRules wires an engine to the store. The caller stops it.
	Rules *rules.Engine

	// Auth enables external-token authentication and the access gate
	// (PROTOCOL.md §6.1, §6.4); nil is mode "none".
	Auth *AuthConfig

	// Identity enables built-in identity (PROTOCOL.md §6.7–§6.11): users,
	// roles, ACL entries and ownership kept in system buckets of Store,
	// logins with password or admin secret, and the dynamic permission
	// check on every request. It needs Store and excludes Auth.
	Identity *identity.Config

	// Audit enables the audit log (PROTOCOL.md §7.1); with a Store its
	// entries are persisted, in the same commit as the changes they
	// describe.
	Audit *audit.Config

	// Name is reported by server.stats.
	Name string
	// Host and Port are the listen address.
	Host string
	Port int
	// Path is the only URL path that accepts WebSocket upgrades.
	Path string
	// MaxPayloadBytes bounds one inbound message.
	MaxPayloadBytes int

	// RateLimit enables the per-key request limit when non-nil.
	RateLimit *RateLimit
	// Heartbeat sets the ping interval and the pong timeout.
	Heartbeat Heartbeat
	// Backpressure bounds each connection's unsent bytes.
	Backpressure Backpressure
	// ConnectionLimits bounds subscriptions.
	ConnectionLimits ConnectionLimits
	// Procedures bounds procedure definitions and calls (PROTOCOL.md
	// §7.2.1; not settable from the CLI).
	Procedures ProceduresConfig

	// HideErrorDetails removes "details" from every error frame
	// (exposeErrorDetails = false).
	HideErrorDetails bool
	// AllowedOrigins, when non-nil, admits only upgrades whose Origin header
	// is exactly one of these (requests without Origin are always admitted).
	AllowedOrigins []string
	// MaxConnectionsPerIP limits admitted connections per peer address;
	// 0 means unlimited.
	MaxConnectionsPerIP int

	// ShutdownGracePeriod is the grace period a signalled stop uses.
	ShutdownGracePeriod time.Duration
	// MetricsAddr, when set, serves /metrics, /healthz and /readyz on a
	// listener of their own instead of the WebSocket listener.
	MetricsAddr string
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
}

// AuthConfig is external-token mode (PROTOCOL.md §6.1): the embedding
// application validates tokens; auth.login binds the result to the
// connection and the access gate checks every request.
type AuthConfig struct {
	// Validator turns an auth.login token into an auth context (required);
	// auth.JWTValidator is one.
	Validator auth.Validator
	// Required refuses unauthenticated requests; nil means true. Set it to
	// new(false) to make logging in optional.
	Required *bool
	// Permissions are the declarative rules and/or custom check hook of
	// §6.5, evaluated after the tier check for bound contexts; nil allows
	// everything the tier check allows.
	Permissions *auth.Permissions
	// RevocationTTL is how long RevokeSession keeps a user id on the
	// blacklist (revocation.blacklistTtlMs; default 1 h).
	RevocationTTL time.Duration
	// Now is the clock used for expiry checks (default time.Now).
	Now func() time.Time
}

func (c *AuthConfig) required() bool { return c.Required == nil || *c.Required }

// RateLimit is the sliding-window request limit of PROTOCOL.md §8.2.
type RateLimit struct {
	MaxRequests int
	Window      time.Duration
}

// Heartbeat configures pings (PROTOCOL.md §8.3, COMPATIBILITY.md P§11 #28).
type Heartbeat struct {
	Interval time.Duration
	Timeout  time.Duration
}

// Backpressure bounds outbound bytes per connection (COMPATIBILITY.md).
type Backpressure struct {
	MaxBufferedBytes int
	// HighWaterMark is a fraction of MaxBufferedBytes in (0, 1].
	HighWaterMark float64
	// SlowConsumerTimeout is how long a connection may stay above
	// MaxBufferedBytes before it is closed with 4008.
	SlowConsumerTimeout time.Duration
}

// ConnectionLimits bounds subscriptions (PROTOCOL.md §3.6).
type ConnectionLimits struct {
	MaxSubscriptionsPerConnection int
	MaxTotalSubscriptions         int
}

// ProceduresConfig is the server configuration "procedures" (PROTOCOL.md
// §7.2.1).
type ProceduresConfig struct {
	// MaxSteps bounds the steps of one definition, nested if branches
	// included (maxSteps, default 100).
	MaxSteps int
	// MaxConditionDepth rejects an if nested this deep (the top level is
	// 0; maxConditionDepth, default 5).
	MaxConditionDepth int
	// DefaultTimeout applies to a call whose definition has no timeoutMs
	// (defaultTimeoutMs, default 30 s).
	DefaultTimeout time.Duration
	// AfterFunc arms a call's timeout: it must call f once d has passed
	// unless stop is called first. Default time.AfterFunc; tests set it
	// to fire timeouts at a moment of their choosing.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// DefaultConfig returns the reference server's defaults.
func DefaultConfig() Config {
	return Config{
		Name:            DefaultName,
		Host:            DefaultHost,
		Port:            DefaultPort,
		Path:            DefaultPath,
		MaxPayloadBytes: DefaultMaxPayloadBytes,
		Heartbeat: Heartbeat{
			Interval: DefaultHeartbeatInterval,
			Timeout:  DefaultHeartbeatTimeout,
		},
		Backpressure: Backpressure{
			MaxBufferedBytes:    DefaultMaxBufferedBytes,
			HighWaterMark:       DefaultHighWaterMark,
			SlowConsumerTimeout: DefaultSlowConsumerTimeout,
		},
		ConnectionLimits: ConnectionLimits{
			MaxSubscriptionsPerConnection: DefaultMaxSubscriptionsPerConnection,
			MaxTotalSubscriptions:         DefaultMaxTotalSubscriptions,
		},
		Procedures: ProceduresConfig{
			MaxSteps:          procedures.DefaultMaxSteps,
			MaxConditionDepth: procedures.DefaultMaxConditionDepth,
			DefaultTimeout:    procedures.DefaultTimeout,
		},
		ShutdownGracePeriod: DefaultShutdownGracePeriod,
	}
}

// withDefaults fills zero values with defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Name == "" {
		c.Name = d.Name
	}
	if c.Path == "" {
		c.Path = d.Path
	}
	if c.MaxPayloadBytes == 0 {
		c.MaxPayloadBytes = d.MaxPayloadBytes
	}
	if c.Heartbeat.Interval == 0 {
		c.Heartbeat.Interval = d.Heartbeat.Interval
	}
	if c.Heartbeat.Timeout == 0 {
		c.Heartbeat.Timeout = d.Heartbeat.Timeout
	}
	if c.Backpressure.MaxBufferedBytes == 0 {
		c.Backpressure.MaxBufferedBytes = d.Backpressure.MaxBufferedBytes
	}
	if c.Backpressure.HighWaterMark == 0 {
		c.Backpressure.HighWaterMark = d.Backpressure.HighWaterMark
	}
	if c.Backpressure.SlowConsumerTimeout == 0 {
		c.Backpressure.SlowConsumerTimeout = d.Backpressure.SlowConsumerTimeout
	}
	if c.ConnectionLimits.MaxSubscriptionsPerConnection == 0 {
		c.ConnectionLimits.MaxSubscriptionsPerConnection = d.ConnectionLimits.MaxSubscriptionsPerConnection
	}
	if c.ConnectionLimits.MaxTotalSubscriptions == 0 {
		c.ConnectionLimits.MaxTotalSubscriptions = d.ConnectionLimits.MaxTotalSubscriptions
	}
	if c.Procedures.MaxSteps == 0 {
		c.Procedures.MaxSteps = d.Procedures.MaxSteps
	}
	if c.Procedures.MaxConditionDepth == 0 {
		c.Procedures.MaxConditionDepth = d.Procedures.MaxConditionDepth
	}
	if c.Procedures.DefaultTimeout == 0 {
		c.Procedures.DefaultTimeout = d.Procedures.DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Port < 0 || c.Port > 65535 {
		bad("Invalid port: %d (must be integer 0-65535)", c.Port)
	}
	if !strings.HasPrefix(c.Path, "/") {
		bad("Invalid path %q: must start with /", c.Path)
	}
	if c.MaxPayloadBytes < 0 {
		bad("Invalid maxPayloadBytes %d: must be positive", c.MaxPayloadBytes)
	}
	if rl := c.RateLimit; rl != nil {
		if rl.MaxRequests <= 0 {
			bad("Invalid rateLimit.maxRequests %d: must be a positive integer", rl.MaxRequests)
		}
		if rl.Window <= 0 {
			bad("Invalid rateLimit.windowMs %d: must be positive", rl.Window.Milliseconds())
		}
	}
	if c.Heartbeat.Interval < 0 || c.Heartbeat.Timeout < 0 {
		bad("Invalid heartbeat: intervalMs and timeoutMs must be positive")
	}
	bp := c.Backpressure
	if bp.MaxBufferedBytes < 0 {
		bad("Invalid backpressure.maxBufferedBytes %d: must be positive", bp.MaxBufferedBytes)
	}
	if bp.HighWaterMark < 0 || bp.HighWaterMark > 1 {
		bad("Invalid backpressure.highWaterMark %g: must be in (0, 1]", bp.HighWaterMark)
	}
	if bp.SlowConsumerTimeout < 0 {
		bad("Invalid backpressure.slowConsumerTimeoutMs: must be positive")
	}
	if c.ConnectionLimits.MaxSubscriptionsPerConnection < 0 || c.ConnectionLimits.MaxTotalSubscriptions < 0 {
		bad("Invalid connectionLimits: limits must be positive")
	}
	if c.Auth != nil && c.Auth.Validator == nil {
		bad("Invalid auth: a Validator is required")
	}
	if c.Identity != nil {
		switch {
		case c.Auth != nil:
			bad("Invalid auth: built-in identity and an external token validator cannot be combined")
		case c.Store == nil:
			bad("Invalid auth: built-in identity needs a store")
		case c.Identity.AdminSecret == "":
			bad("Invalid auth: built-in identity needs an admin secret")
		}
	}
	if c.Auth != nil && c.Auth.RevocationTTL < 0 {
		bad("Invalid revocation.blacklistTtlMs: must not be negative")
	}
	if p := c.Procedures; p.MaxSteps < 0 || p.MaxConditionDepth < 0 || p.DefaultTimeout < 0 {
		bad("Invalid procedures: maxSteps, maxConditionDepth and defaultTimeoutMs must be positive")
	}
	if c.MaxConnectionsPerIP < 0 {
		bad("Invalid maxConnectionsPerIp %d: must be a positive integer", c.MaxConnectionsPerIP)
	}
	if c.ShutdownGracePeriod < 0 {
		bad("Invalid shutdownGracePeriodMs: must not be negative")
	}
	return errors.Join(errs...)
}
