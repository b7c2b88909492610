package store

import (
	"sort"
)

// entry is one stored record with its encoded form and storage position.
type entry struct {
	key  any
	rec  Record
	enc  []byte // the record as JSON, computed once per write
	seq  uint64
	slot int // position in bucket.slots
}

// bucket is the in-memory state of one bucket. It is changed only by the
// apply functions (apply.go), under the store's write lock.
type bucket struct {
	id      uint64
	def     *BucketDef
	records keyMap[*entry]
	// slots holds entries in storage order (insertion order of keys);
	// removed entries leave nil holes, compacted when they pile up.
	slots   []*entry
	holes   int
	indexes map[string]*index
	counter int64  // autoincrement
	nextSeq uint64 // next storage position
}

func newBucket(id uint64, def *BucketDef) *bucket {
	b := &bucket{id: id}
	b.setDef(def)
	return b
}

// setDef installs a definition and (re)builds its indexes from the
// records held.
func (b *bucket) setDef(def *BucketDef) {
	b.def = def
	b.indexes = make(map[string]*index)
	for _, f := range def.Indexes {
		b.indexes[f] = newIndex(f, isUniqueField(def, f))
	}
	for _, f := range def.Fields {
		if f.Def.Unique {
			if _, ok := b.indexes[f.Name]; !ok {
				b.indexes[f.Name] = newIndex(f.Name, true)
			}
		}
	}
	for _, e := range b.slots {
		if e != nil {
			for _, ix := range b.indexes {
				ix.add(e.key, e.rec)
			}
		}
	}
}

// normKey makes -0 and 0 one key, as JavaScript's === does.
func normKey(k any) any {
	if f, ok := k.(float64); ok && f == 0 {
		return float64(0)
	}
	return k
}

func (b *bucket) get(key any) *entry {
	e, _ := b.records.get(normKey(key))
	return e
}

// put stores or replaces the record at key. A new key takes position seq.
func (b *bucket) put(key any, rec Record, enc []byte, seq uint64) (old *entry) {
	key = normKey(key)
	old, _ = b.records.get(key)
	if old != nil {
		for _, ix := range b.indexes {
			ix.remove(key, old.rec)
		}
		e := &entry{key: key, rec: rec, enc: enc, seq: old.seq, slot: old.slot}
		b.slots[old.slot] = e
		b.records.set(key, e)
		for _, ix := range b.indexes {
			ix.add(key, rec)
		}
		return old
	}
	e := &entry{key: key, rec: rec, enc: enc, seq: seq, slot: len(b.slots)}
	// Positions only grow, so appending keeps the slots in seq order;
	// recovery replays records in seq order too.
	b.slots = append(b.slots, e)
	b.records.set(key, e)
	for _, ix := range b.indexes {
		ix.add(key, rec)
	}
	return nil
}

func (b *bucket) remove(key any) *entry {
	key = normKey(key)
	e, _ := b.records.get(key)
	if e == nil {
		return nil
	}
	b.records.del(key)
	for _, ix := range b.indexes {
		ix.remove(key, e.rec)
	}
	b.slots[e.slot] = nil
	b.holes++
	if b.holes > 32 && b.holes > b.records.len() {
		b.compact()
	}
	return e
}

func (b *bucket) compact() {
	live := make([]*entry, 0, b.records.len())
	for _, e := range b.slots {
		if e != nil {
			e.slot = len(live)
			live = append(live, e)
		}
	}
	b.slots, b.holes = live, 0
}

func (b *bucket) clear() []*entry {
	removed := make([]*entry, 0, b.records.len())
	for _, e := range b.slots {
		if e != nil {
			removed = append(removed, e)
		}
	}
	b.records = keyMap[*entry]{}
	b.slots, b.holes = nil, 0
	for f, ix := range b.indexes {
		b.indexes[f] = newIndex(f, ix.unique)
	}
	return removed
}

func (b *bucket) size() int { return b.records.len() }

// each walks entries in storage order until fn returns false.
func (b *bucket) each(fn func(e *entry) bool) {
	for _, e := range b.slots {
		if e != nil && !fn(e) {
			return
		}
	}
}

// keyWalk returns the entries in key-walk order (STORE.md §9): storage
// order, or sorted keys for ordered_set buckets.
func (b *bucket) keyWalk() []*entry {
	out := make([]*entry, 0, b.records.len())
	b.each(func(e *entry) bool { out = append(out, e); return true })
	if b.def.EtsType == "ordered_set" {
		sort.SliceStable(out, func(i, j int) bool { return CompareKeys(out[i].key, out[j].key) < 0 })
	}
	return out
}

func isUniqueField(def *BucketDef, field string) bool {
	fd := def.FieldDef(field)
	return fd != nil && fd.Unique
}
