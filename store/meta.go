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
func (s *Store) SetMeta(name string, value []byte, opts ...WriteOption) error {
	return s.SetMetaFunc(name, func() ([]byte, error) { return value, nil }, opts...)
}

// SetMetaFunc durably stores the value build returns under name. build
// runs under the store's write lock, so it can check and reserve what the
// value stands for atomically with the write; its error aborts it.
func (s *Store) SetMetaFunc(name string, build func() ([]byte, error), opts ...WriteOption) error {
	return s.commitWith(annexOf(opts), func() (*pending, error) {
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
func (s *Store) DeleteMeta(name string, opts ...WriteOption) (bool, error) {
	found := false
	err := s.commitWith(annexOf(opts), func() (*pending, error) {
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

// SetMetas durably sets the entries and removes the names del, in one
// commit. Names in del that do not exist are ignored.
func (s *Store) SetMetas(set []MetaEntry, del []string, opts ...WriteOption) error {
	return s.commitWith(annexOf(opts), func() (*pending, error) {
		p := newPending()
		for _, e := range set {
			p.add(storage.Op{Kind: storage.OpSetMeta, Bucket: e.Name, Value: append([]byte(nil), e.Value...)}, nil, nil)
		}
		for _, name := range del {
			if _, ok := s.meta[name]; ok {
				p.add(storage.Op{Kind: storage.OpDeleteMeta, Bucket: name}, nil, nil)
			}
		}
		return p, nil
	})
}

// DeleteMetas durably removes the named entries in one commit.
func (s *Store) DeleteMetas(names []string) error { return s.SetMetas(nil, names) }
