package store

import (
	"bytes"
	"encoding/json"
)

// The read side. Reads hold the read lock only while they collect entries;
// entries are immutable (a write replaces an entry, never changes it), so
// results stay valid after the lock is released. Expired records of TTL
// buckets are never returned, swept or not.

// Doc is one record as a read returns it.
type Doc struct{ e *entry }

// Found reports whether the read found a record.
func (d Doc) Found() bool { return d.e != nil }

// Record returns a copy of the record, or nil.
func (d Doc) Record() Record {
	if d.e == nil {
		return nil
	}
	return CloneValue(d.e.rec).(Record)
}

// Key returns the record's primary key, or nil.
func (d Doc) Key() any {
	if d.e == nil {
		return nil
	}
	return d.e.key
}

// MarshalJSON writes the record's stored encoding, or null.
func (d Doc) MarshalJSON() ([]byte, error) {
	if d.e == nil {
		return []byte("null"), nil
	}
	return d.e.enc, nil
}

// Docs is a list of records as a read returns it.
type Docs struct{ list []*entry }

// Len is the number of records.
func (d Docs) Len() int { return len(d.list) }

// At returns the i-th record.
func (d Docs) At(i int) Doc { return Doc{d.list[i]} }

// Records returns copies of the records.
func (d Docs) Records() []Record {
	out := make([]Record, len(d.list))
	for i, e := range d.list {
		out[i] = CloneValue(e.rec).(Record)
	}
	return out
}

// MarshalJSON writes the records' stored encodings as a JSON array.
// AppendJSON appends the record's stored encoding, or null.
func (d Doc) AppendJSON(b []byte) ([]byte, error) {
	if d.e == nil {
		return append(b, "null"...), nil
	}
	return append(b, d.e.enc...), nil
}

// JSONSizeHint is the encoded size.
func (d Doc) JSONSizeHint() int {
	if d.e == nil {
		return 4
	}
	return len(d.e.enc)
}

// AppendJSON appends the records as a JSON array.
func (d Docs) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, '[')
	for i, e := range d.list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.enc...)
	}
	return append(b, ']'), nil
}

// JSONSizeHint is the encoded size.
func (d Docs) JSONSizeHint() int {
	n := 2
	for _, e := range d.list {
		n += len(e.enc) + 1
	}
	return n
}

func (d Docs) MarshalJSON() ([]byte, error) {
	n := 2
	for _, e := range d.list {
		n += len(e.enc) + 1
	}
	var buf bytes.Buffer
	buf.Grow(n)
	buf.WriteByte('[')
	for i, e := range d.list {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(e.enc)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// read runs fn with bucket name under the read lock.
func (s *Store) read(name string, fn func(b *bucket, now int64) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := s.bucketLocked(name)
	if err != nil {
		return err
	}
	return fn(b, s.now())
}

// Get returns the record stored under key.
func (s *Store) Get(name string, key any) (Doc, error) {
	var d Doc
	err := s.read(name, func(b *bucket, now int64) error {
		if !IsScalar(key) {
			return nil
		}
		d.e = s.lookup(nil, b, key, now)
		return nil
	})
	return d, err
}

// All returns every record in storage order (key order for ordered_set
// buckets, as the wire's store.all promises).
func (s *Store) All(name string) (Docs, error) {
	var out Docs
	err := s.read(name, func(b *bucket, now int64) error {
		out.list = s.liveWalk(b, now)
		return nil
	})
	return out, err
}

// liveWalk is the key walk without expired records.
func (s *Store) liveWalk(b *bucket, now int64) []*entry {
	walk := b.keyWalk()
	if b.def.TTL <= 0 {
		return walk
	}
	live := walk[:0]
	for _, e := range walk {
		if !isExpired(b, e, now) {
			live = append(live, e)
		}
	}
	return live
}

// matching collects the records that match f (nil: all), using an index
// for the first indexed plain equality of the filter (STORE.md §7).
func (s *Store) matching(p *pending, b *bucket, f *Filter, now int64, limit int) []*entry {
	var out []*entry
	take := func(e *entry) bool {
		if f == nil || f.Match(e.rec) {
			out = append(out, e)
		}
		return limit <= 0 || len(out) < limit
	}
	if f != nil && p == nil {
		if field, value, ok := f.IndexCandidate(func(field string) bool { _, ok := b.indexes[field]; return ok }); ok {
			if set := b.indexes[field].lookup(value); set != nil {
				set.each(func(k any) bool {
					e, _ := b.records.get(k)
					if e == nil || isExpired(b, e, now) {
						return true
					}
					return take(e)
				})
			}
			return out
		}
	}
	s.eachLive(p, b, now, take)
	return out
}

// Where returns the records matching the filter.
func (s *Store) Where(name string, f *Filter) (Docs, error) {
	var out Docs
	err := s.read(name, func(b *bucket, now int64) error {
		out.list = s.matching(nil, b, f, now, 0)
		return nil
	})
	return out, err
}

// FindOne returns the first record matching the filter.
func (s *Store) FindOne(name string, f *Filter) (Doc, error) {
	var d Doc
	err := s.read(name, func(b *bucket, now int64) error {
		if m := s.matching(nil, b, f, now, 1); len(m) > 0 {
			d.e = m[0]
		}
		return nil
	})
	return d, err
}

// Count returns the number of records matching f (all when f is nil).
func (s *Store) Count(name string, f *Filter) (int, error) {
	n := 0
	err := s.read(name, func(b *bucket, now int64) error {
		if f == nil && b.def.TTL <= 0 {
			n = b.size()
			return nil
		}
		n = len(s.matching(nil, b, f, now, 0))
		return nil
	})
	return n, err
}

// First returns the first n records of the key walk; n <= 0 gives none.
func (s *Store) First(name string, n int) (Docs, error) {
	var out Docs
	err := s.read(name, func(b *bucket, now int64) error {
		if n <= 0 {
			return nil
		}
		walk := s.liveWalk(b, now)
		out.list = walk[:min(n, len(walk))]
		return nil
	})
	return out, err
}

// Last returns the last n records of the key walk, in walk order; n <= 0
// gives none (STORE.md §23 #4).
func (s *Store) Last(name string, n int) (Docs, error) {
	var out Docs
	err := s.read(name, func(b *bucket, now int64) error {
		if n <= 0 {
			return nil
		}
		walk := s.liveWalk(b, now)
		out.list = walk[max(0, len(walk)-n):]
		return nil
	})
	return out, err
}

// Page is one page of Paginate.
type Page struct {
	Records    Docs `json:"records"`
	HasMore    bool `json:"hasMore"`
	NextCursor any  `json:"nextCursor,omitempty"`
}

// MarshalJSON omits nextCursor on an empty page (it is never null).
func (p Page) MarshalJSON() ([]byte, error) {
	type page struct {
		Records    Docs            `json:"records"`
		HasMore    bool            `json:"hasMore"`
		NextCursor json.RawMessage `json:"nextCursor,omitempty"`
	}
	out := page{Records: p.Records, HasMore: p.HasMore}
	if p.Records.Len() > 0 {
		c, err := encodeJSON(p.NextCursor)
		if err != nil {
			return nil, err
		}
		out.NextCursor = c
	}
	return json.Marshal(out)
}

// Paginate returns up to limit records after the record whose key is
// after (from the start when hasAfter is false).
func (s *Store) Paginate(name string, after any, hasAfter bool, limit int) (Page, error) {
	var pg Page
	err := s.read(name, func(b *bucket, now int64) error {
		walk := s.liveWalk(b, now)
		keys := make([]any, len(walk))
		for i, e := range walk {
			keys[i] = e.key
		}
		if hasAfter {
			after = normKey(after)
		}
		start, end, more := Paginate(keys, after, hasAfter, limit)
		pg.Records.list = walk[start:end]
		pg.HasMore = more
		if end > start {
			pg.NextCursor = walk[end-1].key
		}
		return nil
	})
	return pg, err
}

// Aggregate computes sum, avg, min or max of field over the matching
// records. For min and max, ok is false when no value was numeric.
func (s *Store) Aggregate(name, fn, field string, f *Filter) (value float64, ok bool, err error) {
	err = s.read(name, func(b *bucket, now int64) error {
		list := s.matching(nil, b, f, now, 0)
		recs := make([]Record, len(list))
		for i, e := range list {
			recs[i] = e.rec
		}
		switch fn {
		case "sum":
			value, ok = Sum(recs, field), true
		case "avg":
			value, ok = Avg(recs, field), true
		case "min":
			value, ok = Min(recs, field)
		case "max":
			value, ok = Max(recs, field)
		}
		return nil
	})
	return value, ok, err
}
