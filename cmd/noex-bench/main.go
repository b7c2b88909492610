// Command noex-bench is a load generator for the noex protocol. Each mode
// is a subcommand with flags of its own:
//
//	noex-bench rr     -url ws://127.0.0.1:8080/ -conns 64 -inflight 8 -mix get=50,update=20,where=10,insert=10,delete=10 -records 10000 -duration 30s
//	noex-bench fanout -url ws://127.0.0.1:8080/ -subscribers 10000 -writes 50 -interval 100ms
//	noex-bench subs   -url ws://127.0.0.1:8080/ -conns 1000 -per-connection 100 -writes 200
//	noex-bench idle   -url ws://127.0.0.1:8080/ -n 10000 -duration 60s -sources 127.0.0.1,127.0.0.2 -pid 1234
//	noex-bench accept -url ws://127.0.0.1:8080/ -n 20000 -concurrency 64
//
// (params is the former name of subs and still works.) Every run is
// bounded in connections, requests and time, and stops by itself. It only
// connects to the address given, which must be a loopback address: it is
// a tool for measuring a server on the same machine, not for loading
// someone else's. Results go to stdout as plain "key: value" lines, or as
// one JSON object with -json; a progress line goes to stderr every
// -progress.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// mode is one subcommand. run parses its own flags from args and writes
// its result to stdout.
type mode struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// modes lists the subcommands.
var modes = []mode{
	{"rr", "C connections × P requests in flight, an op mix over a bucket it fills itself: throughput and latency", runRR},
	{"fanout", "N connections subscribe to one query; time each write's push to every subscriber", runFanout},
	{"subs", "C connections × M subscriptions with distinct params; time the one push each write causes", runSubs},
	{"params", "alias of subs", runParams},
	{"idle", "open N connections that stay idle, answering every server ping (with -pid: server RSS per connection)", runIdle},
	{"accept", "measure the rate of new connections (dial, handshake, welcome, close)", runAccept},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, m := range modes {
		if m.name != args[0] {
			continue
		}
		err := m.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "noex-bench %s: %v\n", m.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "noex-bench: unknown mode %q\n", args[0])
	usage(stderr)
	return 2
}

// errUsage reports bad flags; the flag package has already said why.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: noex-bench <mode> [flags]   (noex-bench <mode> -h for the flags of a mode)")
	fmt.Fprintln(w, "modes:")
	for _, m := range modes {
		fmt.Fprintf(w, "  %-8s %s\n", m.name, m.summary)
	}
}

// parseFlags parses args into fs, turning every failure into errUsage
// (the flag package prints the message and the defaults itself).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		return errUsage
	}
	return nil
}
