// Package storage holds the store's commit log: the interface every
// durable backend implements, and its implementations side by side
// (log_memory.go keeps nothing; log_pebble.go is the embedded engine).
//
// The store is a state machine fed by this log. Every committed change set
// (one write, or one whole transaction) is one Append; applying the change
// sets in order always yields the same state. A backend may keep the log
// as a log, or, like the embedded one, fold each change set into a
// materialized state in the same atomic, durable write and hand that state
// back at start-up as change sets again: the store's apply code cannot
// tell the difference.
package storage

import "errors"

// OpKind is what one operation of a change set does.
type OpKind uint8

const (
	// OpDefineBucket creates bucket Bucket (id BucketID) with definition
	// Value (the bucket's JSON definition).
	OpDefineBucket OpKind = iota + 1
	// OpUpdateBucket replaces the definition of bucket BucketID with Value.
	OpUpdateBucket
	// OpDropBucket removes bucket BucketID and all its records.
	OpDropBucket
	// OpPut stores record Value under primary key Key at storage position
	// Seq of bucket BucketID (a new Seq for an insert, the record's own Seq
	// for an update).
	OpPut
	// OpDelete removes the record at storage position Seq (key Key) of
	// bucket BucketID.
	OpDelete
	// OpClear removes every record of bucket BucketID.
	OpClear
	// OpSetMeta stores Value under the name Bucket in the log's small
	// key/value space for definitions that are not buckets (declarative
	// queries, and later rules and procedures). Names are namespaced by
	// their users, e.g. "query:<name>".
	OpSetMeta
	// OpDeleteMeta removes the entry named Bucket.
	OpDeleteMeta
)

// Op is one operation of a change set. Everything an apply needs is fixed
// here before the change set is appended: ids, timestamps, positions and
// counters, never computed again at apply time.
type Op struct {
	Kind     OpKind
	BucketID uint64
	// Bucket is the bucket's name (OpDefineBucket; informative otherwise).
	Bucket string
	// Seq is the record's storage position within its bucket.
	Seq uint64
	// Key is the record's primary key, encoded as JSON.
	Key []byte
	// Value is the record, or the bucket definition, encoded as JSON.
	Value []byte
	// Counter is the bucket's autoincrement counter after this operation
	// (OpDefineBucket, OpUpdateBucket, OpPut, OpClear).
	Counter int64
	// NextSeq is the bucket's next free storage position after this
	// operation (OpDefineBucket, OpPut).
	NextSeq uint64
}

// ChangeSet is one entry of the commit log: applied whole or not at all.
type ChangeSet struct {
	Ops []Op
}

// Log is a durable, ordered commit log.
type Log interface {
	// Submit queues cs behind every change set submitted before it and
	// returns at once; the returned wait blocks until cs is durable (fsync
	// done) or has failed. Change sets submitted while an fsync is running
	// share the next one (group commit). The store submits under its write
	// lock, so log order is apply order, and waits after releasing it.
	//
	// The log may read cs (its Ops, Keys and Values) until wait returns:
	// the caller must not modify or reuse them before then. wait may be
	// called more than once and from any goroutine.
	//
	// A failed commit is final (fail-stop): the change sets it carried,
	// every change set submitted after them and every later Submit fail
	// with an error wrapping ErrBroken. The store has already applied them
	// in memory, so it must stop accepting writes and report the error. A
	// failed wait does not mean the change set is absent after a restart:
	// what an fsync that failed left on disk is unknown.
	Submit(cs *ChangeSet) (wait func() error)
	// Recover calls apply with change sets that rebuild the persisted
	// state, in an order that reproduces it: bucket definitions first,
	// then each bucket's records in storage order. Call it once, before
	// the first Submit. apply must not keep cs or cs.Ops after it returns
	// (a backend may reuse them for the next call); it may keep the Key and
	// Value slices, which are never reused. An error from apply stops
	// Recover and is returned, wrapped.
	Recover(apply func(*ChangeSet) error) error
	// Close waits for submitted change sets, then releases the backend
	// (files, locks). Submit after Close fails with ErrClosed.
	Close() error
}

// ErrClosed is returned by the wait of a change set submitted after Close.
var ErrClosed = errors.New("storage: log closed")

// ErrBroken is wrapped by every error of a log whose commit has failed:
// nothing submitted from that change set on becomes durable.
var ErrBroken = errors.New("storage: commit log broken, writes stopped")
