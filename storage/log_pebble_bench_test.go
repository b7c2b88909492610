package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkPebbleSubmit64Writers is the store's write path: 64 goroutines
// each submit a one-op change set (a ~200-byte record) under a shared
// lock and wait for it to be durable. The store needs ≥ 20,000 per second.
func BenchmarkPebbleSubmit64Writers(b *testing.B) {
	l := openTest(b, b.TempDir(), PebbleOptions{})
	defer l.Close()
	mustWait(b, l.Submit(cs(define(1, "bench", `{}`, 0, 0))))
	value := []byte(`{"id":"` + strings.Repeat("x", 32) + `","title":"` + strings.Repeat("t", 140) + `","n":1}`)

	const writers = 64
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := make([]byte, 0, 16)
			for {
				mu.Lock()
				if next >= b.N {
					mu.Unlock()
					return
				}
				n := next
				next++
				key = strconv.AppendInt(key[:0], int64(n), 10)
				wait := l.Submit(&ChangeSet{Ops: []Op{{
					Kind: OpPut, BucketID: 1, Seq: uint64(n), Key: key, Value: value,
					Counter: int64(n), NextSeq: uint64(n + 1),
				}}})
				mu.Unlock()
				if err := wait(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "changesets/s")
	_ = l.Close() // the committer's counters are read after it stopped
	if pl := l.(*pebbleLog); pl.commits > 0 {
		b.ReportMetric(float64(pl.commitSets)/float64(pl.commits), "changesets/fsync")
	}
}

// writeRecords fills dir with n small records (a ~100-byte record under
// a short key) through the log, in change sets of 1024 puts.
func writeRecords(tb testing.TB, dir string, n int) {
	tb.Helper()
	l := openTest(tb, dir, PebbleOptions{})
	mustWait(tb, l.Submit(cs(define(1, "small", `{"name":"small"}`, 0, 0))))
	var waits []func() error
	for start := 0; start < n; start += 1024 {
		set := &ChangeSet{}
		for i := start; i < min(start+1024, n); i++ {
			key := strconv.Itoa(i)
			val := fmt.Sprintf(`{"id":%d,"title":"record %d","done":false,"owner":"u%d","tags":["a","b"],"_version":1}`, i, i, i%97)
			set.Ops = append(set.Ops, put(1, uint64(i), key, val, int64(i), uint64(i+1)))
		}
		waits = append(waits, l.Submit(set))
		if len(waits) == 64 {
			for _, w := range waits {
				mustWait(tb, w)
			}
			waits = waits[:0]
		}
	}
	for _, w := range waits {
		mustWait(tb, w)
	}
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
}

// openAndRecover is a start-up: open the directory and hand every record
// to apply, which keeps the key and value slices as a store would.
func openAndRecover(tb testing.TB, dir string, want int) (open, recover time.Duration) {
	tb.Helper()
	start := time.Now()
	l := openTest(tb, dir, PebbleOptions{})
	defer l.Close()
	open = time.Since(start)
	keys := make([][]byte, 0, want)
	vals := make([][]byte, 0, want)
	err := l.Recover(func(cs *ChangeSet) error {
		for i := range cs.Ops {
			if cs.Ops[i].Kind == OpPut {
				keys = append(keys, cs.Ops[i].Key)
				vals = append(vals, cs.Ops[i].Value)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(keys) != want {
		tb.Fatalf("recovered %d records, want %d", len(keys), want)
	}
	return open, time.Since(start) - open
}

var (
	recover1MOnce sync.Once
	recover1MDir  string
	recover1MTemp string // removed by TestMain
	recover1MErr  error
)

// recover1MData writes the 1M-record directory once per test binary run.
// NOEX_RECOVER_DIR names a directory to keep it across runs: it is
// filled only if it holds no log yet.
func recover1MData(tb testing.TB) string {
	recover1MOnce.Do(func() {
		dir := os.Getenv("NOEX_RECOVER_DIR")
		if dir == "" {
			dir, recover1MErr = os.MkdirTemp("", "noex-recover-1m-")
			if recover1MErr != nil {
				return
			}
			recover1MTemp = dir
		} else if _, err := os.Stat(filepath.Join(dir, lockFileName)); err == nil {
			recover1MDir = dir
			return
		}
		start := time.Now()
		writeRecords(tb, dir, 1_000_000)
		tb.Logf("wrote 1,000,000 records in %v", time.Since(start))
		recover1MDir = dir
	})
	if recover1MErr != nil {
		tb.Fatal(recover1MErr)
	}
	return recover1MDir
}

// BenchmarkPebbleRecover1M times a start-up (open + Recover) over
// 1,000,000 small records. The store's whole recovery must stay well
// under 5 s.
func BenchmarkPebbleRecover1M(b *testing.B) {
	dir := recover1MData(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		openAndRecover(b, dir, 1_000_000)
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "records/s")
}

// TestPebbleRecover1M is the same start-up as a test with a time budget;
// it runs with NOEX_LONG=1.
func TestPebbleRecover1M(t *testing.T) {
	if !long(t) {
		t.Skip("set " + longEnv + "=1 (without -short) to write and recover 1,000,000 records")
	}
	dir := recover1MData(t)
	// The first open after writing replays the WAL (up to a memtable);
	// the second finds everything in sstables.
	for _, run := range []string{"after writing", "again"} {
		open, recover := openAndRecover(t, dir, 1_000_000)
		t.Logf("%s: open %v + Recover of 1,000,000 records %v", run, open, recover)
		if open+recover > 2500*time.Millisecond {
			t.Errorf("%s: open + Recover took %v, want < 2.5s so the whole store recovery stays well under 5s", run, open+recover)
		}
	}
}
