package store

import (
	"errors"
	"fmt"
)

// Tx is an optimistic multi-bucket transaction (STORE.md §16, with the Go
// recommendations of §23): writes are buffered and invisible to others;
// reads see the transaction's own writes; Commit validates, under the
// store's write lock, that every record the transaction read or wrote still
// has the version it saw, then applies everything as one change set, or
// nothing. Events are published only after the commit is durable.
//
// Unlike the reference, records that were only read are validated too, so
// a transaction never commits on top of data that changed under it. New
// records that would have matched a scan (phantoms) are not detected.
type Tx struct {
	s       *Store
	annex   *Annex
	buckets map[string]*txBucket
	order   []string // first-touch order
	done    bool
	now     int64
}

type txBucket struct {
	name    string
	id      uint64
	def     *BucketDef
	writes  map[any]*txWrite
	added   []any // inserted keys, in order
	reads   map[any]float64
	counter int64
}

// txWrite is the final buffered state of one key.
type txWrite struct {
	rec      Record // nil: deleted
	insert   bool   // the key did not exist when the transaction first wrote it
	expected float64
	hasBase  bool // expected is meaningful (the key existed when first seen)
}

// ErrTxDone is returned by a transaction used after Commit or Rollback.
var ErrTxDone = errors.New("Transaction already committed")

// Begin starts a transaction.
func (s *Store) Begin(opts ...WriteOption) *Tx {
	return &Tx{s: s, annex: annexOf(opts), buckets: make(map[string]*txBucket), now: s.now()}
}

// Transaction runs fn in a transaction and commits it if fn succeeds.
func (s *Store) Transaction(fn func(tx *Tx) error, opts ...WriteOption) error {
	tx := s.Begin(opts...)
	if err := fn(tx); err != nil {
		tx.done = true
		return err
	}
	return tx.Commit()
}

// Rollback discards the transaction.
func (tx *Tx) Rollback() { tx.done = true }

func (tx *Tx) bucket(name string) (*txBucket, error) {
	if tx.done {
		return nil, ErrTxDone
	}
	if tb := tx.buckets[name]; tb != nil {
		return tb, nil
	}
	tx.s.mu.RLock()
	b := tx.s.buckets[name]
	var tb *txBucket
	if b != nil {
		tb = &txBucket{name: name, id: b.id, def: b.def, writes: make(map[any]*txWrite),
			reads: make(map[any]float64), counter: b.counter}
	}
	tx.s.mu.RUnlock()
	if tb == nil {
		return nil, &ErrBucketNotDefined{Bucket: name}
	}
	tx.buckets[name] = tb
	tx.order = append(tx.order, name)
	return tb, nil
}

// committed reads key's committed record and remembers its version (0 for
// absent) the first time the transaction sees it.
func (tx *Tx) committed(tb *txBucket, key any) Record {
	key = normKey(key)
	tx.s.mu.RLock()
	defer tx.s.mu.RUnlock()
	var rec Record
	if b := tx.s.byID[tb.id]; b != nil {
		if e := tx.s.lookup(nil, b, key, tx.now); e != nil {
			rec = e.rec
		}
	}
	if _, seen := tb.reads[key]; !seen {
		tb.reads[key] = versionOf(rec)
	}
	return rec
}

func versionOf(rec Record) float64 {
	if rec == nil {
		return 0
	}
	v, _ := rec[FieldVersion].(float64)
	return v
}

// view returns key's record as the transaction sees it.
func (tx *Tx) view(tb *txBucket, key any) Record {
	key = normKey(key)
	if w, ok := tb.writes[key]; ok {
		return w.rec
	}
	return tx.committed(tb, key)
}

// Get returns the record at key as the transaction sees it, or nil.
func (tx *Tx) Get(bucket string, key any) (Record, error) {
	tb, err := tx.bucket(bucket)
	if err != nil {
		return nil, err
	}
	if !IsScalar(key) {
		return nil, nil
	}
	return tx.view(tb, key), nil
}

// Insert validates a record now and buffers it; key collisions with other
// writers and unique constraints are checked at commit.
func (tx *Tx) Insert(bucket string, data Record) (Record, error) {
	tb, err := tx.bucket(bucket)
	if err != nil {
		return nil, err
	}
	rec, counter, err := tb.def.PrepareInsert(data, tb.counter, tx.now)
	if err != nil {
		return nil, err
	}
	key := normKey(rec[tb.def.Key])
	if tx.view(tb, key) != nil {
		return nil, &ErrKeyExists{Bucket: bucket, Key: key}
	}
	if tb.def.TTL > 0 {
		if _, ok := rec[FieldExpiresAt]; !ok {
			rec[FieldExpiresAt] = float64(tx.now + tb.def.TTL)
		}
	}
	tb.counter = counter
	w := tb.writes[key]
	if w == nil {
		// The key was free when first seen: a plain insert.
		w = &txWrite{insert: true}
		tb.writes[key] = w
		tb.added = append(tb.added, key)
	}
	w.rec = rec
	return rec, nil
}

// Update merges changes into the record at key as the transaction sees it.
func (tx *Tx) Update(bucket string, key any, changes Record) (Record, error) {
	tb, err := tx.bucket(bucket)
	if err != nil {
		return nil, err
	}
	var cur Record
	if IsScalar(key) {
		cur = tx.view(tb, key)
	}
	if cur == nil {
		return nil, &ErrRecordNotFound{Bucket: bucket, Key: key}
	}
	rec, err := tb.def.PrepareUpdate(cur, changes, tx.now)
	if err != nil {
		return nil, err
	}
	key = normKey(key)
	w := tb.writes[key]
	if w == nil {
		w = &txWrite{expected: tb.reads[key], hasBase: true}
		tb.writes[key] = w
	}
	w.rec = rec
	return rec, nil
}

// Delete buffers the removal of key; a missing key is not an error.
func (tx *Tx) Delete(bucket string, key any) error {
	tb, err := tx.bucket(bucket)
	if err != nil {
		return err
	}
	if !IsScalar(key) || tx.view(tb, key) == nil {
		return nil
	}
	key = normKey(key)
	w := tb.writes[key]
	if w == nil {
		// Expect the version originally read, not a buffered one
		// (STORE.md §23 #8).
		w = &txWrite{expected: tb.reads[key], hasBase: true}
		tb.writes[key] = w
	}
	if w.insert {
		// insert then delete: nothing at all
		delete(tb.writes, key)
		for i, k := range tb.added {
			if StrictEqual(k, key) {
				tb.added = append(tb.added[:i], tb.added[i+1:]...)
				break
			}
		}
		return nil
	}
	w.rec = nil
	return nil
}

// scan returns the records matching f as the transaction sees them:
// committed records with buffered updates replaced and deletes dropped,
// then buffered inserts.
func (tx *Tx) scan(tb *txBucket, f *Filter, limit int) []Record {
	var out []Record
	tx.s.mu.RLock()
	b := tx.s.byID[tb.id]
	if b != nil {
		tx.s.eachLive(nil, b, tx.now, func(e *entry) bool {
			rec := e.rec
			if w, ok := tb.writes[e.key]; ok {
				if w.insert {
					return true // re-inserted after a delete: comes later
				}
				rec = w.rec
			}
			if rec == nil || (f != nil && !f.Match(rec)) {
				return true
			}
			if _, seen := tb.reads[e.key]; !seen {
				tb.reads[e.key] = versionOf(e.rec)
			}
			out = append(out, rec)
			return limit <= 0 || len(out) < limit
		})
	}
	tx.s.mu.RUnlock()
	for _, k := range tb.added {
		if limit > 0 && len(out) >= limit {
			break
		}
		if w := tb.writes[k]; w != nil && w.rec != nil && (f == nil || f.Match(w.rec)) {
			out = append(out, w.rec)
		}
	}
	return out
}

// Where returns the matching records as the transaction sees them.
func (tx *Tx) Where(bucket string, f *Filter) ([]Record, error) {
	tb, err := tx.bucket(bucket)
	if err != nil {
		return nil, err
	}
	return tx.scan(tb, f, 0), nil
}

// FindOne returns the first matching record, or nil.
func (tx *Tx) FindOne(bucket string, f *Filter) (Record, error) {
	tb, err := tx.bucket(bucket)
	if err != nil {
		return nil, err
	}
	if m := tx.scan(tb, f, 1); len(m) > 0 {
		return m[0], nil
	}
	return nil, nil
}

// Count returns the number of matching records.
func (tx *Tx) Count(bucket string, f *Filter) (int, error) {
	tb, err := tx.bucket(bucket)
	if err != nil {
		return 0, err
	}
	return len(tx.scan(tb, f, 0)), nil
}

// Commit validates and applies the transaction. On CONFLICT (*ErrConflict)
// nothing was written; the caller may retry.
func (tx *Tx) Commit() error {
	if tx.done {
		return ErrTxDone
	}
	tx.done = true
	s := tx.s
	return s.commitWith(tx.annex, func() (*pending, error) {
		now := s.now()
		p := newPending()
		for _, name := range tx.order {
			tb := tx.buckets[name]
			b := s.byID[tb.id]
			if b == nil {
				return nil, &ErrBucketNotDefined{Bucket: name}
			}
			if err := tx.validate(tb, b, now); err != nil {
				return nil, err
			}
		}
		for _, name := range tx.order {
			if err := tx.stage(p, tx.buckets[name], s.byID[tx.buckets[name].id], now); err != nil {
				return nil, err
			}
		}
		return p, nil
	})
}

// validate checks every version the transaction relied on.
func (tx *Tx) validate(tb *txBucket, b *bucket, now int64) error {
	for key, seen := range tb.reads {
		cur := tx.s.lookup(nil, b, key, now)
		got := versionOf(recOf(cur))
		if got == seen {
			continue
		}
		if w := tb.writes[key]; w != nil && !w.hasBase && !w.insert {
			continue
		}
		switch {
		case seen == 0:
			return &ErrConflict{Bucket: tb.name, Key: key, Reason: fmt.Sprintf("Record with key %q already exists", Display(key))}
		case cur == nil:
			return &ErrConflict{Bucket: tb.name, Key: key, Reason: fmt.Sprintf("Record with key %q not found", Display(key))}
		default:
			return &ErrConflict{Bucket: tb.name, Key: key,
				Reason: fmt.Sprintf("Version mismatch: expected %s, got %s", FormatNumber(seen), FormatNumber(got))}
		}
	}
	for _, key := range tb.added {
		if tx.s.lookup(nil, b, key, now) != nil {
			if _, read := tb.reads[key]; !read {
				return &ErrConflict{Bucket: tb.name, Key: key, Reason: fmt.Sprintf("Record with key %q already exists", Display(key))}
			}
		}
	}
	return nil
}

func recOf(e *entry) Record {
	if e == nil {
		return nil
	}
	return e.rec
}

// stage adds the transaction's writes to bucket b: inserts, then updates,
// then deletes (the reference's event order).
func (tx *Tx) stage(p *pending, tb *txBucket, b *bucket, now int64) error {
	s := tx.s
	st := p.stage(b)
	st.counter = max(st.counter, tb.counter) // carried by the puts below
	for _, key := range tb.added {
		w := tb.writes[key]
		if w == nil || w.rec == nil {
			continue
		}
		if old := s.lookup(p, b, key, now); old != nil {
			return &ErrConflict{Bucket: tb.name, Key: key, Reason: fmt.Sprintf("Record with key %q already exists", Display(key))}
		}
		if err := s.stagePrepared(p, b, key, w.rec, now); err != nil {
			return err
		}
	}
	for key, w := range sortedWrites(tb) {
		if w.insert || w.rec == nil {
			continue
		}
		cur := s.lookup(p, b, key, now)
		if cur == nil {
			return &ErrConflict{Bucket: tb.name, Key: key, Reason: fmt.Sprintf("Record with key %q not found", Display(key))}
		}
		if err := s.checkUnique(p, b, w.rec, key, now); err != nil {
			return err
		}
		if err := s.checkRefs(p, b, w.rec, nil, now); err != nil {
			return err
		}
		ev := &Event{Type: EventUpdated, Bucket: b.def.Name, Key: key, OldRecord: cur.rec, NewRecord: w.rec}
		if err := p.stagePut(b, key, w.rec, false, cur.seq, ev); err != nil {
			return err
		}
	}
	for key, w := range sortedWrites(tb) {
		if w.insert || w.rec != nil {
			continue
		}
		if err := s.stageDeleteKey(p, b, key, now, map[*entry]bool{}); err != nil {
			return err
		}
	}
	return nil
}

// sortedWrites iterates a bucket's writes in a deterministic order (the
// order keys were first read), so the change set does not depend on map
// iteration.
func sortedWrites(tb *txBucket) func(yield func(any, *txWrite) bool) {
	return func(yield func(any, *txWrite) bool) {
		keys := make([]any, 0, len(tb.writes))
		for k := range tb.writes {
			keys = append(keys, k)
		}
		sortKeys(keys)
		for _, k := range keys {
			if !yield(k, tb.writes[k]) {
				return
			}
		}
	}
}

func sortKeys(keys []any) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && CompareKeys(keys[j], keys[j-1]) < 0; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}
