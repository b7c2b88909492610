package store

// keyMap maps scalar keys (string, number, boolean) to values. Keeping one
// typed table per kind avoids hashing through interfaces, which dominated
// the cost of an insert; it also keeps "1" and 1 apart as JavaScript's ===
// does. -0 and 0 are one key (callers normalise with normKey).
type keyMap[V any] struct {
	strs  map[string]V
	nums  map[float64]V
	bools map[bool]V
}

func (m *keyMap[V]) get(k any) (V, bool) {
	var v V
	var ok bool
	switch x := k.(type) {
	case string:
		v, ok = m.strs[x]
	case float64:
		v, ok = m.nums[x]
	case bool:
		v, ok = m.bools[x]
	}
	return v, ok
}

func (m *keyMap[V]) set(k any, v V) {
	switch x := k.(type) {
	case string:
		if m.strs == nil {
			m.strs = make(map[string]V)
		}
		m.strs[x] = v
	case float64:
		if m.nums == nil {
			m.nums = make(map[float64]V)
		}
		m.nums[x] = v
	case bool:
		if m.bools == nil {
			m.bools = make(map[bool]V)
		}
		m.bools[x] = v
	}
}

func (m *keyMap[V]) del(k any) {
	switch x := k.(type) {
	case string:
		delete(m.strs, x)
	case float64:
		delete(m.nums, x)
	case bool:
		delete(m.bools, x)
	}
}

func (m *keyMap[V]) len() int { return len(m.strs) + len(m.nums) + len(m.bools) }

// each calls fn for every entry (in no particular order).
func (m *keyMap[V]) each(fn func(k any, v V)) {
	for k, v := range m.strs {
		fn(k, v)
	}
	for k, v := range m.nums {
		fn(k, v)
	}
	for k, v := range m.bools {
		fn(k, v)
	}
}
