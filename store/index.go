package store

// keySet is an insertion-ordered set of primary keys. Removal leaves a
// hole that is compacted away once holes outnumber live keys, so both add
// and remove are O(1) amortized.
type keySet struct {
	keys  []any
	pos   keyMap[int]
	holes int
}

var hole = &struct{}{}

func (s *keySet) add(k any) {
	if _, ok := s.pos.get(k); ok {
		return
	}
	s.pos.set(k, len(s.keys))
	s.keys = append(s.keys, k)
}

func (s *keySet) remove(k any) {
	i, ok := s.pos.get(k)
	if !ok {
		return
	}
	s.pos.del(k)
	s.keys[i] = hole
	s.holes++
	if s.holes > 8 && s.holes > s.pos.len() {
		live := make([]any, 0, s.pos.len())
		for _, v := range s.keys {
			if v != hole {
				s.pos.set(v, len(live))
				live = append(live, v)
			}
		}
		s.keys, s.holes = live, 0
	}
}

func (s *keySet) len() int { return s.pos.len() }

// each calls fn for every key in insertion order until fn returns false.
func (s *keySet) each(fn func(k any) bool) {
	for _, k := range s.keys {
		if k != hole && !fn(k) {
			return
		}
	}
}

// index is an equality index on one field: value → the keys holding it, in
// the order they were added (STORE.md §7). Null, absent and non-scalar
// values are never indexed.
type index struct {
	field  string
	unique bool
	values keyMap[*keySet]
}

func newIndex(field string, unique bool) *index {
	return &index{field: field, unique: unique}
}

// indexValue returns the value a record contributes to the index.
func (ix *index) indexValue(rec Record) (any, bool) {
	v, ok := rec[ix.field]
	if !ok || !IsScalar(v) {
		return nil, false
	}
	if f, isNum := v.(float64); isNum && f == 0 {
		v = float64(0) // -0 and 0 are one key, as in JavaScript
	}
	return v, true
}

func (ix *index) add(key any, rec Record) {
	v, ok := ix.indexValue(rec)
	if !ok {
		return
	}
	set, _ := ix.values.get(v)
	if set == nil {
		set = &keySet{}
		ix.values.set(v, set)
	}
	set.add(key)
}

func (ix *index) remove(key any, rec Record) {
	v, ok := ix.indexValue(rec)
	if !ok {
		return
	}
	if set, _ := ix.values.get(v); set != nil {
		set.remove(key)
		if set.len() == 0 {
			ix.values.del(v)
		}
	}
}

// lookup returns the keys holding v, in index order.
func (ix *index) lookup(v any) *keySet {
	if f, isNum := v.(float64); isNum && f == 0 {
		v = float64(0)
	}
	set, _ := ix.values.get(v)
	return set
}
