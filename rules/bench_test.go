package rules

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkEmit1000Rules: 1,000 registered rules (990 on exact topics,
// 10 on wildcard patterns); each event matches 5 rules, each with one
// condition and one set_fact action. Run with -cpu 1.
func BenchmarkEmit1000Rules(b *testing.B) {
	e, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = e.Stop(context.Background()) }()
	ctx := context.Background()
	const topics = 198
	for i := 0; i < 990; i++ {
		def := obj(b, fmt.Sprintf(`{"id":"r%d","name":"r%d","priority":%d,
			"trigger":{"type":"event","topic":"orders.t%d"},
			"conditions":[{"source":{"type":"event","field":"amount"},"operator":"gte","value":10}],
			"actions":[{"type":"set_fact","key":"sum:${event.region}:%d","value":{"ref":"event.amount"}}]}`, i, i, i%7, i%topics, i%5))
		if _, err := e.RegisterRule(ctx, def); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		def := obj(b, fmt.Sprintf(`{"id":"w%d","name":"w","trigger":{"type":"event","topic":"audit.*.k%d"},
			"actions":[{"type":"log","level":"debug","message":"x"}]}`, i, i))
		if _, err := e.RegisterRule(ctx, def); err != nil {
			b.Fatal(err)
		}
	}
	type ev struct {
		topic string
		data  map[string]any
	}
	events := make([]ev, 1024)
	for i := range events {
		events[i] = ev{topic: fmt.Sprintf("orders.t%d", i%topics),
			data: map[string]any{"amount": float64(10 + i%90), "region": fmt.Sprintf("r%d", i%10)}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		x := events[i%len(events)]
		if _, err := e.Emit(ctx, x.topic, x.data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	if s := e.Stats(); s.RulesExecuted != int64(b.N)*5 {
		b.Fatalf("expected 5 rules per event, got %d for %d events", s.RulesExecuted, b.N)
	}
}

// BenchmarkQueryFacts100k: fact pattern queries over 100,000 facts
// (region:<0..99>:<0..999>).
func BenchmarkQueryFacts100k(b *testing.B) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = e.Stop(context.Background()) }()
	ctx := context.Background()
	for r := 0; r < 100; r++ {
		for i := 0; i < 1000; i++ {
			if _, err := e.SetFact(ctx, fmt.Sprintf("region:%d:%d", r, i), float64(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name, pattern string
		want          int
	}{
		{"exact", "region:42:7", 1},
		{"trailing", "region:42:*", 1000}, // one segment after a prefix: parent index
		{"middle", "region:*:7", 100},     // "*" elsewhere: scan of all facts
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if got := len(e.QueryFacts(c.pattern)); got != c.want {
					b.Fatalf("%s: %d results, want %d", c.pattern, got, c.want)
				}
			}
		})
	}
}
