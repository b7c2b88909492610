package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// target holds the flags every mode shares: where to connect, from which
// local addresses, how long one dial may take, and the output format.
type target struct {
	rawURL      string
	rawSources  string
	dialTimeout time.Duration
	json        bool
	// progressEvery is the period of the status line on stderr.
	progressEvery time.Duration

	url     *url.URL
	sources []*net.TCPAddr
	next    atomic.Uint64 // round-robin over sources
}

func (t *target) register(fs *flag.FlagSet) {
	fs.StringVar(&t.rawURL, "url", "ws://127.0.0.1:8080/", "server `URL` (ws:// on a loopback address)")
	fs.StringVar(&t.rawSources, "sources", "", "comma-separated loopback source `addresses` (e.g. 127.0.0.1,127.0.0.2); "+
		"connections are spread over them round-robin, each address has its own ephemeral port range")
	fs.DurationVar(&t.dialTimeout, "dial-timeout", 10*time.Second, "bound on one dial: TCP connect, handshake and welcome")
	fs.BoolVar(&t.json, "json", false, "print the result as one JSON object on stdout")
	fs.DurationVar(&t.progressEvery, "progress", 5*time.Second, "print a status line to stderr this often during the run (0: never)")
}

// validate checks the URL and sources: ws:// only, loopback only.
func (t *target) validate(ctx context.Context) error {
	u, err := url.Parse(t.rawURL)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "ws" {
		return fmt.Errorf("-url %q: only ws:// is supported", t.rawURL)
	}
	if u.Port() == "" {
		return fmt.Errorf("-url %q: give the port explicitly", t.rawURL)
	}
	if err := requireLoopback(ctx, u.Hostname()); err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	t.url = u
	if t.dialTimeout <= 0 {
		return errors.New("-dial-timeout must be positive")
	}
	t.sources = nil
	for _, s := range strings.Split(t.rawSources, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("-sources: %q is not an IP address", s)
		}
		if !ip.IsLoopback() {
			return fmt.Errorf("-sources: %s is not a loopback address", s)
		}
		t.sources = append(t.sources, &net.TCPAddr{IP: ip})
	}
	return nil
}

// requireLoopback refuses any host that is or resolves to a non-loopback
// address.
func requireLoopback(ctx context.Context, host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address", host)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%s has no address", host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, which is not a loopback address", host, a.IP)
		}
	}
	return nil
}

// netDial opens the TCP connection from the next source address (or the
// kernel's choice when no sources were given).
func (t *target) netDial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1} // idle connections must stay quiet
	if n := len(t.sources); n > 0 {
		d.LocalAddr = t.sources[(t.next.Add(1)-1)%uint64(n)]
	}
	return d.DialContext(ctx, network, addr)
}

// sourceList is the sources as text, for the report.
func (t *target) sourceList() []string {
	out := make([]string, len(t.sources))
	for i, s := range t.sources {
		out[i] = s.IP.String()
	}
	return out
}
