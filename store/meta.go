package store

import (
	"sort"
	"strings"

	"github.com/noex-go/noex/storage"
)

// Meta entries let other components (declarative queries; later rules and
// procedures) persist small definitions through the store's commit log, so
// they are as durable as bucket definitions and recovered with them.

// SetMeta durably stores value under name.
func (s *Store) SetMeta(name string, value []byte) error {
	return s.SetMetaFunc(name, func() ([]byte, error) { return value, nil })
}

// SetMetaFunc durably stores the value build returns under name. build
// runs under the store's write lock, so it can check and reserve what the
// value stands for atomically with the write; its error aborts it.
func (s *Store) SetMetaFunc(name string, build func() ([]byte, error)) error {
	return s.commit(func() (*pending, error) {
		value, err := build()
		if err != nil {
			return nil, err
		}
		p := newPending()
		p.add(storage.Op{Kind: storage.OpSetMeta, Bucket: name, Value: append([]byte(nil), value...)}, nil, nil)
		return p, nil
	})
}

// DeleteMeta durably removes the entry name; it reports whether it
// existed.
func (s *Store) DeleteMeta(name string) (bool, error) {
	found := false
	err := s.commit(func() (*pending, error) {
		if _, ok := s.meta[name]; !ok {
			return nil, nil
		}
		found = true
		p := newPending()
		p.add(storage.Op{Kind: storage.OpDeleteMeta, Bucket: name}, nil, nil)
		return p, nil
	})
	return found, err
}

// MetaEntry is one stored meta entry.
type MetaEntry struct {
	Name  string
	Value []byte
}

// MetaWithPrefix returns the entries whose names start with prefix, in
// name order.
func (s *Store) MetaWithPrefix(prefix string) []MetaEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []MetaEntry
	for k, v := range s.meta {
		if strings.HasPrefix(k, prefix) {
			out = append(out, MetaEntry{Name: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
