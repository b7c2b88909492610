package store

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/noex-go/noex/storage"
)

// DefaultTTLCheckInterval is how often expired records are swept.
const DefaultTTLCheckInterval = time.Second

var storeCounter atomic.Uint64

// Options configure a Store.
type Options struct {
	// Name identifies the store in statistics; default "store-<n>".
	Name string
	// Log is the commit log; nil keeps nothing (memory only).
	Log storage.Log
	// TTLCheckInterval is the period of the expiry sweep; 0 means the
	// default, negative disables the automatic sweep.
	TTLCheckInterval time.Duration
	// Now returns the time in Unix milliseconds; nil means the wall clock.
	Now func() int64
	// Logger receives the store's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Store is a set of buckets fed by a commit log. All state changes go
// through commit: validate against the current state, build one change set,
// apply it, append it to the log, wait until it is durable, publish events.
type Store struct {
	name    string
	log     storage.Log
	now     func() int64
	logger  *slog.Logger
	persist bool
	ttlTick time.Duration

	// mu guards the state below. Writers hold it while validating and
	// applying (microseconds), never while waiting for the disk.
	mu           sync.RWMutex
	buckets      map[string]*bucket
	byID         map[uint64]*bucket
	order        []string // definition order
	nextBucketID uint64
	// meta holds the small key/value entries other components persist
	// through the store's log (query definitions: "query:<name>").
	meta   map[string][]byte
	failed atomic.Bool
	closed bool

	events events

	stop chan struct{}
	bg   sync.WaitGroup
}

// Open builds a store and recovers its state from the log.
func Open(opts Options) (*Store, error) {
	s := &Store{
		name:    opts.Name,
		log:     opts.Log,
		now:     opts.Now,
		logger:  opts.Logger,
		ttlTick: opts.TTLCheckInterval,
		buckets: make(map[string]*bucket),
		byID:    make(map[uint64]*bucket),
		stop:    make(chan struct{}),
	}
	if s.name == "" {
		s.name = "store-" + strconv.FormatUint(storeCounter.Add(1), 10)
	}
	s.persist = s.log != nil
	if s.log == nil {
		s.log = storage.NewMemoryLog()
	}
	if s.now == nil {
		s.now = func() int64 { return time.Now().UnixMilli() }
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.ttlTick == 0 {
		s.ttlTick = DefaultTTLCheckInterval
	}
	s.events.init()
	// Recovery builds a large, pointer-rich heap from nothing; with the
	// default GC target the collector rescans it many times as it grows.
	// A looser target while recovering saves that work; it is restored
	// before Open returns.
	oldGC := debug.SetGCPercent(400)
	defer debug.SetGCPercent(oldGC)
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("recovering the store: %w", err)
	}
	if s.ttlTick > 0 {
		s.bg.Add(1)
		go s.sweepLoop()
	}
	return s, nil
}

// Name is the store's name.
func (s *Store) Name() string { return s.name }

// Close stops the sweeper and closes the log. Writes after Close fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.bg.Wait()
	s.events.close()
	return s.log.Close()
}

// pending is a validated change waiting to be applied: the change set for
// the log, the decoded records of its puts (so apply need not decode them
// again) and the events it will publish once durable.
type pending struct {
	cs     storage.ChangeSet
	recs   []Record // parallel to cs.Ops; nil where apply must decode
	keys   []any    // parallel to cs.Ops: the decoded key of puts and deletes
	events []Event
	// stages holds, per bucket id, what this change has staged, so checks
	// later in the same change see earlier ops.
	stages map[uint64]*bucketStage

	// Inline room for the common one-record change, saving allocations.
	opsBuf  [1]storage.Op
	recsBuf [1]Record
	keysBuf [1]any
	evBuf   [1]Event
}

// newPending returns an empty change with inline room for one op.
func newPending() *pending {
	p := &pending{}
	p.cs.Ops, p.recs, p.keys, p.events = p.opsBuf[:0], p.recsBuf[:0], p.keysBuf[:0], p.evBuf[:0]
	return p
}

func (p *pending) add(op storage.Op, rec Record, ev *Event) {
	p.addKeyed(op, nil, rec, ev)
}

func (p *pending) addKeyed(op storage.Op, key any, rec Record, ev *Event) {
	p.cs.Ops = append(p.cs.Ops, op)
	p.recs = append(p.recs, rec)
	p.keys = append(p.keys, key)
	if ev != nil {
		p.events = append(p.events, *ev)
	}
}

// commit runs prepare under the write lock, applies what it built, appends
// it to the log, then waits for durability and publishes the events.
// prepare must not change state; it returns nil when there is nothing to do.
func (s *Store) commit(prepare func() (*pending, error)) error { return s.commitWith(nil, prepare) }

// commitWith is commit writing the annex a (if any) with the change.
func (s *Store) commitWith(a *Annex, prepare func() (*pending, error)) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.failed.Load() {
		s.mu.Unlock()
		return ErrStoreFailed
	}
	p, err := prepare()
	if err != nil || p == nil || len(p.cs.Ops) == 0 {
		s.mu.Unlock()
		return err
	}
	a.attach(p)
	if err := s.apply(&p.cs, p.recs, p.keys); err != nil {
		// apply of a change set that prepare validated cannot fail; if it
		// does, memory and log may disagree from here on.
		s.failed.Store(true)
		s.mu.Unlock()
		s.logger.Error("store apply failed", "err", err)
		return ErrStoreFailed
	}
	wait := waitNothing
	if logged := s.durableOps(&p.cs); len(logged.Ops) > 0 {
		wait = s.log.Submit(logged)
	}
	ticket := s.events.reserve()
	s.mu.Unlock()

	err = wait()
	if err != nil {
		s.failed.Store(true)
		s.logger.Error("commit log failed; the store accepts no more writes", "err", err)
		s.events.publish(ticket, nil)
		return ErrStoreFailed
	}
	s.events.publish(ticket, p.events)
	return nil
}

func waitNothing() error { return nil }

// recover replays the log. Decoding records is most of the cost, so each
// change set is decoded on its own goroutine (spread over the CPUs) while
// the previous one is applied; change sets are still applied in order.
func (s *Store) recover() error {
	type batch struct {
		cs   storage.ChangeSet
		recs []Record
		err  error
		done chan struct{}
	}
	var prev *batch
	applyPrev := func() error {
		if prev == nil {
			return nil
		}
		<-prev.done
		if prev.err != nil {
			return prev.err
		}
		err := s.apply(&prev.cs, prev.recs, nil)
		prev = nil
		return err
	}
	err := s.log.Recover(func(cs *storage.ChangeSet) error {
		// The log reuses cs between calls: keep a copy of the ops (their
		// Key and Value slices may be kept, per the Log contract).
		b := &batch{cs: storage.ChangeSet{Ops: append([]storage.Op(nil), cs.Ops...)}, done: make(chan struct{})}
		go func() {
			defer close(b.done)
			b.recs, b.err = decodeRecords(&b.cs)
		}()
		if err := applyPrev(); err != nil {
			<-b.done
			return err
		}
		prev = b
		return nil
	})
	if err != nil {
		if prev != nil {
			<-prev.done
		}
		return err
	}
	return applyPrev()
}

// decodeRecords decodes the records of a recovered change set on every
// CPU. The result is parallel to cs.Ops (nil for ops without a record), so
// apply's outcome is the same as decoding one by one.
func decodeRecords(cs *storage.ChangeSet) ([]Record, error) {
	recs := make([]Record, len(cs.Ops))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(cs.Ops)/64))
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(cs.Ops); i += workers {
				op := &cs.Ops[i]
				if op.Kind != storage.OpPut {
					continue
				}
				rec, err := decodeObject(op.Value)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("decoding record: %w", err)
					}
					errMu.Unlock()
					return
				}
				recs[i] = rec
			}
		}(w)
	}
	wg.Wait()
	return recs, firstErr
}

// durableOps is the part of a change set the log keeps: records of buckets
// defined with "persistent": false are never written (their definitions
// are). Caller holds s.mu, after apply.
func (s *Store) durableOps(cs *storage.ChangeSet) *storage.ChangeSet {
	volatile := func(op *storage.Op) bool {
		switch op.Kind {
		case storage.OpPut, storage.OpDelete, storage.OpClear:
			b := s.byID[op.BucketID]
			return b != nil && !b.def.Persistent
		}
		return false
	}
	n := 0
	for i := range cs.Ops {
		if volatile(&cs.Ops[i]) {
			n++
		}
	}
	if n == 0 {
		return cs
	}
	out := &storage.ChangeSet{Ops: make([]storage.Op, 0, len(cs.Ops)-n)}
	for i := range cs.Ops {
		if !volatile(&cs.Ops[i]) {
			out.Ops = append(out.Ops, cs.Ops[i])
		}
	}
	return out
}

// encodeJSON encodes v compactly, as JSON.stringify would.
func encodeJSON(v any) ([]byte, error) {
	return appendJSON(make([]byte, 0, 128), v)
}

// bucketLocked returns the bucket or ErrBucketNotDefined; s.mu held.
func (s *Store) bucketLocked(name string) (*bucket, error) {
	b := s.buckets[name]
	if b == nil {
		return nil, &ErrBucketNotDefined{Bucket: name}
	}
	return b, nil
}

// HasBucket reports whether name is defined.
func (s *Store) HasBucket(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.buckets[name] != nil
}

// BucketNames lists the buckets in definition order.
func (s *Store) BucketNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.order...)
}

// DefineBucket validates and creates a bucket.
func (s *Store) DefineBucket(name string, config json.RawMessage, opts ...WriteOption) error {
	def, err := ParseBucketDef(name, config)
	if err != nil {
		return err
	}
	return s.commitWith(annexOf(opts), func() (*pending, error) {
		if s.buckets[name] != nil {
			return nil, &ErrBucketExists{Bucket: name}
		}
		id := s.nextBucketID + 1
		p := newPending()
		p.add(storage.Op{Kind: storage.OpDefineBucket, BucketID: id, Bucket: name, Value: def.MarshalConfig()}, nil, nil)
		return p, nil
	})
}

// DropBucket removes a bucket and all its records. It reports false when
// the bucket does not exist.
func (s *Store) DropBucket(name string, opts ...WriteOption) (bool, error) {
	found := false
	err := s.commitWith(annexOf(opts), func() (*pending, error) {
		b := s.buckets[name]
		if b == nil {
			return nil, nil
		}
		found = true
		p := newPending()
		p.add(storage.Op{Kind: storage.OpDropBucket, BucketID: b.id, Bucket: name}, nil,
			&Event{Type: eventDropped, Bucket: name})
		return p, nil
	})
	return found, err
}

// UpdateBucket applies a schema update (STORE.md §17.1). Records are kept
// as they are; new indexes are built from them.
func (s *Store) UpdateBucket(name string, updates json.RawMessage, opts ...WriteOption) error {
	return s.commitWith(annexOf(opts), func() (*pending, error) {
		b, err := s.bucketLocked(name)
		if err != nil {
			return nil, err
		}
		def, err := b.def.ApplyUpdate(updates)
		if err != nil {
			return nil, err
		}
		if err := checkUniqueRebuild(b, def); err != nil {
			return nil, err
		}
		p := newPending()
		p.add(storage.Op{Kind: storage.OpUpdateBucket, BucketID: b.id, Bucket: name,
			Value: def.MarshalConfig(), Counter: b.counter}, nil, nil)
		return p, nil
	})
}

// checkUniqueRebuild refuses a definition whose unique fields collide in
// the records already stored.
func checkUniqueRebuild(b *bucket, def *BucketDef) error {
	for _, f := range def.Fields {
		if !f.Def.Unique {
			continue
		}
		if ix, ok := b.indexes[f.Name]; ok && ix.unique {
			continue
		}
		seen := map[any]bool{}
		var dup error
		b.each(func(e *entry) bool {
			v, ok := e.rec[f.Name]
			if !ok || !IsScalar(v) {
				return true
			}
			v = normKey(v)
			if seen[v] {
				dup = &ErrUniqueConstraint{Bucket: b.def.Name, Field: f.Name, Value: v}
				return false
			}
			seen[v] = true
			return true
		})
		if dup != nil {
			return dup
		}
	}
	return nil
}

// BucketConfig returns a bucket's definition as supplied (with updates
// applied), or ErrBucketNotDefined.
func (s *Store) BucketConfig(name string) (json.RawMessage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := s.bucketLocked(name)
	if err != nil {
		return nil, err
	}
	return b.def.MarshalConfig(), nil
}

// BucketDefinition returns the parsed definition of a bucket.
func (s *Store) BucketDefinition(name string) (*BucketDef, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := s.bucketLocked(name)
	if err != nil {
		return nil, err
	}
	return b.def, nil
}
