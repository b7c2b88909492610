package store

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noex-go/noex/storage"
)

// Benchmarks for the figures issue 3 names. Run:
//
//	go test -run=^$ -bench=. -benchmem ./store/
//
// BenchmarkRecover1M writes a million records first and takes a while; it
// runs only with NOEX_BENCH_LARGE=1.

func benchStore(b *testing.B, log storage.Log) *Store {
	b.Helper()
	s, err := Open(Options{Name: "bench", Log: log, TTLCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

const benchDef = `{"key":"id","schema":{"id":{"type":"number"},"name":{"type":"string"},"group":{"type":"number"},"score":{"type":"number"}},"indexes":["group"]}`

func fill(b *testing.B, s *Store, n int) {
	b.Helper()
	if err := s.DefineBucket("items", json.RawMessage(benchDef)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		// 10,000 groups: an equality on group matches 10 of 100,000.
		if _, err := s.Insert("items", Record{"id": float64(i), "name": fmt.Sprint("item-", i), "group": float64(i % (n / 10)), "score": float64(i % 97)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetByKey(b *testing.B) {
	s := benchStore(b, nil)
	fill(b, s, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := s.Get("items", float64(i%100_000))
		if err != nil || !d.Found() {
			b.Fatal("not found")
		}
	}
}

func BenchmarkWhereIndexedEquality10of100k(b *testing.B) {
	s := benchStore(b, nil)
	fill(b, s, 100_000)
	filters := make([]*Filter, 100)
	for i := range filters {
		f, err := CompileFilter(json.RawMessage(fmt.Sprintf(`{"group":%d}`, i*37)))
		if err != nil {
			b.Fatal(err)
		}
		filters[i] = f
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := s.Where("items", filters[i%len(filters)])
		if err != nil || d.Len() != 10 {
			b.Fatalf("got %d records", d.Len())
		}
	}
}

func BenchmarkInsertMemory(b *testing.B) {
	s := benchStore(b, nil)
	if err := s.DefineBucket("items", json.RawMessage(benchDef)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Insert("items", Record{"id": float64(i), "name": "item", "group": float64(i % 100), "score": float64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInsertDurable64Writers measures acknowledged (fsynced) inserts
// per second with 64 concurrent writers on the embedded engine.
func BenchmarkInsertDurable64Writers(b *testing.B) {
	log, err := storage.OpenPebble(b.TempDir(), storage.PebbleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	s := benchStore(b, log)
	if err := s.DefineBucket("items", json.RawMessage(benchDef)); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	pad := strings.Repeat("x", 150) // ~200-byte records
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if _, err := s.Insert("items", Record{"id": float64(i), "name": pad, "group": float64(i % 100)}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "inserts/s")
}

// BenchmarkRecover1M times opening a store whose log holds 1,000,000 small
// records.
func BenchmarkRecover1M(b *testing.B) {
	if os.Getenv("NOEX_BENCH_LARGE") == "" {
		b.Skip("set NOEX_BENCH_LARGE=1 to write and recover 1,000,000 records")
	}
	dir := b.TempDir()
	log, err := storage.OpenPebble(dir, storage.PebbleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(Options{Name: "bench", Log: log, TTLCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.DefineBucket("items", json.RawMessage(benchDef)); err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 64 {
				if _, err := s.Insert("items", Record{"id": float64(i), "name": "n", "group": float64(i % 1000)}); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	_ = s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		log, err := storage.OpenPebble(dir, storage.PebbleOptions{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		r, err := Open(Options{Name: "bench", Log: log, TTLCheckInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if c, _ := r.Count("items", nil); c != n {
			b.Fatalf("recovered %d records", c)
		}
		b.ReportMetric(took.Seconds(), "s/recovery")
		_ = r.Close()
	}
}

// TestFootprintPer1KBRecord reports the in-memory cost of a ~1 KB record
// (run with -v; it asserts nothing about the figure itself).
func TestFootprintPer1KBRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	s, err := Open(Options{Name: "mem", TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.DefineBucket("docs", json.RawMessage(`{"key":"id","schema":{"id":{"type":"number"},"title":{"type":"string"},"body":{"type":"string"},"tags":{"type":"array"},"n":{"type":"number"}}}`)); err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	body := strings.Repeat("lorem ipsum ", 75) // 900 bytes
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		if _, err := s.Insert("docs", Record{"id": float64(i), "title": fmt.Sprint("document ", i), "body": body,
			"tags": []any{"a", "b"}, "n": float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	d, _ := s.Get("docs", float64(1))
	enc, _ := d.MarshalJSON()
	perRecord := float64(after.HeapInuse-before.HeapInuse) / n
	t.Logf("encoded record %d bytes; heap per record %.0f bytes (%.2f× the JSON)", len(enc), perRecord, perRecord/float64(len(enc)))
}
