// Command noex-server runs a noex WebSocket server. Flags, environment
// variables and the config file are described by --help and
// docs/configuration.md; internal/cli does the work.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/noex-go/noex/internal/cli"
)

func main() {
	// The first SIGINT/SIGTERM starts a graceful stop; once it has been
	// received the handlers are removed, so a second one ends the process
	// at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
