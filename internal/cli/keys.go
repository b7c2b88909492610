package cli

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/noex-go/noex"
)

// A setting is one configurable value: how it is spelled on the command
// line, in the environment and in the config file, and how a raw value is
// checked and applied. Adding a setting is adding a row to keys.
type setting struct {
	// key is the config file key; "group.key" inside a JSON object.
	// Empty for a setting the file cannot give (--config).
	key string
	// flag is the long option without "--"; empty for a file-only
	// setting. The environment variable is derived from it (envName).
	flag  string
	short byte
	// arg is the option's argument in --help; empty for a switch, which
	// takes no argument and whose presence is the value.
	arg string
	// object marks a file key whose value is a JSON object holding the
	// "key.*" rows.
	object bool
	// def is the default as --help and docs show it.
	def  string
	help string
	// apply checks v and stores it in s, or says what is wrong with it.
	apply func(s *Settings, v value) error
}

// switchFlag reports whether the option takes no argument.
func (st *setting) switchFlag() bool { return st.flag != "" && st.arg == "" }

// envName is the environment variable that stands in for the option:
// NOEX_ and the long name in upper case with dashes as underscores.
func (st *setting) envName() string {
	if st.flag == "" {
		return ""
	}
	return "NOEX_" + strings.ToUpper(strings.ReplaceAll(st.flag, "-", "_"))
}

// Bounds of numeric settings.
const (
	// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER: config files
	// written for the reference cannot mean anything larger.
	maxSafeInteger = 1<<53 - 1
	// maxMillis is the largest millisecond count a time.Duration holds.
	maxMillis = math.MaxInt64 / int64(time.Millisecond)
)

// keys is every setting, in the order --help lists them and errors are
// reported. Objects come before their members.
var keys = []setting{
	{key: "port", flag: "port", short: 'p', arg: "<number>", def: strconv.Itoa(noex.DefaultPort),
		help:  "listen port (0 = any free port)",
		apply: applyPort},
	{key: "host", flag: "host", short: 'H', arg: "<address>", def: noex.DefaultHost,
		help:  "listen address",
		apply: nonEmpty("an address", func(s *Settings, x string) { s.Server.Host = x })},
	{flag: "config", short: 'c', arg: "<path>",
		help:  "JSON configuration file",
		apply: nonEmpty("a path", func(s *Settings, x string) { s.ConfigFile = x })},
	{key: "name", flag: "name", arg: "<string>", def: noex.DefaultName,
		help:  "server name reported by server.stats",
		apply: nonEmpty("a non-empty string", func(s *Settings, x string) { s.Server.Name = x })},
	{key: "path", flag: "path", arg: "<path>", def: noex.DefaultPath,
		help:  "URL path that accepts WebSocket upgrades",
		apply: applyPath},
	{key: "persistence", flag: "persistence", arg: "<memory|file|sqlite>", def: DefaultPersistence,
		help:  "storage adapter (memory keeps nothing)",
		apply: applyPersistence},
	{key: "dataDir", flag: "data-dir", arg: "<path>", def: DefaultDataDir,
		help:  "directory for file persistence",
		apply: nonEmpty("a path", func(s *Settings, x string) { s.DataDir = x })},
	{key: "db", flag: "db", arg: "<path>", def: DefaultDB,
		help:  "database file for sqlite persistence",
		apply: nonEmpty("a path", func(s *Settings, x string) { s.DB = x })},
	{key: "auth", flag: "auth", def: "off",
		help:  "enable built-in identity",
		apply: switchTo(true, func(s *Settings, on bool) { s.Auth = on })},
	{key: "adminSecret", flag: "admin-secret", arg: "<string>",
		help:  "admin secret of built-in identity (required with --auth)",
		apply: anyString(func(s *Settings, x string) { s.AdminSecret = x })},
	{key: "rules", flag: "no-rules", def: "rules on",
		help:  "run without the rule engine",
		apply: switchTo(false, func(s *Settings, on bool) { s.Rules = on })},
	{key: "audit", flag: "audit", def: "off",
		help:  "enable the audit log",
		apply: switchTo(true, func(s *Settings, on bool) { s.Audit = on })},
	{key: "exposeErrorDetails", flag: "no-error-details", def: "details exposed",
		help:  "remove details from error responses",
		apply: switchTo(false, func(s *Settings, on bool) { s.Server.HideErrorDetails = !on })},
	{key: "allowedOrigins", flag: "allowed-origins", arg: "<list>", def: "any",
		help:  "comma-separated origin allow-list",
		apply: applyOrigins},
	{key: "maxConnectionsPerIp", flag: "max-connections-per-ip", arg: "<number>", def: "unlimited",
		help:  "connections allowed per client address",
		apply: count(func(s *Settings, n int) { s.Server.MaxConnectionsPerIP = n })},
	{key: "maxPayloadBytes", flag: "max-payload-bytes", arg: "<number>", def: strconv.Itoa(noex.DefaultMaxPayloadBytes),
		help:  "largest inbound message in bytes",
		apply: count(func(s *Settings, n int) { s.Server.MaxPayloadBytes = n })},
	{key: "shutdownGracePeriodMs", flag: "shutdown-grace-ms", arg: "<ms>", def: "0",
		help:  "how long SIGINT/SIGTERM lets clients finish",
		apply: millis(0, func(s *Settings, d time.Duration) { s.Server.ShutdownGracePeriod = d })},
	{key: "metricsAddr", flag: "metrics-addr", arg: "<host:port>", def: "same listener",
		help:  "own listener for /metrics, /healthz, /readyz",
		apply: applyMetricsAddr},
	{key: "logFormat", flag: "log-format", arg: "<text|json>", def: DefaultLogFormat,
		help:  "log format on stderr",
		apply: oneOf([]string{"text", "json"}, func(s *Settings, x string) { s.LogFormat = x })},
	{key: "logLevel", flag: "log-level", arg: "<level>", def: DefaultLogLevel,
		help:  "log level: debug, info, warn or error",
		apply: oneOf([]string{"debug", "info", "warn", "error"}, func(s *Settings, x string) { s.LogLevel = x })},

	{key: "rateLimit", object: true, def: "disabled",
		help: "request rate limit per user or address; both members required",
		apply: func(s *Settings, v value) error {
			if err := checkObject(s, v); err != nil {
				return err
			}
			s.Server.RateLimit = &noex.RateLimit{}
			return nil
		}},
	{key: "rateLimit.maxRequests",
		help:  "requests allowed per window",
		apply: count(func(s *Settings, n int) { s.rateLimit().MaxRequests = n })},
	{key: "rateLimit.windowMs",
		help:  "window length in milliseconds",
		apply: millis(1, func(s *Settings, d time.Duration) { s.rateLimit().Window = d })},

	{key: "heartbeat", object: true, help: "pings; a missing member keeps its default", apply: checkObject},
	{key: "heartbeat.intervalMs", def: ms(noex.DefaultHeartbeatInterval),
		help:  "ping interval",
		apply: millis(1, func(s *Settings, d time.Duration) { s.Server.Heartbeat.Interval = d })},
	{key: "heartbeat.timeoutMs", def: ms(noex.DefaultHeartbeatTimeout),
		help:  "how long a ping may go unanswered",
		apply: millis(1, func(s *Settings, d time.Duration) { s.Server.Heartbeat.Timeout = d })},

	{key: "backpressure", object: true, help: "outbound buffering; a missing member keeps its default", apply: checkObject},
	{key: "backpressure.maxBufferedBytes", def: strconv.Itoa(noex.DefaultMaxBufferedBytes),
		help:  "unsent bytes per connection",
		apply: count(func(s *Settings, n int) { s.Server.Backpressure.MaxBufferedBytes = n })},
	{key: "backpressure.highWaterMark", def: strconv.FormatFloat(noex.DefaultHighWaterMark, 'g', -1, 64),
		help:  "fraction of maxBufferedBytes above which pushes are coalesced or dropped",
		apply: applyHighWaterMark},
	{key: "backpressure.slowConsumerTimeoutMs", flag: "slow-consumer-timeout-ms", arg: "<ms>",
		def:   ms(noex.DefaultSlowConsumerTimeout),
		help:  "close a client stuck above its buffer limit this long",
		apply: millis(1, func(s *Settings, d time.Duration) { s.Server.Backpressure.SlowConsumerTimeout = d })},

	{key: "jwt", object: true, def: "off",
		help: "external-token auth with JWTs (auth.login with a token)", apply: checkObject},
	{key: "jwt.algorithm", flag: "jwt-algorithm", arg: "<HS256|RS256|ES256>",
		help:  "the one signing algorithm accepted; turns JWT auth on",
		apply: oneOf([]string{"HS256", "RS256", "ES256"}, func(s *Settings, x string) { s.JWT.Algorithm = x })},
	{key: "jwt.secret", flag: "jwt-secret", arg: "<string>",
		help:  "HS256 shared secret (prefer the NOEX_JWT_SECRET variable)",
		apply: nonEmpty("a non-empty string", func(s *Settings, x string) { s.JWT.Secret = x })},
	{key: "jwt.publicKeyFile", flag: "jwt-public-key-file", arg: "<path>",
		help:  "PEM public key for RS256 or ES256",
		apply: nonEmpty("a path", func(s *Settings, x string) { s.JWT.PublicKeyFile = x })},
	{key: "jwt.jwksFile", flag: "jwt-jwks-file", arg: "<path>",
		help:  "JSON Web Key Set for any algorithm, instead of a secret or PEM key",
		apply: nonEmpty("a path", func(s *Settings, x string) { s.JWT.JWKSFile = x })},
	{key: "jwt.issuer", flag: "jwt-issuer", arg: "<string>",
		help:  "required iss claim",
		apply: nonEmpty("a non-empty string", func(s *Settings, x string) { s.JWT.Issuer = x })},
	{key: "jwt.audience", flag: "jwt-audience", arg: "<string>",
		help:  "required aud claim",
		apply: nonEmpty("a non-empty string", func(s *Settings, x string) { s.JWT.Audience = x })},
	{key: "jwt.userIdClaim", def: "sub",
		help:  "claim holding the user id",
		apply: nonEmpty("a non-empty string", func(s *Settings, x string) { s.JWT.UserIDClaim = x })},
	{key: "jwt.rolesClaim", def: "roles",
		help:  "claim (dotted path) holding the roles: a list or a space-separated string",
		apply: nonEmpty("a non-empty string", func(s *Settings, x string) { s.JWT.RolesClaim = x })},
	{key: "jwt.optional", flag: "jwt-optional", def: "login required",
		help:  "let clients stay anonymous (optional mode)",
		apply: switchTo(true, func(s *Settings, on bool) { s.JWT.Optional = on })},

	{key: "connectionLimits", object: true, help: "subscription limits, merged key by key", apply: checkObject},
	{key: "connectionLimits.maxSubscriptionsPerConnection", def: strconv.Itoa(noex.DefaultMaxSubscriptionsPerConnection),
		help:  "subscriptions per connection",
		apply: count(func(s *Settings, n int) { s.Server.ConnectionLimits.MaxSubscriptionsPerConnection = n })},
	{key: "connectionLimits.maxTotalSubscriptions", def: strconv.Itoa(noex.DefaultMaxTotalSubscriptions),
		help:  "subscriptions on the whole server",
		apply: count(func(s *Settings, n int) { s.Server.ConnectionLimits.MaxTotalSubscriptions = n })},
}

// lookupKey finds the row of a config file key.
func lookupKey(key string) *setting {
	for i := range keys {
		if keys[i].key == key {
			return &keys[i]
		}
	}
	return nil
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// rateLimit returns the rate limit being filled in from the file.
func (s *Settings) rateLimit() *noex.RateLimit {
	if s.Server.RateLimit == nil {
		s.Server.RateLimit = &noex.RateLimit{}
	}
	return s.Server.RateLimit
}

// applyPort keeps the reference's message, "Invalid port: <value as
// JavaScript prints it> (must be integer 0-65535)", for the flag and the
// file; a variable is named instead.
func applyPort(s *Settings, v value) error {
	if n, ok := v.integer(0, 65535); ok {
		s.Server.Port = int(n)
		return nil
	}
	const rule = "integer 0-65535"
	switch v.src {
	case fromEnv:
		return v.invalid(rule)
	case fromFlag:
		return fmt.Errorf("Invalid port: %s (must be %s)", jsNumberString(jsToNumber(v.text)), rule)
	}
	return fmt.Errorf("Invalid port: %s (must be %s)", jsString(v.json), rule)
}

// applyPersistence keeps the reference's "Unknown persistence type"
// message.
func applyPersistence(s *Settings, v value) error {
	x, ok := v.str()
	switch {
	case ok && (x == PersistenceMemory || x == PersistenceFile || x == PersistenceSQLite):
		s.Persistence = x
		return nil
	case !ok:
		x = jsString(v.json)
	}
	in := ""
	if v.src == fromEnv {
		in = " in " + v.name
	}
	return fmt.Errorf("Unknown persistence type%s: %s (must be memory, file, or sqlite)", in, x)
}

func applyPath(s *Settings, v value) error {
	x, ok := v.str()
	if !ok || !strings.HasPrefix(x, "/") {
		return v.invalid("a path starting with /")
	}
	s.Server.Path = x
	return nil
}

func applyOrigins(s *Settings, v value) error {
	list, ok := v.list()
	if !ok {
		return v.invalid("an array of strings")
	}
	s.Server.AllowedOrigins = list
	return nil
}

// applyMetricsAddr accepts host:port, or empty for "the WebSocket
// listener" (so a flag or variable can undo the file's choice).
func applyMetricsAddr(s *Settings, v value) error {
	x, ok := v.str()
	if ok && x != "" {
		_, port, err := net.SplitHostPort(x)
		n, perr := strconv.Atoi(port)
		ok = err == nil && perr == nil && n >= 0 && n <= 65535
	}
	if !ok {
		return v.invalid("host:port, e.g. 127.0.0.1:9100 or :9100")
	}
	s.Server.MetricsAddr = x
	return nil
}

func applyHighWaterMark(s *Settings, v value) error {
	f, ok := v.number()
	if !ok || !(f > 0 && f <= 1) {
		return v.invalid("a number greater than 0 and at most 1")
	}
	s.Server.Backpressure.HighWaterMark = f
	return nil
}

// checkObject is the rule of a file key that groups others.
func checkObject(_ *Settings, v value) error {
	if _, ok := v.json.(map[string]any); !ok {
		return v.invalid("an object")
	}
	return nil
}

// nonEmpty is a string setting that must not be empty.
func nonEmpty(what string, set func(*Settings, string)) func(*Settings, value) error {
	return func(s *Settings, v value) error {
		x, ok := v.str()
		if !ok || x == "" {
			return v.invalid(what)
		}
		set(s, x)
		return nil
	}
}

// anyString is a string setting that may be empty.
func anyString(set func(*Settings, string)) func(*Settings, value) error {
	return func(s *Settings, v value) error {
		x, ok := v.str()
		if !ok {
			return v.invalid("a string")
		}
		set(s, x)
		return nil
	}
}

func oneOf(choices []string, set func(*Settings, string)) func(*Settings, value) error {
	rule := "one of " + strings.Join(choices, ", ")
	return func(s *Settings, v value) error {
		x, ok := v.str()
		if !ok || !slices.Contains(choices, x) {
			return v.invalid(rule)
		}
		set(s, x)
		return nil
	}
}

// count is a positive integer.
func count(set func(*Settings, int)) func(*Settings, value) error {
	return func(s *Settings, v value) error {
		n, ok := v.integer(1, maxSafeInteger)
		if !ok {
			return v.invalid("a positive integer")
		}
		set(s, int(n))
		return nil
	}
}

// millis is a whole number of milliseconds, at least lo.
func millis(lo int64, set func(*Settings, time.Duration)) func(*Settings, value) error {
	rule := "a positive integer (milliseconds)"
	if lo == 0 {
		rule = "an integer >= 0 (milliseconds)"
	}
	return func(s *Settings, v value) error {
		n, ok := v.integer(lo, maxMillis)
		if !ok {
			return v.invalid(rule)
		}
		set(s, time.Duration(n)*time.Millisecond)
		return nil
	}
}

// switchTo is an option without argument: giving it (or setting its
// variable to true or 1) sets the value to given. The config file key
// holds the value itself as a JSON boolean.
func switchTo(given bool, set func(*Settings, bool)) func(*Settings, value) error {
	return func(s *Settings, v value) error {
		switch {
		case v.src == fromEnv && !envTrue(v.text):
			return v.invalid("true, 1, false or 0")
		case v.fromText():
			set(s, given)
			return nil
		}
		b, ok := v.json.(bool)
		if !ok {
			return v.invalid("true or false")
		}
		set(s, b)
		return nil
	}
}

// envTrue and envFalse are the spellings a switch's variable accepts.
func envTrue(x string) bool  { return strings.EqualFold(x, "true") || x == "1" }
func envFalse(x string) bool { return strings.EqualFold(x, "false") || x == "0" }
