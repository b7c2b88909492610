package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gobwas/ws"
)

// result is what a mode reports: text lines or JSON.
type result interface {
	writeText(w io.Writer)
}

func writeResult(w io.Writer, asJSON bool, r result) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	r.writeText(w)
	return nil
}

// latencies collects durations from many goroutines into an HDR
// histogram (see hist.go): memory stays fixed however many are added.
type latencies struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	if l.h == nil {
		l.h = newHist()
	}
	recordMicros(l.h, d.Microseconds())
	l.mu.Unlock()
}

// Summary is a latency distribution in milliseconds. Figures come from an
// HDR histogram with three significant digits and microsecond units.
type Summary struct {
	Count  int     `json:"count"`
	MinMs  float64 `json:"minMs"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50Ms"`
	P90Ms  float64 `json:"p90Ms"`
	P99Ms  float64 `json:"p99Ms"`
	P999   float64 `json:"p999Ms"`
	MaxMs  float64 `json:"maxMs"`
}

func (l *latencies) summary() Summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(l.h)
}

func (s Summary) String() string {
	if s.Count == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d min=%.3fms mean=%.3fms p50=%.3fms p90=%.3fms p99=%.3fms p99.9=%.3fms max=%.3fms",
		s.Count, s.MinMs, s.MeanMs, s.P50Ms, s.P90Ms, s.P99Ms, s.P999, s.MaxMs)
}

// tally counts occurrences of short strings (error classes, close codes).
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *tally) add(key string) {
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[string]int)
	}
	t.m[key]++
	t.mu.Unlock()
}

// snapshot returns a copy (nil when empty, so JSON shows null).
func (t *tally) snapshot() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) == 0 {
		return nil
	}
	out := make(map[string]int, len(t.m))
	for k, v := range t.m {
		out[k] = v
	}
	return out
}

// formatTally renders counts as "key=n, key=n", most frequent first.
func formatTally(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// errorClass names an error without the addresses and ports that would
// make every occurrence unique.
func errorClass(err error) string {
	var ce *closedError
	var se ws.StatusError
	var errno syscall.Errno
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return strings.TrimSpace(fmt.Sprintf("close %d %s", ce.code, ce.reason))
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &se):
		return fmt.Sprintf("handshake status %d", int(se))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, errFrameTooBig):
		return "frame too big"
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
