package storage

import (
	"errors"
	"testing"
)

func TestMemoryLog(t *testing.T) {
	t.Parallel()
	l := NewMemoryLog()
	if err := l.Submit(&ChangeSet{Ops: []Op{{Kind: OpDefineBucket, BucketID: 1}}})(); err != nil {
		t.Fatalf("wait: got %v, want nil", err)
	}
	applied := 0
	if err := l.Recover(func(*ChangeSet) error { applied++; return nil }); err != nil || applied != 0 {
		t.Fatalf("Recover: got %d change sets, err %v; want none", applied, err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Submit(&ChangeSet{})(); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait after Close: got %v, want ErrClosed", err)
	}
}

func TestRecordingLog(t *testing.T) {
	t.Parallel()
	l := NewRecordingLog()
	key := []byte(`"a"`)
	cs := &ChangeSet{Ops: []Op{
		{Kind: OpDefineBucket, BucketID: 1, Bucket: "users", Value: []byte(`{}`)},
		{Kind: OpPut, BucketID: 1, Seq: 0, Key: key, Value: []byte(`{"id":"a"}`), NextSeq: 1},
	}}
	if err := l.Submit(cs)(); err != nil {
		t.Fatalf("wait: %v", err)
	}
	key[1] = 'z' // the caller reuses its buffer once wait returned
	if err := l.Submit(&ChangeSet{Ops: []Op{{Kind: OpDelete, BucketID: 1, Seq: 0, Key: []byte(`"a"`)}}})(); err != nil {
		t.Fatalf("wait: %v", err)
	}

	got := l.ChangeSets()
	if len(got) != 2 || len(got[0].Ops) != 2 || got[1].Ops[0].Kind != OpDelete {
		t.Fatalf("ChangeSets: got %+v, want the define+put then the delete", got)
	}
	if string(got[0].Ops[1].Key) != `"a"` {
		t.Fatalf("recorded key: got %s, want a copy taken at Submit (\"a\")", got[0].Ops[1].Key)
	}

	re := l.Reopen()
	var replayed []*ChangeSet
	if err := re.Recover(func(cs *ChangeSet) error { replayed = append(replayed, cs); return nil }); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if len(replayed) != 2 {
		t.Fatalf("Recover after Reopen: got %d change sets, want 2", len(replayed))
	}

	cause := errors.New("disk on fire")
	re.Break(cause)
	err := re.Submit(&ChangeSet{})()
	if !errors.Is(err, ErrBroken) || !errors.Is(err, cause) {
		t.Fatalf("wait after Break: got %v, want ErrBroken wrapping the cause", err)
	}
	if n := len(re.ChangeSets()); n != 2 {
		t.Fatalf("a broken log recorded a change set: %d, want 2", n)
	}

	_ = l.Close()
	if err := l.Submit(&ChangeSet{})(); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait after Close: got %v, want ErrClosed", err)
	}
}
