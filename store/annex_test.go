package store

import (
	"fmt"
	"testing"

	"github.com/noex-go/noex/storage"
)

// TestAnnexCommitsWithTheChange: an annex is written by the first commit
// that writes something, in the same change set (so it is recovered with
// it), never by a write that failed, and only once.
func TestAnnexCommitsWithTheChange(t *testing.T) {
	log := storage.NewRecordingLog()
	s, _ := openTest(t, log)
	define(t, s, "users", usersDef)
	n := 0
	annex := func() *Annex {
		n++
		name := fmt.Sprintf("audit/%d", n)
		return &Annex{Build: func() ([]MetaEntry, []string) {
			return []MetaEntry{{Name: name, Value: []byte(`"entry"`)}}, []string{"audit/0"}
		}}
	}
	if err := s.SetMeta("audit/0", []byte(`"old"`)); err != nil {
		t.Fatal(err)
	}

	// A failing write does not use the annex.
	bad := annex()
	if _, err := s.Insert("users", Record{"email": "not-an-email"}, WithAnnex(bad)); err == nil {
		t.Fatal("invalid insert accepted")
	}
	if bad.Used() || len(s.MetaWithPrefix("audit/1")) != 0 {
		t.Fatal("the annex of a failed write was written")
	}
	// A successful one does, once, and the deletion applies.
	good := annex()
	if _, err := s.Insert("users", Record{"name": "a", "email": "a@x.io"}, WithAnnex(good)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert("users", Record{"name": "b", "email": "b@x.io"}, WithAnnex(good)); err != nil {
		t.Fatal(err)
	}
	if !good.Used() || len(s.MetaWithPrefix("audit/2")) != 1 || len(s.MetaWithPrefix("audit/0")) != 0 {
		t.Fatalf("meta after the write: %v", s.MetaWithPrefix("audit/"))
	}
	// Transactions carry it too.
	tx := s.Begin(WithAnnex(annex()))
	if _, err := tx.Insert("users", Record{"name": "c", "email": "c@x.io"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	r, _ := openTest(t, log.Reopen())
	got := r.MetaWithPrefix("audit/")
	if len(got) != 2 || got[0].Name != "audit/2" || got[1].Name != "audit/3" {
		t.Fatalf("recovered meta: %v", got)
	}
	// The change set holding the first insert holds its annex.
	var together bool
	for _, cs := range log.ChangeSets() {
		hasInsert, hasMeta := false, false
		for _, op := range cs.Ops {
			hasInsert = hasInsert || op.Kind == storage.OpPut
			hasMeta = hasMeta || (op.Kind == storage.OpSetMeta && op.Bucket == "audit/2")
		}
		together = together || (hasInsert && hasMeta)
	}
	if !together {
		t.Fatal("the annex was not in the change set of its write")
	}
}
