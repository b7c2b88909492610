// Package cli is the noex-server command: command-line parsing, the
// environment and config file, validation, start-up banner and the run
// until a signal. cmd/noex-server only wires it to the process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/audit"
	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/storage"
	"github.com/noex-go/noex/store"
)

// storeName is the name server.stats reports for the command's store, as
// the reference's CLI does.
const storeName = "store-1"

// openStore opens the store the settings ask for: memory keeps nothing;
// file and sqlite both select the embedded durable engine, in DataDir or
// DB respectively.
func openStore(s Settings, logger *slog.Logger) (*store.Store, error) {
	opts := store.Options{Name: storeName, Logger: logger}
	if s.Persistence != PersistenceMemory {
		dir := s.DataDir
		if s.Persistence == PersistenceSQLite {
			dir = s.DB
		}
		log, err := storage.OpenPebble(dir, storage.PebbleOptions{Logger: logger})
		if err != nil {
			return nil, err
		}
		opts.Log = log
	}
	st, err := store.Open(opts)
	if err != nil {
		if opts.Log != nil {
			_ = opts.Log.Close()
		}
		return nil, err
	}
	return st, nil
}

// DefaultGCPercent is the garbage collector's target (GOGC) unless the
// GOGC environment variable sets one. The server's live heap is small
// next to what each request allocates, so with Go's default of 100 it
// collects very often: 200 gave noex-bench rr +20 % requests/s for a heap
// allowed to reach three times the live data instead of twice
// (docs/benchmarks.md).
const DefaultGCPercent = 200

// procsFor is the GOMAXPROCS the server runs with. Durable persistence
// blocks in fsync: with a single P (a process pinned to one CPU) every
// commit then waits for the runtime's monitor to hand the P over, which
// backs off to 10 ms, and durable throughput falls fourfold (measured in
// docs/benchmarks.md). So durable modes get at least two Ps; an explicit
// GOMAXPROCS setting is left alone.
func procsFor(persistence string, current int, explicit bool) int {
	if explicit || persistence == PersistenceMemory || current >= 2 {
		return current
	}
	return 2
}

// Exit statuses of the command.
const (
	ExitOK    = 0
	ExitError = 1
)

// Run is the whole command: it parses args, answers --help and --version,
// loads the settings and serves until ctx is done (the caller cancels it
// on SIGINT or SIGTERM). getenv reads the environment. It returns the
// exit status.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a, err := ParseArgs(args)
	if err != nil {
		return Report(stderr, err)
	}
	switch {
	case a.Help:
		fmt.Fprint(stdout, Usage())
		return ExitOK
	case a.Version:
		fmt.Fprintln(stdout, VersionLine())
		return ExitOK
	}
	s, err := Load(a, getenv)
	if err != nil {
		return Report(stderr, err)
	}
	return Serve(ctx, s, stdout, stderr)
}

// Serve starts a server with the settings, prints the banner and runs
// until ctx is done; then it prints "Shutting down..." and stops with the
// configured grace period. It returns the exit status.
func Serve(ctx context.Context, s Settings, stdout, stderr io.Writer) int {
	logger := s.NewLogger(stderr)
	if n := procsFor(s.Persistence, runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS") != ""); n != runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
	st, err := openStore(s, logger)
	if err != nil {
		fmt.Fprintf(stderr, "Error: Failed to initialize %s persistence: %s\n", s.Persistence, err)
		return ExitError
	}
	defer func() {
		if err := st.Close(); err != nil {
			fmt.Fprintf(stderr, "Error: closing the store: %s\n", err)
		}
	}()
	cfg := s.ServerConfig(logger)
	cfg.Store = st
	if s.JWT.Algorithm != "" {
		a, err := jwtAuth(s.JWT, logger)
		if err != nil {
			return Report(stderr, err)
		}
		cfg.Auth = a
	}
	if s.Auth {
		cfg.Identity = &identity.Config{AdminSecret: s.AdminSecret}
	}
	if s.Audit {
		cfg.Audit = &audit.Config{}
	}
	if s.Rules {
		rt, err := noex.OpenRules(st, rules.Options{Logger: logger})
		if err != nil {
			return Report(stderr, err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := rt.Stop(ctx); err != nil {
				fmt.Fprintf(stderr, "Error: stopping the rule engine: %s\n", err)
			}
		}()
		cfg.Rules = rt.Engine
	}
	srv, err := noex.New(cfg)
	if err != nil {
		return Report(stderr, err)
	}
	// Listening is not cut short by ctx: a signal that arrives during
	// start-up is answered by the normal shutdown below.
	if err := srv.Start(context.Background()); err != nil {
		return Report(stderr, err)
	}
	if needsRateLimitWarning(s) {
		fmt.Fprintln(stderr, rateLimitWarning)
	}
	WriteBanner(stdout, s, srv.Port())

	<-ctx.Done()
	fmt.Fprint(stdout, "\nShutting down...\n")
	if err := srv.Stop(context.Background(), s.Server.ShutdownGracePeriod); err != nil {
		return Report(stderr, err)
	}
	return ExitOK
}

// Report prints err the way PROTOCOL.md §9.4 prescribes for its kind and
// returns the exit status.
func Report(stderr io.Writer, err error) int {
	var (
		argErr  *ArgError
		fileErr *FileError
		invalid *ValidationError
	)
	switch {
	case errors.As(err, &argErr):
		fmt.Fprintf(stderr, "Error: %s\nRun \"noex-server --help\" for usage information.\n", argErr.Msg)
	case errors.As(err, &fileErr):
		fmt.Fprintf(stderr, "Error loading config file: %s\n", fileErr.Err)
	case errors.As(err, &invalid):
		for _, p := range invalid.Problems {
			fmt.Fprintf(stderr, "Error: %s\n", p)
		}
	default:
		fmt.Fprintf(stderr, "Fatal: %s\n", err)
	}
	return ExitError
}

// jwtAuth builds external-token auth from the JWT settings.
func jwtAuth(j JWTSettings, logger *slog.Logger) (*noex.AuthConfig, error) {
	const orJWKS = " or jwt.jwksFile (--jwt-jwks-file)"
	switch {
	case j.JWKSFile != "":
	case j.Algorithm == "HS256" && j.Secret == "":
		return nil, errors.New("HS256 needs jwt.secret (--jwt-secret or NOEX_JWT_SECRET)" + orJWKS)
	case j.Algorithm != "HS256" && j.PublicKeyFile == "":
		return nil, errors.New(j.Algorithm + " needs jwt.publicKeyFile (--jwt-public-key-file)" + orJWKS)
	}
	// The file is re-read when it changes; a change that cannot be used
	// is logged and the previous keys stay in force.
	jc := auth.JWTConfig{Algorithm: j.Algorithm, Secret: []byte(j.Secret), JWKSFile: j.JWKSFile,
		Issuer: j.Issuer, Audience: j.Audience, UserIDClaim: j.UserIDClaim, RolesClaim: j.RolesClaim,
		OnJWKSError: func(err error) { logger.Warn("JWKS file not reloaded; the previous keys stay", "err", err) }}
	if j.PublicKeyFile != "" {
		pem, err := os.ReadFile(j.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading the JWT public key: %w", err)
		}
		jc.PublicKeyPEM = pem
	}
	v, err := auth.NewJWTValidator(jc)
	if err != nil {
		return nil, fmt.Errorf("JWT settings: %w", err)
	}
	required := !j.Optional
	return &noex.AuthConfig{Validator: v, Required: &required}, nil
}
