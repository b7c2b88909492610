package store

import (
	"github.com/noex-go/noex/storage"
)

// The write side. Every write builds a pending change under the write lock:
// it sees the committed state through an overlay of what the same change
// has already staged (a transaction stages many ops), validates everything,
// and only then is the whole change applied and logged.

// bucketStage is what a pending change has staged for one bucket.
type bucketStage struct {
	entries map[any]*entry // staged record per key; nil = deleted
	added   []any          // staged new keys, in order
	isAdded map[any]bool
	counter int64
	nextSeq uint64
	cleared bool
}

// wasAdded reports whether key is among the staged new keys: a scan while
// there are few, a map once there are many.
func (st *bucketStage) wasAdded(key any) bool {
	if st.isAdded != nil {
		return st.isAdded[key]
	}
	for _, k := range st.added {
		if k == key {
			return true
		}
	}
	return false
}

func (p *pending) stage(b *bucket) *bucketStage {
	if p.stages == nil {
		p.stages = make(map[uint64]*bucketStage)
	}
	st := p.stages[b.id]
	if st == nil {
		st = &bucketStage{entries: make(map[any]*entry), counter: b.counter, nextSeq: b.nextSeq}
		p.stages[b.id] = st
	}
	return st
}

// lookup returns the live entry for key as this change sees it.
func (s *Store) lookup(p *pending, b *bucket, key any, now int64) *entry {
	key = normKey(key)
	if p != nil {
		if st := p.stages[b.id]; st != nil {
			if e, ok := st.entries[key]; ok {
				return e
			}
			if st.cleared {
				return nil
			}
		}
	}
	e := b.get(key)
	if e == nil || isExpired(b, e, now) {
		return nil
	}
	return e
}

// eachLive walks the live entries as this change sees them: committed
// entries in storage order (staged replacements substituted, staged
// deletions and expired records skipped), then staged new entries.
func (s *Store) eachLive(p *pending, b *bucket, now int64, fn func(e *entry) bool) {
	var st *bucketStage
	if p != nil {
		st = p.stages[b.id]
	}
	stop := false
	if st == nil || !st.cleared {
		b.each(func(e *entry) bool {
			if st != nil {
				if se, ok := st.entries[e.key]; ok {
					if se == nil || se.seq != e.seq {
						// deleted, or deleted and inserted again (it moves
						// to the end, with the staged new entries)
						return true
					}
					e = se
				}
			}
			if isExpired(b, e, now) {
				return true
			}
			if !fn(e) {
				stop = true
				return false
			}
			return true
		})
	}
	if stop || st == nil {
		return
	}
	for _, k := range st.added {
		if e := st.entries[k]; e != nil && !isExpired(b, e, now) {
			if !fn(e) {
				return
			}
		}
	}
}

// isExpired reports whether a record of a TTL bucket has passed its
// _expiresAt: such a record is never returned, even before it is swept.
func isExpired(b *bucket, e *entry, now int64) bool {
	if b.def.TTL <= 0 {
		return false
	}
	v, ok := e.rec[FieldExpiresAt].(float64)
	return ok && v <= float64(now)
}

// stagePut stages a record write and its log op.
func (p *pending) stagePut(b *bucket, key any, rec Record, isNew bool, seq uint64, ev *Event) error {
	enc, err := encodeJSON(rec)
	if err != nil {
		return err
	}
	kenc, err := encodeJSON(key)
	if err != nil {
		return err
	}
	st := p.stage(b)
	key = normKey(key)
	if isNew {
		seq = st.nextSeq
		st.nextSeq++
		if !st.wasAdded(key) {
			st.added = append(st.added, key)
			if st.isAdded != nil || len(st.added) > 8 {
				if st.isAdded == nil {
					st.isAdded = make(map[any]bool, len(st.added))
					for _, k := range st.added {
						st.isAdded[k] = true
					}
				}
				st.isAdded[key] = true
			}
		}
	}
	st.entries[key] = &entry{key: key, rec: rec, enc: enc, seq: seq}
	p.addKeyed(storage.Op{Kind: storage.OpPut, BucketID: b.id, Bucket: b.def.Name, Seq: seq, Key: kenc,
		Value: enc, Counter: st.counter, NextSeq: st.nextSeq}, key, rec, ev)
	return nil
}

// stageDelete stages the removal of a live entry.
func (p *pending) stageDelete(b *bucket, e *entry) error {
	kenc, err := encodeJSON(e.key)
	if err != nil {
		return err
	}
	st := p.stage(b)
	st.entries[e.key] = nil
	p.addKeyed(storage.Op{Kind: storage.OpDelete, BucketID: b.id, Bucket: b.def.Name, Seq: e.seq, Key: kenc}, e.key, nil,
		&Event{Type: EventDeleted, Bucket: b.def.Name, Key: e.key, Record: e.rec})
	return nil
}

// checkUnique fails if rec's value of a unique field is held by another
// live record, as this change sees the bucket.
func (s *Store) checkUnique(p *pending, b *bucket, rec Record, self any, now int64) error {
	for _, ix := range b.indexes {
		if !ix.unique {
			continue
		}
		v, ok := ix.indexValue(rec)
		if !ok {
			continue
		}
		clash := false
		if set := ix.lookup(v); set != nil {
			set.each(func(k any) bool {
				if StrictEqual(k, self) {
					return true
				}
				if e := s.lookup(p, b, k, now); e != nil {
					if hv, ok := ix.indexValue(e.rec); ok && StrictEqual(hv, v) {
						clash = true
						return false
					}
				}
				return true
			})
		}
		if !clash && p != nil {
			if st := p.stages[b.id]; st != nil {
				for k, e := range st.entries {
					if e == nil || StrictEqual(k, self) {
						continue
					}
					if hv, ok := ix.indexValue(e.rec); ok && StrictEqual(hv, v) {
						clash = true
						break
					}
				}
			}
		}
		if clash {
			return &ErrUniqueConstraint{Bucket: b.def.Name, Field: ix.field, Value: v}
		}
	}
	return nil
}

// checkRefs verifies that every reference field of rec (or only those in
// fields, when given) names an existing record.
func (s *Store) checkRefs(p *pending, b *bucket, rec Record, only Record, now int64) error {
	for _, f := range b.def.Fields {
		if f.Def.Ref == "" {
			continue
		}
		if only != nil {
			if _, ok := only[f.Name]; !ok {
				continue
			}
		}
		v, ok := rec[f.Name]
		if !ok || v == nil {
			continue
		}
		target := s.buckets[f.Def.Ref]
		if target == nil {
			return &ErrBucketNotDefined{Bucket: f.Def.Ref}
		}
		if !IsScalar(v) || s.lookup(p, target, v, now) == nil {
			return &ErrReferentialIntegrity{SourceBucket: b.def.Name, SourceField: f.Name,
				TargetBucket: target.def.Name, TargetKey: v}
		}
	}
	return nil
}

// Insert validates and stores a new record and returns it as stored.
func (s *Store) Insert(bucketName string, data Record, opts ...WriteOption) (Record, error) {
	var out Record
	o := optionsOf(opts)
	err := s.commitWith(o.annex, func() (*pending, error) {
		b, err := s.bucketLocked(bucketName)
		if err != nil {
			return nil, err
		}
		p := newPending()
		out, err = s.stageInsert(p, b, data, s.now())
		if err != nil {
			return nil, err
		}
		if o.encoded != nil {
			*o.encoded = p.stage(b).entries[normKey(out[b.def.Key])].enc
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// stageInsert runs the insert pipeline against the change's view of b. A
// failed attempt consumes no autoincrement number (documented deviation).
func (s *Store) stageInsert(p *pending, b *bucket, data Record, now int64) (Record, error) {
	st := p.stage(b)
	rec, counter, err := b.def.PrepareInsert(data, st.counter, now)
	if err != nil {
		return nil, err
	}
	key := normKey(rec[b.def.Key])
	if s.lookup(p, b, key, now) != nil {
		return nil, &ErrKeyExists{Bucket: b.def.Name, Key: key}
	}
	if b.def.TTL > 0 {
		if _, ok := rec[FieldExpiresAt]; !ok {
			rec[FieldExpiresAt] = float64(now + b.def.TTL)
		}
	}
	if err := s.stagePrepared(p, b, key, rec, now); err != nil {
		return nil, err
	}
	st.counter = max(st.counter, counter)
	p.cs.Ops[len(p.cs.Ops)-1].Counter = st.counter
	return rec, nil
}

// stagePrepared stages a prepared new record whose key is free: unique and
// reference checks, then (only once every check passed, COMPATIBILITY.md
// S§12) maxSize eviction, then the write.
func (s *Store) stagePrepared(p *pending, b *bucket, key any, rec Record, now int64) error {
	if err := s.checkUnique(p, b, rec, key, now); err != nil {
		return err
	}
	if err := s.checkRefs(p, b, rec, nil, now); err != nil {
		return err
	}
	st := p.stage(b)
	if b.def.MaxSize > 0 {
		live := 0
		s.eachLive(p, b, now, func(*entry) bool { live++; return true })
		if excess := live - b.def.MaxSize + 1; excess > 0 {
			// Oldest first: _createdAt is set by the store at insert and
			// never changes, so storage order is creation order.
			var victims []*entry
			s.eachLive(p, b, now, func(e *entry) bool {
				victims = append(victims, e)
				return len(victims) < excess
			})
			for _, v := range victims {
				if err := p.stageDelete(b, v); err != nil {
					return err
				}
			}
		}
	}
	// If an expired record still holds the key, it goes first.
	if old := b.get(key); old != nil && !st.cleared {
		if _, staged := st.entries[key]; !staged {
			if err := p.stageDelete(b, old); err != nil {
				return err
			}
		}
	}
	return p.stagePut(b, key, rec, true, 0, &Event{Type: EventInserted, Bucket: b.def.Name, Key: key, Record: rec})
}

// Update merges changes into the record at key and returns the result.
func (s *Store) Update(bucketName string, key any, changes Record, opts ...WriteOption) (Record, error) {
	var out Record
	o := optionsOf(opts)
	err := s.commitWith(o.annex, func() (*pending, error) {
		b, err := s.bucketLocked(bucketName)
		if err != nil {
			return nil, err
		}
		p := newPending()
		out, err = s.stageUpdate(p, b, key, changes, s.now())
		if err != nil {
			return nil, err
		}
		if o.encoded != nil {
			*o.encoded = p.stage(b).entries[normKey(out[b.def.Key])].enc
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) stageUpdate(p *pending, b *bucket, key any, changes Record, now int64) (Record, error) {
	e := s.lookup(p, b, key, now)
	if e == nil {
		return nil, &ErrRecordNotFound{Bucket: b.def.Name, Key: key}
	}
	rec, err := b.def.PrepareUpdate(e.rec, changes, now)
	if err != nil {
		return nil, err
	}
	if err := s.checkUnique(p, b, rec, e.key, now); err != nil {
		return nil, err
	}
	if err := s.checkRefs(p, b, rec, changes, now); err != nil {
		return nil, err
	}
	ev := &Event{Type: EventUpdated, Bucket: b.def.Name, Key: e.key, OldRecord: e.rec, NewRecord: rec}
	if err := p.stagePut(b, e.key, rec, false, e.seq, ev); err != nil {
		return nil, err
	}
	return rec, nil
}

// Delete removes the record at key, handling records that reference it
// (STORE.md §3.7). Deleting a key that does not exist is not an error.
func (s *Store) Delete(bucketName string, key any, opts ...WriteOption) error {
	return s.commitWith(annexOf(opts), func() (*pending, error) {
		b, err := s.bucketLocked(bucketName)
		if err != nil {
			return nil, err
		}
		p := newPending()
		if err := s.stageDeleteKey(p, b, key, s.now(), map[*entry]bool{}); err != nil {
			return nil, err
		}
		return p, nil
	})
}

type referrer struct {
	bucket *bucket
	entry  *entry
	field  string
	mode   string
}

// stageDeleteKey deletes key after handling its referrers: every restrict
// reference is checked before any cascade or nulling is staged, so a
// refused delete changes nothing.
func (s *Store) stageDeleteKey(p *pending, b *bucket, key any, now int64, visited map[*entry]bool) error {
	e := s.lookup(p, b, key, now)
	if e == nil || visited[e] {
		return nil
	}
	visited[e] = true
	refs := s.referrers(p, b, e.key, now)
	for _, r := range refs {
		if r.mode == "" || r.mode == "restrict" {
			return &ErrReferentialIntegrity{SourceBucket: r.bucket.def.Name, SourceField: r.field,
				TargetBucket: b.def.Name, TargetKey: e.key, OnDelete: true, SourceKey: r.entry.key}
		}
	}
	for _, r := range refs {
		switch r.mode {
		case "cascade":
			if err := s.stageDeleteKey(p, r.bucket, r.entry.key, now, visited); err != nil {
				return err
			}
		case "set_null":
			cur := s.lookup(p, r.bucket, r.entry.key, now)
			if cur == nil {
				continue
			}
			rec := make(Record, len(cur.rec))
			for k, v := range cur.rec {
				rec[k] = v
			}
			rec[r.field] = nil
			ver, _ := cur.rec[FieldVersion].(float64)
			rec[FieldVersion] = ver + 1
			rec[FieldUpdatedAt] = float64(now)
			ev := &Event{Type: EventUpdated, Bucket: r.bucket.def.Name, Key: cur.key, OldRecord: cur.rec, NewRecord: rec}
			if err := p.stagePut(r.bucket, cur.key, rec, false, cur.seq, ev); err != nil {
				return err
			}
		}
	}
	return p.stageDelete(b, s.lookup(p, b, e.key, now))
}

// referrers finds the live records that reference key in bucket b.
func (s *Store) referrers(p *pending, b *bucket, key any, now int64) []referrer {
	var out []referrer
	for _, name := range s.order {
		sb := s.buckets[name]
		for _, f := range sb.def.Fields {
			if f.Def.Ref != b.def.Name {
				continue
			}
			s.eachLive(p, sb, now, func(e *entry) bool {
				if v, ok := e.rec[f.Name]; ok && StrictEqual(normKey(v), key) {
					out = append(out, referrer{bucket: sb, entry: e, field: f.Name, mode: f.Def.OnDelete})
				}
				return true
			})
		}
	}
	return out
}

// Clear removes every record of a bucket. Unlike the reference, this is a
// change like any other: one deleted event per record (COMPATIBILITY.md
// P§11 #8), and the log records it.
func (s *Store) Clear(bucketName string, opts ...WriteOption) error {
	return s.commitWith(annexOf(opts), func() (*pending, error) {
		b, err := s.bucketLocked(bucketName)
		if err != nil {
			return nil, err
		}
		p := newPending()
		st := p.stage(b)
		st.cleared = true
		p.add(storage.Op{Kind: storage.OpClear, BucketID: b.id, Bucket: b.def.Name, Counter: b.counter}, nil, nil)
		b.each(func(e *entry) bool {
			p.events = append(p.events, Event{Type: EventDeleted, Bucket: b.def.Name, Key: e.key, Record: e.rec})
			return true
		})
		return p, nil
	})
}
