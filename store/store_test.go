package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/noex-go/noex/storage"
)

// clock is a settable test clock (ms).
type clock struct{ t atomic.Int64 }

func (c *clock) now() int64      { return c.t.Load() }
func (c *clock) advance(d int64) { c.t.Add(d) }

func openTest(t *testing.T, log storage.Log) (*Store, *clock) {
	t.Helper()
	c := &clock{}
	c.t.Store(1_700_000_000_000)
	s, err := Open(Options{Name: "test", Log: log, Now: c.now, TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

func define(t *testing.T, s *Store, name, config string) {
	t.Helper()
	if err := s.DefineBucket(name, json.RawMessage(config)); err != nil {
		t.Fatalf("define %s: %v", name, err)
	}
}

func mustInsert(t *testing.T, s *Store, bucket string, data Record) Record {
	t.Helper()
	rec, err := s.Insert(bucket, data)
	if err != nil {
		t.Fatalf("insert %v: %v", data, err)
	}
	return rec
}

func keysOf(d Docs) []any {
	out := make([]any, d.Len())
	for i := range out {
		out[i] = d.At(i).Key()
	}
	return out
}

const usersDef = `{"key":"id","schema":{"id":{"type":"string","generated":"uuid"},"name":{"type":"string","required":true},"email":{"type":"string","unique":true},"role":{"type":"string","default":"user"},"n":{"type":"number","generated":"autoincrement"}},"indexes":["role"]}`

func TestInsertGetUpdateDelete(t *testing.T) {
	s, c := openTest(t, nil)
	define(t, s, "users", usersDef)
	ann := mustInsert(t, s, "users", Record{"name": "Ann", "email": "ann@x.io"})
	id := ann["id"].(string)
	if ann["role"] != "user" || ann[FieldVersion] != float64(1) || ann["n"] != float64(1) ||
		ann[FieldCreatedAt] != float64(c.now()) || ann[FieldUpdatedAt] != float64(c.now()) {
		t.Fatalf("inserted %v", ann)
	}
	got, err := s.Get("users", id)
	if err != nil || !got.Found() || got.Record()["name"] != "Ann" {
		t.Fatalf("get: %v %v", got.Record(), err)
	}
	c.advance(5)
	up, err := s.Update("users", id, Record{"role": "admin", FieldVersion: float64(99), "id": "other"})
	if err != nil {
		t.Fatal(err)
	}
	if up["role"] != "admin" || up[FieldVersion] != float64(2) || up["id"] != id || up[FieldUpdatedAt] != float64(c.now()) {
		t.Fatalf("updated %v", up)
	}
	if _, err := s.Update("users", "nope", Record{"role": "x"}); !errors.As(err, new(*ErrRecordNotFound)) {
		t.Fatalf("update of a missing key: %v", err)
	}
	// Inserting an existing key is refused and leaves the record as it was.
	if _, err := s.Insert("users", Record{"id": id, "name": "Imposter"}); !errors.As(err, new(*ErrKeyExists)) {
		t.Fatalf("duplicate key: %v", err)
	}
	if got, _ := s.Get("users", id); got.Record()["name"] != "Ann" {
		t.Fatal("duplicate insert changed the record")
	}
	if err := s.Delete("users", id); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("users", id); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if got, _ := s.Get("users", id); got.Found() {
		t.Fatal("deleted record still there")
	}
	if _, err := s.Get("nope", 1); !errors.As(err, new(*ErrBucketNotDefined)) {
		t.Fatalf("unknown bucket: %v", err)
	}
}

func TestKeysAreTyped(t *testing.T) {
	s, _ := openTest(t, nil)
	define(t, s, "k", `{"key":"id","schema":{"id":{"type":"date"}}}`)
	mustInsert(t, s, "k", Record{"id": float64(1)})
	mustInsert(t, s, "k", Record{"id": "1"})
	if n, _ := s.Count("k", nil); n != 2 {
		t.Fatalf("1 and \"1\" must be two keys, count %d", n)
	}
	d, _ := s.Get("k", "1")
	if d.Record()["id"] != "1" {
		t.Fatalf("get \"1\" = %v", d.Record())
	}
}

func TestUniqueConstraint(t *testing.T) {
	s, _ := openTest(t, nil)
	define(t, s, "users", usersDef)
	a := mustInsert(t, s, "users", Record{"name": "A", "email": "a@x.io"})
	b := mustInsert(t, s, "users", Record{"name": "B", "email": "b@x.io"})
	_, err := s.Insert("users", Record{"name": "C", "email": "a@x.io"})
	var ue *ErrUniqueConstraint
	if !errors.As(err, &ue) || ue.Field != "email" || ue.Value != "a@x.io" {
		t.Fatalf("insert clash: %v", err)
	}
	if ue.Error() != `Unique constraint violation in bucket "users": field "email" already has value "a@x.io"` {
		t.Fatalf("message %q", ue.Error())
	}
	if _, err := s.Update("users", b["id"], Record{"email": "a@x.io"}); !errors.As(err, &ue) {
		t.Fatalf("update clash: %v", err)
	}
	// Keeping one's own value, and null values, never clash.
	if _, err := s.Update("users", a["id"], Record{"email": "a@x.io", "name": "A2"}); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, s, "users", Record{"name": "N1", "email": nil})
	mustInsert(t, s, "users", Record{"name": "N2", "email": nil})
	// A freed value can be taken again.
	_ = s.Delete("users", a["id"])
	mustInsert(t, s, "users", Record{"name": "D", "email": "a@x.io"})
}

func TestWhereUsesIndexAndMatchesScan(t *testing.T) {
	s, _ := openTest(t, nil)
	define(t, s, "items", `{"key":"id","schema":{"id":{"type":"number"},"color":{"type":"string"},"size":{"type":"number"}},"indexes":["color"]}`)
	colors := []any{"red", "green", "blue", nil}
	for i := 0; i < 50; i++ {
		rec := Record{"id": float64(i), "size": float64(i % 7)}
		if c := colors[i%4]; c != nil {
			rec["color"] = c
		}
		mustInsert(t, s, "items", rec)
	}
	for _, fj := range []string{`{"color":"red"}`, `{"color":"red","size":{"$gt":3}}`, `{"color":null}`, `{"size":2}`} {
		f, err := CompileFilter(json.RawMessage(fj))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.Where("items", f)
		var want []any
		all, _ := s.All("items")
		for i := 0; i < all.Len(); i++ {
			if f.Match(all.At(i).Record()) {
				want = append(want, all.At(i).Key())
			}
		}
		if fmt.Sprint(keysOf(got)) != fmt.Sprint(want) {
			t.Errorf("%s: index %v, scan %v", fj, keysOf(got), want)
		}
	}
}

// TestIndexesStayConsistent drives random writes and transactions, then
// checks every index against a full scan.
func TestIndexesStayConsistent(t *testing.T) {
	s, _ := openTest(t, nil)
	define(t, s, "r", `{"key":"id","schema":{"id":{"type":"number"},"a":{"type":"string"},"u":{"type":"number","unique":true}},"indexes":["a"]}`)
	rng := rand.New(rand.NewSource(1))
	vals := []any{"x", "y", "z", nil}
	for step := 0; step < 3000; step++ {
		id := float64(rng.Intn(40))
		switch rng.Intn(7) {
		case 0, 1:
			_, _ = s.Insert("r", Record{"id": id, "a": vals[rng.Intn(4)], "u": float64(rng.Intn(60))})
		case 2, 3:
			_, _ = s.Update("r", id, Record{"a": vals[rng.Intn(4)], "u": float64(rng.Intn(60))})
		case 4:
			_ = s.Delete("r", id)
		case 5:
			tx := s.Begin()
			_, _ = tx.Insert("r", Record{"id": float64(100 + rng.Intn(20)), "a": "x", "u": float64(rng.Intn(60))})
			_, _ = tx.Update("r", id, Record{"a": vals[rng.Intn(4)]})
			_ = tx.Delete("r", float64(rng.Intn(40)))
			_ = tx.Commit()
		case 6:
			if rng.Intn(30) == 0 {
				_ = s.Clear("r")
			}
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.buckets["r"]
	for field, ix := range b.indexes {
		want := map[any][]any{}
		b.each(func(e *entry) bool {
			if v, ok := ix.indexValue(e.rec); ok {
				want[v] = append(want[v], e.key)
			}
			return true
		})
		got := map[any][]any{}
		ix.values.each(func(v any, set *keySet) {
			set.each(func(k any) bool { got[v] = append(got[v], k); return true })
		})
		if len(got) != len(want) {
			t.Fatalf("index %s: %d values, scan %d", field, len(got), len(want))
		}
		for v, keys := range want {
			if len(got[v]) != len(keys) {
				t.Fatalf("index %s value %v: %v, scan %v", field, v, got[v], keys)
			}
		}
		if ix.unique {
			for v, keys := range want {
				if len(keys) > 1 {
					t.Fatalf("unique %s value %v held by %v", field, v, keys)
				}
			}
		}
	}
}

func TestTransactions(t *testing.T) {
	s, _ := openTest(t, nil)
	define(t, s, "acc", `{"key":"id","schema":{"id":{"type":"string"},"credits":{"type":"number","min":0}}}`)
	define(t, s, "ledger", `{"key":"id","schema":{"id":{"type":"number","generated":"autoincrement"},"acc":{"type":"string"},"delta":{"type":"number"}}}`)
	mustInsert(t, s, "acc", Record{"id": "a", "credits": float64(300)})

	t.Run("read your writes and commit", func(t *testing.T) {
		tx := s.Begin()
		if _, err := tx.Update("acc", "a", Record{"credits": float64(400)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Insert("ledger", Record{"acc": "a", "delta": float64(100)}); err != nil {
			t.Fatal(err)
		}
		got, _ := tx.Get("acc", "a")
		n, _ := tx.Count("ledger", nil)
		if got["credits"] != float64(400) || n != 1 {
			t.Fatalf("inside tx: %v, count %d", got, n)
		}
		// Invisible outside until commit.
		if d, _ := s.Get("acc", "a"); d.Record()["credits"] != float64(300) {
			t.Fatal("uncommitted write visible")
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if d, _ := s.Get("acc", "a"); d.Record()["credits"] != float64(400) || d.Record()[FieldVersion] != float64(2) {
			t.Fatalf("after commit %v", d.Record())
		}
		if err := tx.Commit(); !errors.Is(err, ErrTxDone) {
			t.Fatalf("second commit: %v", err)
		}
	})

	t.Run("a failing operation writes nothing", func(t *testing.T) {
		err := s.Transaction(func(tx *Tx) error {
			if _, err := tx.Insert("ledger", Record{"acc": "a", "delta": float64(1)}); err != nil {
				return err
			}
			_, err := tx.Update("acc", "a", Record{"credits": float64(-5)})
			return err
		})
		if !errors.As(err, new(*ValidationError)) {
			t.Fatalf("want validation error, got %v", err)
		}
		if n, _ := s.Count("ledger", nil); n != 1 {
			t.Fatalf("ledger has %d records", n)
		}
	})

	t.Run("a record changed underneath conflicts", func(t *testing.T) {
		tx := s.Begin()
		if _, err := tx.Get("acc", "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update("acc", "a", Record{"credits": float64(1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Insert("ledger", Record{"acc": "a", "delta": float64(7)}); err != nil {
			t.Fatal(err)
		}
		var ce *ErrConflict
		if err := tx.Commit(); !errors.As(err, &ce) || ce.Key != "a" {
			t.Fatalf("want conflict on a, got %v", err)
		}
		if n, _ := s.Count("ledger", nil); n != 1 {
			t.Fatal("conflicting transaction wrote")
		}
	})

	t.Run("update then delete commits", func(t *testing.T) {
		mustInsert(t, s, "acc", Record{"id": "b", "credits": float64(1)})
		tx := s.Begin()
		_, _ = tx.Update("acc", "b", Record{"credits": float64(2)})
		_ = tx.Delete("acc", "b")
		if err := tx.Commit(); err != nil {
			t.Fatalf("update+delete: %v", err)
		}
		if d, _ := s.Get("acc", "b"); d.Found() {
			t.Fatal("b still there")
		}
	})

	t.Run("insert then delete is nothing", func(t *testing.T) {
		before, _ := s.Count("ledger", nil)
		tx := s.Begin()
		rec, _ := tx.Insert("ledger", Record{"acc": "z", "delta": float64(0)})
		_ = tx.Delete("ledger", rec["id"])
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Count("ledger", nil); n != before {
			t.Fatal("insert+delete left a record")
		}
	})
}

func TestConcurrentTransactionsNeverLoseUpdates(t *testing.T) {
	s, _ := openTest(t, nil)
	define(t, s, "c", `{"key":"id","schema":{"id":{"type":"string"},"n":{"type":"number"}}}`)
	mustInsert(t, s, "c", Record{"id": "x", "n": float64(0)})
	var wg sync.WaitGroup
	var committed atomic.Int64
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				tx := s.Begin()
				cur, _ := tx.Get("c", "x")
				_, _ = tx.Update("c", "x", Record{"n": cur["n"].(float64) + 1})
				if err := tx.Commit(); err == nil {
					committed.Add(1)
				} else if !errors.As(err, new(*ErrConflict)) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	d, _ := s.Get("c", "x")
	if d.Record()["n"] != float64(committed.Load()) {
		t.Fatalf("n = %v after %d committed increments", d.Record()["n"], committed.Load())
	}
}

func TestTTL(t *testing.T) {
	s, c := openTest(t, nil)
	define(t, s, "sess", `{"key":"id","schema":{"id":{"type":"string"}},"ttl":"1s"}`)
	rec := mustInsert(t, s, "sess", Record{"id": "s1"})
	if rec[FieldExpiresAt] != float64(c.now()+1000) {
		t.Fatalf("_expiresAt %v", rec[FieldExpiresAt])
	}
	mustInsert(t, s, "sess", Record{"id": "s2", FieldExpiresAt: float64(c.now() + 5000)})
	var deleted []any
	off := s.On("bucket.sess.deleted", func(e Event) { deleted = append(deleted, e.Key) })
	defer off()
	c.advance(1000)
	// Expired but not swept: never returned.
	if d, _ := s.Get("sess", "s1"); d.Found() {
		t.Fatal("expired record returned by get")
	}
	if all, _ := s.All("sess"); all.Len() != 1 {
		t.Fatalf("all returned %d", all.Len())
	}
	if n, _ := s.Count("sess", nil); n != 1 {
		t.Fatalf("count %d", n)
	}
	// Its key can be used again at once.
	mustInsert(t, s, "sess", Record{"id": "s1"})
	c.advance(5000)
	n, err := s.PurgeExpired()
	if err != nil || n != 2 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if fmt.Sprint(deleted) != "[s1 s2 s1]" {
		t.Fatalf("deleted events %v", deleted)
	}
}

func TestMaxSizeEvictsOldestOnlyAfterChecks(t *testing.T) {
	s, c := openTest(t, nil)
	define(t, s, "log", `{"key":"id","schema":{"id":{"type":"number"},"u":{"type":"string","unique":true}},"maxSize":3}`)
	for i := 1; i <= 3; i++ {
		c.advance(1)
		mustInsert(t, s, "log", Record{"id": float64(i), "u": fmt.Sprint(i)})
	}
	// A failing insert evicts nothing.
	if _, err := s.Insert("log", Record{"id": float64(9), "u": "2"}); err == nil {
		t.Fatal("unique clash accepted")
	}
	if all, _ := s.All("log"); fmt.Sprint(keysOf(all)) != "[1 2 3]" {
		t.Fatalf("after failed insert %v", keysOf(all))
	}
	mustInsert(t, s, "log", Record{"id": float64(4), "u": "4"})
	mustInsert(t, s, "log", Record{"id": float64(5), "u": "1"}) // 1 was evicted: its value is free
	if all, _ := s.All("log"); fmt.Sprint(keysOf(all)) != "[3 4 5]" {
		t.Fatalf("after evictions %v", keysOf(all))
	}
}

func TestReferences(t *testing.T) {
	s, _ := openTest(t, nil)
	define(t, s, "authors", `{"key":"id","schema":{"id":{"type":"string"}}}`)
	define(t, s, "books", `{"key":"id","schema":{"id":{"type":"string"},"author":{"type":"string","ref":"authors","onDelete":"cascade"}}}`)
	define(t, s, "reviews", `{"key":"id","schema":{"id":{"type":"string"},"book":{"type":"string","ref":"books","onDelete":"set_null"}}}`)
	define(t, s, "awards", `{"key":"id","schema":{"id":{"type":"string"},"author":{"type":"string","ref":"authors"}}}`)
	mustInsert(t, s, "authors", Record{"id": "ann"})
	mustInsert(t, s, "authors", Record{"id": "bob"})
	if _, err := s.Insert("books", Record{"id": "b0", "author": "nobody"}); !errors.As(err, new(*ErrReferentialIntegrity)) {
		t.Fatalf("dangling ref: %v", err)
	}
	mustInsert(t, s, "books", Record{"id": "b1", "author": "ann"})
	mustInsert(t, s, "reviews", Record{"id": "r1", "book": "b1"})
	mustInsert(t, s, "awards", Record{"id": "w1", "author": "bob"})
	// restrict refuses, and changes nothing
	var ri *ErrReferentialIntegrity
	if err := s.Delete("authors", "bob"); !errors.As(err, &ri) || !ri.OnDelete {
		t.Fatalf("restrict: %v", err)
	}
	// cascade deletes the book; set_null clears the review's reference
	if err := s.Delete("authors", "ann"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Get("books", "b1"); d.Found() {
		t.Fatal("cascade did not delete the book")
	}
	d, _ := s.Get("reviews", "r1")
	if rec := d.Record(); rec["book"] != nil || rec[FieldVersion] != float64(2) {
		t.Fatalf("set_null: %v", rec)
	}
}

func TestEventsInCommitOrderAndClear(t *testing.T) {
	s, _ := openTest(t, nil)
	define(t, s, "e", `{"key":"id","schema":{"id":{"type":"number"}}}`)
	var mu sync.Mutex
	var got []string
	off := s.On("bucket.*", func(e Event) {
		mu.Lock()
		got = append(got, fmt.Sprintf("%s:%v", e.Type, e.Key))
		mu.Unlock()
	})
	defer off()
	mustInsert(t, s, "e", Record{"id": float64(1)})
	mustInsert(t, s, "e", Record{"id": float64(2)})
	_, _ = s.Update("e", float64(1), Record{})
	if err := s.Clear("e"); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[inserted:1 inserted:2 updated:1 deleted:1 deleted:2]" {
		t.Fatalf("events %v", got)
	}
}

func TestMatchTopic(t *testing.T) {
	topic := "bucket.tickets.inserted"
	for pattern, want := range map[string]bool{
		"*": true, "bucket.*": true, "bucket.*.*": true, "bucket.tickets.*": true,
		"bucket.*.inserted": true, "*.tickets.inserted": true, "bucket.tickets": false, "audit.*": false,
	} {
		if got := MatchTopic(pattern, topic); got != want {
			t.Errorf("MatchTopic(%q) = %v", pattern, got)
		}
	}
	if !MatchTopic("bucket.*", "bucket.tickets") || MatchTopic("bucket.*.*", "bucket.tickets") {
		t.Error("two-segment topic")
	}
}

// TestRecoveryRebuildsState replays the log into a new store: same records
// in the same order, same counters, working indexes.
func TestRecoveryRebuildsState(t *testing.T) {
	log := storage.NewRecordingLog()
	s, _ := openTest(t, log)
	define(t, s, "users", usersDef)
	define(t, s, "gone", `{"key":"id","schema":{"id":{"type":"string"}}}`)
	var ids []any
	for i := 0; i < 20; i++ {
		rec := mustInsert(t, s, "users", Record{"name": fmt.Sprint("u", i), "email": fmt.Sprint(i, "@x.io"), "role": []string{"a", "b"}[i%2]})
		ids = append(ids, rec["id"])
	}
	_ = s.Delete("users", ids[3])
	_, _ = s.Update("users", ids[5], Record{"name": "five"})
	_, _ = s.DropBucket("gone")
	define(t, s, "gone", `{"key":"id","schema":{"id":{"type":"string"}}}`)
	_ = s.UpdateBucket("users", json.RawMessage(`{"addIndexes":["name"]}`))
	before, _ := s.All("users")
	_ = s.Close()

	r, _ := openTest(t, log.Reopen())
	after, err := r.All("users")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keysOf(after)) != fmt.Sprint(keysOf(before)) {
		t.Fatalf("order changed:\n%v\n%v", keysOf(before), keysOf(after))
	}
	f, _ := CompileFilter(json.RawMessage(`{"name":"five"}`))
	if d, _ := r.FindOne("users", f); d.Key() != ids[5] {
		t.Fatal("index on name not rebuilt")
	}
	rec := mustInsert(t, r, "users", Record{"name": "new"})
	if rec["n"] != float64(21) {
		t.Fatalf("autoincrement after recovery %v, want 21", rec["n"])
	}
	if !r.HasBucket("gone") {
		t.Fatal("redefined bucket lost")
	}
}

func TestLogFailureStopsWrites(t *testing.T) {
	log := storage.NewRecordingLog()
	s, _ := openTest(t, log)
	define(t, s, "x", `{"key":"id","schema":{"id":{"type":"string"}}}`)
	log.Break(errors.New("disk on fire"))
	if _, err := s.Insert("x", Record{"id": "a"}); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("insert on a broken log: %v", err)
	}
	if _, err := s.Insert("x", Record{"id": "b"}); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("later insert: %v", err)
	}
}

func TestEncoderMatchesJSONStringify(t *testing.T) {
	for in, want := range map[string]string{
		`{"b":1,"a":[true,null,"x"]}`:           `{"a":[true,null,"x"],"b":1}`,
		`"<a&b>\u2028\u0001\"\\\n"`:             `"<a&b>` + "\u2028" + `\u0001\"\\\n"`,
		`[1e21,1e-7,0.000001,-0,1.5,100,1e300]`: `[1e+21,1e-7,0.000001,0,1.5,100,1e+300]`,
		`{}`:                                    `{}`,
		`"\ud800"`:                              `"` + "\ufffd" + `"`,
	} {
		v, err := DecodeJSON([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeJSON(v)
		if err != nil || string(got) != want {
			t.Errorf("%s → %s (%v), want %s", in, got, err, want)
		}
	}
}

func TestNonPersistentBucketKeepsNoRecords(t *testing.T) {
	log := storage.NewRecordingLog()
	s, _ := openTest(t, log)
	define(t, s, "cache", `{"key":"id","schema":{"id":{"type":"string"}},"persistent":false}`)
	define(t, s, "kept", `{"key":"id","schema":{"id":{"type":"string"}}}`)
	mustInsert(t, s, "cache", Record{"id": "c1"})
	mustInsert(t, s, "kept", Record{"id": "k1"})
	tx := s.Begin()
	_, _ = tx.Insert("cache", Record{"id": "c2"})
	_, _ = tx.Insert("kept", Record{"id": "k2"})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count("cache", nil); n != 2 {
		t.Fatalf("cache holds %d in memory", n)
	}
	_ = s.Close()
	r, _ := openTest(t, log.Reopen())
	if !r.HasBucket("cache") {
		t.Fatal("the definition of a non-persistent bucket was lost")
	}
	if n, _ := r.Count("cache", nil); n != 0 {
		t.Fatalf("non-persistent bucket recovered %d records", n)
	}
	if n, _ := r.Count("kept", nil); n != 2 {
		t.Fatalf("persistent bucket recovered %d records", n)
	}
}
