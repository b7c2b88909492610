package cli

import (
	"io"
	"log/slog"

	"github.com/noex-go/noex"
)

// Persistence adapters accepted by --persistence.
const (
	PersistenceMemory = "memory"
	PersistenceFile   = "file"
	PersistenceSQLite = "sqlite"
)

// Defaults of the settings that exist only in the command (the server's
// own defaults live in the noex package's const.go).
const (
	// DefaultPersistence is durable, unlike the reference's "memory":
	// starting with no arguments must not lose acknowledged writes
	// (ARCHITECTURE.md, "Defaults that differ").
	DefaultPersistence = PersistenceFile
	// DefaultDataDir is where file persistence keeps its data.
	DefaultDataDir = "./data"
	// DefaultDB is the database file of sqlite persistence.
	DefaultDB = "./noex.db"
	// DefaultLogFormat and DefaultLogLevel configure the slog output on
	// stderr.
	DefaultLogFormat = "text"
	DefaultLogLevel  = "info"
)

// Settings is the effective configuration of one noex-server run, after
// defaults, config file, environment and flags have been merged.
type Settings struct {
	// Server is the configuration handed to noex.New (Logger excepted:
	// see NewLogger).
	Server noex.Config

	// ConfigFile is the JSON file that was read, if any.
	ConfigFile string
	// Persistence is memory, file or sqlite; DataDir and DB are where
	// file and sqlite keep their data.
	Persistence string
	DataDir     string
	DB          string
	// Auth enables built-in identity; AdminSecret is its admin secret.
	Auth        bool
	AdminSecret string
	// Rules runs the rule engine (default true; --no-rules turns it off).
	Rules bool
	// Audit enables the audit log.
	Audit bool
	// LogFormat is text or json; LogLevel is debug, info, warn or error.
	LogFormat string
	LogLevel  string
	// JWT, when Algorithm is set, turns on external-token auth with JWTs.
	JWT JWTSettings
}

// JWTSettings configure external-token auth with JSON Web Tokens.
type JWTSettings struct {
	Algorithm     string // HS256, RS256 or ES256
	Secret        string // HS256
	PublicKeyFile string // RS256, ES256: a PEM public key
	JWKSFile      string // any algorithm: a JSON Web Key Set, re-read when it changes
	Issuer        string
	Audience      string
	UserIDClaim   string
	RolesClaim    string
	Optional      bool // clients may stay anonymous (optional mode)
}

// DefaultSettings returns the settings of a run without flags, variables
// or config file.
func DefaultSettings() Settings {
	return Settings{
		Server:      noex.DefaultConfig(),
		Persistence: DefaultPersistence,
		DataDir:     DefaultDataDir,
		DB:          DefaultDB,
		Rules:       true,
		LogFormat:   DefaultLogFormat,
		LogLevel:    DefaultLogLevel,
	}
}

// NewLogger builds the slog logger the settings ask for, writing to w.
func (s Settings) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevel(s.LogLevel)}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ServerConfig is the noex.Config to start the server with, logging to
// logger.
func (s Settings) ServerConfig(logger *slog.Logger) noex.Config {
	cfg := s.Server
	cfg.Logger = logger
	return cfg
}

// logLevel maps a --log-level value (validated by Load) to its slog level.
func logLevel(name string) slog.Level {
	switch name {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
