package store

import (
	"encoding/json"
	"fmt"

	"github.com/noex-go/noex/storage"
)

// apply is the one deterministic function that changes the store's state:
// live writes and recovery both go through it, so replaying the log always
// rebuilds the same state. recs and keys, when given, are the records and
// keys the caller has already decoded (parallel to cs.Ops; nil entries are
// decoded from the change set) — the result is the same either way. Caller
// holds s.mu (or is recovering before the store is shared).
func (s *Store) apply(cs *storage.ChangeSet, recs []Record, keys []any) error {
	for i := range cs.Ops {
		op := &cs.Ops[i]
		var (
			rec Record
			key any
		)
		if i < len(recs) {
			rec = recs[i]
		}
		if i < len(keys) {
			key = keys[i]
		}
		if err := s.applyOp(op, key, rec); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	return nil
}

func (s *Store) applyOp(op *storage.Op, key any, rec Record) error {
	switch op.Kind {
	case storage.OpDefineBucket:
		def, err := ParseStoredBucketDef(op.Bucket, op.Value)
		if err != nil {
			return err
		}
		if old := s.buckets[op.Bucket]; old != nil {
			return fmt.Errorf("bucket %q defined twice", op.Bucket)
		}
		b := newBucket(op.BucketID, def)
		b.counter = op.Counter
		b.nextSeq = op.NextSeq
		s.buckets[op.Bucket] = b
		s.byID[op.BucketID] = b
		s.order = append(s.order, op.Bucket)
		s.nextBucketID = max(s.nextBucketID, op.BucketID)
		return nil
	}
	switch op.Kind {
	case storage.OpSetMeta:
		if s.meta == nil {
			s.meta = make(map[string][]byte)
		}
		s.meta[op.Bucket] = op.Value
		return nil
	case storage.OpDeleteMeta:
		delete(s.meta, op.Bucket)
		return nil
	}
	b := s.byID[op.BucketID]
	if b == nil {
		return fmt.Errorf("unknown bucket id %d", op.BucketID)
	}
	switch op.Kind {
	case storage.OpUpdateBucket:
		def, err := ParseStoredBucketDef(b.def.Name, op.Value)
		if err != nil {
			return err
		}
		b.setDef(def)
		b.counter = max(b.counter, op.Counter)
	case storage.OpDropBucket:
		delete(s.buckets, b.def.Name)
		delete(s.byID, b.id)
		for i, n := range s.order {
			if n == b.def.Name {
				s.order = append(s.order[:i:i], s.order[i+1:]...)
				break
			}
		}
	case storage.OpPut:
		key, err := keyOf(op, key)
		if err != nil {
			return err
		}
		if rec == nil {
			v, err := decodeObject(op.Value)
			if err != nil {
				return fmt.Errorf("decoding record: %w", err)
			}
			rec = v
		}
		b.put(key, rec, op.Value, op.Seq)
		b.counter = max(b.counter, op.Counter)
		b.nextSeq = max(b.nextSeq, op.NextSeq, op.Seq+1)
	case storage.OpDelete:
		key, err := keyOf(op, key)
		if err != nil {
			return err
		}
		b.remove(key)
	case storage.OpClear:
		b.clear()
		b.counter = max(b.counter, op.Counter)
	default:
		return fmt.Errorf("unknown op kind %d", op.Kind)
	}
	return nil
}

// keyOf returns the op's key: the decoded one when the caller has it.
func keyOf(op *storage.Op, decoded any) (any, error) {
	if decoded != nil {
		return normKey(decoded), nil
	}
	return decodeKey(op.Key)
}

func decodeKey(raw []byte) (any, error) {
	var k any
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("decoding key: %w", err)
	}
	if !IsScalar(k) {
		return nil, fmt.Errorf("key %s is not a scalar", raw)
	}
	return normKey(k), nil
}
