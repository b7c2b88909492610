package store

import (
	"errors"
	"fmt"
)

// The store's typed failures (STORE.md §20). Each carries what a client
// needs; the server maps them to protocol codes in one place.

// ErrBucketNotDefined is an unknown bucket.
type ErrBucketNotDefined struct{ Bucket string }

func (e *ErrBucketNotDefined) Error() string {
	return fmt.Sprintf("Bucket %q is not defined", e.Bucket)
}

// ErrBucketExists is a bucket name already in use.
type ErrBucketExists struct{ Bucket string }

func (e *ErrBucketExists) Error() string { return fmt.Sprintf("Bucket %q already exists", e.Bucket) }

// ErrUniqueConstraint is a unique index collision.
type ErrUniqueConstraint struct {
	Bucket string
	Field  string
	Value  any
}

func (e *ErrUniqueConstraint) Error() string {
	return fmt.Sprintf("Unique constraint violation in bucket %q: field %q already has value %q",
		e.Bucket, e.Field, Display(e.Value))
}

// ErrKeyExists is an insert of a primary key that is already stored
// (COMPATIBILITY.md P§11 #5: rejected, the record untouched).
type ErrKeyExists struct {
	Bucket string
	Key    any
}

func (e *ErrKeyExists) Error() string {
	return fmt.Sprintf("Record with key %q already exists in bucket %q", Display(e.Key), e.Bucket)
}

// ErrRecordNotFound is an update of a key that is not stored.
type ErrRecordNotFound struct {
	Bucket string
	Key    any
}

func (e *ErrRecordNotFound) Error() string {
	return fmt.Sprintf("Record with key %q not found in bucket %q", Display(e.Key), e.Bucket)
}

// ErrConflict is an optimistic transaction conflict (STORE.md §16.3).
type ErrConflict struct {
	Bucket string
	Key    any
	Reason string
}

func (e *ErrConflict) Error() string {
	return fmt.Sprintf("Transaction conflict in bucket %q for key %q: %s", e.Bucket, Display(e.Key), e.Reason)
}

// ErrReferentialIntegrity is a dangling reference on write, or a delete
// refused by a "restrict" reference (STORE.md §3.7).
type ErrReferentialIntegrity struct {
	SourceBucket string
	SourceField  string
	TargetBucket string
	TargetKey    any
	// OnDelete is set when a delete was refused; SourceKey is then the
	// referencing record.
	OnDelete  bool
	SourceKey any
}

func (e *ErrReferentialIntegrity) Error() string {
	if e.OnDelete {
		return fmt.Sprintf("Cannot delete from bucket %q (key %q): referenced by bucket %q (key %q) via field %q",
			e.TargetBucket, Display(e.TargetKey), e.SourceBucket, Display(e.SourceKey), e.SourceField)
	}
	return fmt.Sprintf("Foreign key violation in bucket %q: field %q references bucket %q with key %q, but no such record exists",
		e.SourceBucket, e.SourceField, e.TargetBucket, Display(e.TargetKey))
}

// ErrStoreFailed means the commit log failed: memory may hold writes that
// are not durable, so the store refuses every further write (fail-stop).
var ErrStoreFailed = errors.New("store: commit log failed; the store accepts no more writes")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("store: closed")
