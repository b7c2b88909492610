package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"go.uber.org/goleak"
)

// recoveredBucket and recoveredRecord are the state Recover hands back.
type recoveredBucket struct {
	ID         uint64
	Name       string
	Definition string
	Counter    int64
	NextSeq    uint64
}

type recoveredRecord struct {
	BucketID uint64
	Seq      uint64
	Key      string
	Value    string
}

type recovered struct {
	Buckets []recoveredBucket
	Records []recoveredRecord
}

// recoverAll runs Recover and checks the shape of what it hands back:
// definitions first, then records in storage order, each put carrying its
// bucket's counters.
func recoverAll(t testing.TB, l Log) recovered {
	t.Helper()
	var got recovered
	byID := map[uint64]recoveredBucket{}
	err := l.Recover(func(cs *ChangeSet) error {
		if len(cs.Ops) == 0 {
			return errors.New("empty change set")
		}
		for _, op := range cs.Ops {
			switch op.Kind {
			case OpDefineBucket:
				if len(got.Records) > 0 {
					return fmt.Errorf("bucket %d defined after records", op.BucketID)
				}
				b := recoveredBucket{op.BucketID, op.Bucket, string(op.Value), op.Counter, op.NextSeq}
				byID[op.BucketID] = b
				got.Buckets = append(got.Buckets, b)
			case OpPut:
				b, ok := byID[op.BucketID]
				if !ok {
					return fmt.Errorf("record of undefined bucket %d", op.BucketID)
				}
				if op.Bucket != b.Name || op.Counter != b.Counter || op.NextSeq != b.NextSeq {
					return fmt.Errorf("put %+v does not carry its bucket's name and counters %+v", op, b)
				}
				if n := len(got.Records); n > 0 {
					last := got.Records[n-1]
					if last.BucketID > op.BucketID || last.BucketID == op.BucketID && last.Seq >= op.Seq {
						return fmt.Errorf("record (%d,%d) after (%d,%d): not storage order", op.BucketID, op.Seq, last.BucketID, last.Seq)
					}
				}
				got.Records = append(got.Records, recoveredRecord{op.BucketID, op.Seq, string(op.Key), string(op.Value)})
			default:
				return fmt.Errorf("Recover handed op kind %d", op.Kind)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	return got
}

func openTest(t testing.TB, dir string, opts PebbleOptions) Log {
	t.Helper()
	l, err := OpenPebble(dir, opts)
	if err != nil {
		t.Fatalf("OpenPebble(%q): %v", dir, err)
	}
	return l
}

func mustWait(t testing.TB, wait func() error) {
	t.Helper()
	if err := wait(); err != nil {
		t.Fatalf("wait: %v", err)
	}
}

func define(id uint64, name, def string, counter int64, next uint64) Op {
	return Op{Kind: OpDefineBucket, BucketID: id, Bucket: name, Value: []byte(def), Counter: counter, NextSeq: next}
}

func put(id, seq uint64, key, value string, counter int64, next uint64) Op {
	return Op{Kind: OpPut, BucketID: id, Seq: seq, Key: []byte(key), Value: []byte(value), Counter: counter, NextSeq: next}
}

func cs(ops ...Op) *ChangeSet { return &ChangeSet{Ops: ops} }

func TestPebbleRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := strings.Repeat("x", 100_000) // larger than an arena slot
	steps := []*ChangeSet{
		cs(define(1, "users", `{"v":1}`, 0, 0)),
		cs(put(1, 0, `"a"`, `{"id":"a"}`, 0, 1), put(1, 1, `"b"`, `{"id":"b"}`, 0, 2)),
		cs(define(2, "tickets", `{"auto":true}`, 0, 0),
			put(2, 0, `1`, `{"n":1}`, 1, 1), put(2, 1, `2`, `{"n":2}`, 2, 2), put(2, 2, `3`, `{"n":3}`, 3, 3)),
		cs(Op{Kind: OpUpdateBucket, BucketID: 1, Bucket: "users", Value: []byte(`{"v":2}`)},
			put(1, 0, `"a"`, `{"id":"a","x":1}`, 0, 2)),
		cs(Op{Kind: OpDelete, BucketID: 1, Seq: 1, Key: []byte(`"b"`)}),
		cs(put(1, 2, `"c"`, big, 0, 3)),
		// A clear then a put in one change set: the put survives.
		cs(Op{Kind: OpClear, BucketID: 2, Counter: 3}, put(2, 3, `4`, `{"n":4}`, 4, 4)),
		cs(define(3, "logs", `{"old":true}`, 0, 0), put(3, 0, `"l"`, `{}`, 0, 1)),
		cs(Op{Kind: OpDropBucket, BucketID: 3, Bucket: "logs"}),
		// Same name again under a new id: nothing of bucket 3 comes back.
		cs(define(4, "logs", `{"new":true}`, 0, 0), put(4, 0, `"x"`, `{"id":"x"}`, 0, 1)),
		// Empty keys and values round-trip too.
		cs(put(4, 1, ``, ``, 0, 2)),
	}
	want := recovered{
		Buckets: []recoveredBucket{
			{1, "users", `{"v":2}`, 0, 3},
			{2, "tickets", `{"auto":true}`, 4, 4},
			{4, "logs", `{"new":true}`, 0, 2},
		},
		Records: []recoveredRecord{
			{1, 0, `"a"`, `{"id":"a","x":1}`},
			{1, 2, `"c"`, big},
			{2, 3, `4`, `{"n":4}`},
			{4, 0, `"x"`, `{"id":"x"}`},
			{4, 1, ``, ``},
		},
	}

	l := openTest(t, dir, PebbleOptions{})
	if got := recoverAll(t, l); len(got.Buckets)+len(got.Records) != 0 {
		t.Fatalf("fresh directory recovered %+v, want nothing", got)
	}
	var waits []func() error
	for _, s := range steps {
		waits = append(waits, l.Submit(s))
	}
	for _, w := range waits {
		mustWait(t, w)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Submit(cs())(); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait after Close: got %v, want ErrClosed", err)
	}

	l = openTest(t, dir, PebbleOptions{})
	got := recoverAll(t, l)
	assertRecovered(t, got, want)

	// The reopened log goes on from the recovered state.
	mustWait(t, l.Submit(cs(put(2, 4, `5`, `{"n":5}`, 5, 5))))
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l = openTest(t, dir, PebbleOptions{})
	defer l.Close()
	got = recoverAll(t, l)
	want.Buckets[1].Counter, want.Buckets[1].NextSeq = 5, 5
	want.Records = append(want.Records[:3], append([]recoveredRecord{{2, 4, `5`, `{"n":5}`}}, want.Records[3:]...)...)
	assertRecovered(t, got, want)
}

func assertRecovered(t testing.TB, got, want recovered) {
	t.Helper()
	if len(got.Buckets) != len(want.Buckets) {
		t.Fatalf("buckets: got %+v, want %+v", got.Buckets, want.Buckets)
	}
	for i := range want.Buckets {
		if got.Buckets[i] != want.Buckets[i] {
			t.Errorf("bucket %d: got %+v, want %+v", i, got.Buckets[i], want.Buckets[i])
		}
	}
	if len(got.Records) != len(want.Records) {
		t.Fatalf("records: got %d %v, want %d %v", len(got.Records), short(got.Records), len(want.Records), short(want.Records))
	}
	for i := range want.Records {
		if got.Records[i] != want.Records[i] {
			t.Errorf("record %d: got %v, want %v", i, short(got.Records[i:i+1]), short(want.Records[i:i+1]))
		}
	}
}

func short(rs []recoveredRecord) string {
	var b strings.Builder
	for _, r := range rs {
		v := r.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		fmt.Fprintf(&b, "(%d,%d %s %s) ", r.BucketID, r.Seq, r.Key, v)
	}
	return b.String()
}

// TestPebbleOrder64Writers submits from 64 goroutines the way the store
// does (under one lock, waiting after it) and checks that what was
// recovered reflects submission order exactly: every insert is there, in
// Seq order, and every overwritten slot holds its last submitted value.
func TestPebbleOrder64Writers(t *testing.T) {
	t.Parallel()
	for _, maxGroup := range []int{0, 3} {
		t.Run(fmt.Sprintf("maxGroup=%d", maxGroup), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := openTest(t, dir, PebbleOptions{MaxGroupChangeSets: maxGroup})
			mustWait(t, l.Submit(cs(define(1, "inserts", `{}`, 0, 0), define(2, "slots", `{}`, 0, 0))))

			const writers, perWriter, slots = 64, 40, 16
			var (
				mu   sync.Mutex
				next int
				wg   sync.WaitGroup
				errs = make(chan error, writers)
			)
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range perWriter {
						mu.Lock()
						n := next
						next++
						val := fmt.Sprintf(`{"n":%d}`, n)
						wait := l.Submit(cs(
							put(1, uint64(n), fmt.Sprint(n), val, int64(n), uint64(n+1)),
							put(2, uint64(n%slots), fmt.Sprint(n%slots), val, int64(n), slots),
						))
						mu.Unlock()
						if err := wait(); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("wait: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			l = openTest(t, dir, PebbleOptions{})
			defer l.Close()
			got := recoverAll(t, l)
			total := writers * perWriter
			want := recovered{Buckets: []recoveredBucket{
				{1, "inserts", `{}`, int64(total - 1), uint64(total)},
				{2, "slots", `{}`, int64(total - 1), slots},
			}}
			for n := range total {
				want.Records = append(want.Records, recoveredRecord{1, uint64(n), fmt.Sprint(n), fmt.Sprintf(`{"n":%d}`, n)})
			}
			for s := range slots {
				last := total - slots + s
				want.Records = append(want.Records, recoveredRecord{2, uint64(s), fmt.Sprint(s), fmt.Sprintf(`{"n":%d}`, last)})
			}
			assertRecovered(t, got, want)
		})
	}
}

// TestPebbleAckedIsSynced crashes an in-memory file system that keeps only
// what was fsynced: every change set whose wait returned before the crash
// must come back.
func TestPebbleAckedIsSynced(t *testing.T) {
	t.Parallel()

	// The crash model first: a write pebble did not sync is lost.
	{
		fs := vfs.NewCrashableMem()
		db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: pebbleLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Set([]byte("k"), []byte("v"), pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		crashed := fs.CrashClone(vfs.CrashCloneCfg{})
		_ = db.Close()
		db, err = pebble.Open("db", &pebble.Options{FS: crashed, Logger: pebbleLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.Get([]byte("k")); !errors.Is(err, pebble.ErrNotFound) {
			t.Fatalf("unsynced write survived the simulated crash (err %v): the check below would prove nothing", err)
		}
		_ = db.Close()
	}

	for round := range 10 {
		fs := vfs.NewCrashableMem()
		l, err := openPebble("db", PebbleOptions{}, fs)
		if err != nil {
			t.Fatal(err)
		}
		mustWait(t, l.Submit(cs(define(1, "b", `{}`, 0, 0))))

		var (
			mu    sync.Mutex
			next  int
			acked sync.Map
			stop  = make(chan struct{})
			wg    sync.WaitGroup
		)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					n := next
					next++
					wait := l.Submit(cs(
						put(1, uint64(2*n), fmt.Sprint(2*n), `{}`, int64(n), uint64(2*n+1)),
						put(1, uint64(2*n+1), fmt.Sprint(2*n+1), `{}`, int64(n), uint64(2*n+2)),
					))
					mu.Unlock()
					if wait() == nil {
						acked.Store(n, true)
					}
				}
			}()
		}
		rng := rand.New(rand.NewPCG(uint64(round), 1))
		target := 200 + rng.IntN(2000)
		for {
			mu.Lock()
			n := next
			mu.Unlock()
			if n >= target {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		// Everything acknowledged before the crash must survive it.
		var before []int
		acked.Range(func(k, _ any) bool { before = append(before, k.(int)); return true })
		crashed := fs.CrashClone(vfs.CrashCloneCfg{})
		close(stop)
		wg.Wait()
		_ = l.Close()

		l2, err := openPebble("db", PebbleOptions{}, crashed)
		if err != nil {
			t.Fatalf("reopen after crash: %v", err)
		}
		got := recoverAll(t, l2)
		_ = l2.Close()
		present := map[uint64]bool{}
		for _, r := range got.Records {
			present[r.Seq] = true
		}
		for _, n := range before {
			if !present[uint64(2*n)] || !present[uint64(2*n+1)] {
				t.Fatalf("round %d: change set %d was acknowledged before the crash but is missing", round, n)
			}
		}
		// Whole change sets only, and a prefix of the submission order.
		for i, r := range got.Records {
			if r.Seq != uint64(i) {
				t.Fatalf("round %d: record %d has seq %d: a gap or half a change set", round, i, r.Seq)
			}
		}
		if testing.Verbose() {
			t.Logf("round %d: %d acknowledged before the crash, %d change sets recovered", round, len(before), len(got.Records)/2)
		}
		if len(got.Records)%2 != 0 {
			t.Fatalf("round %d: %d records, half a change set survived", round, len(got.Records))
		}
		if len(got.Records) > 0 {
			n := len(got.Records)/2 - 1
			if b := got.Buckets[0]; b.Counter != int64(n) || b.NextSeq != uint64(2*n+2) {
				t.Fatalf("round %d: counters %+v, want those of change set %d", round, b, n)
			}
		}
	}
}

// TestPebbleFailStop makes the WAL's fsync fail: the change sets of that
// commit and every later one fail with ErrBroken, and Close still returns.
func TestPebbleFailStop(t *testing.T) {
	t.Parallel()
	fail := errors.New("injected fsync failure")
	var toggle errorfs.Toggle
	toggle.Injector = errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if strings.HasSuffix(op.Path, ".log") {
				return fail
			}
		}
		return nil
	})
	fs := errorfs.Wrap(vfs.NewMem(), &toggle)
	l, err := openPebble("db", PebbleOptions{}, fs)
	if err != nil {
		t.Fatal(err)
	}
	mustWait(t, l.Submit(cs(define(1, "b", `{}`, 0, 0))))
	toggle.On()
	err = l.Submit(cs(put(1, 0, `1`, `{}`, 0, 1)))()
	if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), fail.Error()) {
		t.Fatalf("wait with a failing fsync: got %v, want ErrBroken naming the cause", err)
	}
	t.Logf("error after a failed fsync: %v", err)
	toggle.Off()
	if err := l.Submit(cs(put(1, 1, `2`, `{}`, 0, 2)))(); !errors.Is(err, ErrBroken) {
		t.Fatalf("wait after a failed commit: got %v, want ErrBroken", err)
	}
	_ = l.Close() // must return; its error is not specified
	if err := l.Submit(cs())(); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait after Close: got %v, want ErrClosed", err)
	}
}

func TestPebbleRejectsPutIntoUnknownBucket(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), PebbleOptions{})
	defer l.Close()
	err := l.Submit(cs(put(9, 0, `1`, `{}`, 0, 1)))()
	if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "unknown bucket 9") {
		t.Fatalf("put into an undefined bucket: got %v, want ErrBroken naming bucket 9", err)
	}
}

func TestPebbleDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openTest(t, dir, PebbleOptions{})
	_, err := OpenPebble(dir, PebbleOptions{})
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open in one process: got %v, want ErrDataDirInUse naming %q", err, dir)
	}
	// A path spelled differently is the same directory.
	alias := dir + "/./../" + filepath.Base(dir) + "/"
	if _, err := OpenPebble(alias, PebbleOptions{}); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second open through %q: got %v, want ErrDataDirInUse", alias, err)
	}
	t.Logf("in this process: %v", err)
	out := runChild(t, "open", dir)
	t.Logf("from a child: %s", out)
	if !strings.Contains(out, "is in use by another process") || !strings.Contains(out, dir) {
		t.Fatalf("open from another process: got %q, want a refusal naming the directory", out)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if out := runChild(t, "open", dir); !strings.Contains(out, "opened") {
		t.Fatalf("open from another process after Close: got %q, want it to open", out)
	}
	l = openTest(t, dir, PebbleOptions{})
	_ = l.Close()
}

func TestPebbleRefusesForeignDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Set([]byte("zzz"), []byte("1"), pebble.Sync)
	_ = db.Close()
	if _, err := OpenPebble(dir, PebbleOptions{}); err == nil || !strings.Contains(err.Error(), "did not write") {
		t.Fatalf("open of a foreign pebble database: got %v, want a refusal", err)
	}
	// The refusal released the directory.
	if out := runChild(t, "open", dir); !strings.Contains(out, "did not write") {
		t.Fatalf("second attempt: got %q, want the same refusal (not 'in use')", out)
	}
}

func TestArenaCopiesDoNotOverlap(t *testing.T) {
	t.Parallel()
	var a arena
	var kept [][]byte
	for i := range 5000 {
		p := bytes.Repeat([]byte{byte(i)}, i%300)
		c := a.copy(p)
		if cap(c) != len(c) {
			t.Fatalf("copy %d: cap %d > len %d, an append would overwrite the next copy", i, cap(c), len(c))
		}
		kept = append(kept, c)
	}
	for i, c := range kept {
		if !bytes.Equal(c, bytes.Repeat([]byte{byte(i)}, i%300)) {
			t.Fatalf("copy %d changed", i)
		}
	}
}

// TestPebbleCloseStopsEverything is not parallel: it checks that Close
// leaves no goroutine of the log or of pebble behind.
func TestPebbleCloseStopsEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	l := openTest(t, t.TempDir(), PebbleOptions{})
	mustWait(t, l.Submit(cs(define(1, "b", `{}`, 0, 0), put(1, 0, `1`, `{}`, 0, 1))))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPebbleMetaEntries(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenPebble(dir, PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range []*ChangeSet{
		{Ops: []Op{{Kind: OpSetMeta, Bucket: "query:a", Value: []byte(`{"bucket":"x"}`)}}},
		{Ops: []Op{{Kind: OpSetMeta, Bucket: "query:b", Value: []byte(`1`)}, {Kind: OpSetMeta, Bucket: "query:a", Value: []byte(`2`)}}},
		{Ops: []Op{{Kind: OpSetMeta, Bucket: "query:c", Value: []byte(`3`)}}},
		{Ops: []Op{{Kind: OpDeleteMeta, Bucket: "query:c"}}},
	} {
		if err := l.Submit(cs)(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = OpenPebble(dir, PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := map[string]string{}
	if err := l.Recover(func(cs *ChangeSet) error {
		for _, op := range cs.Ops {
			if op.Kind == OpSetMeta {
				got[op.Bucket] = string(op.Value)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["query:a"] != "2" || got["query:b"] != "1" {
		t.Fatalf("recovered %v", got)
	}
}
