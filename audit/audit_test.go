package audit

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/store"
)

func fields(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var f map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestResource(t *testing.T) {
	for req, want := range map[string]string{
		`{}`:                                           "*",
		`{"bucket":"b","name":"n"}`:                    "b",
		`{"bucket":5,"name":"n"}`:                      "n",
		`{"ruleId":"r","topic":"t"}`:                   "r",
		`{"topic":"t","key":"k"}`:                      "t",
		`{"key":"k","pattern":"p"}`:                    "k",
		`{"pattern":"p"}`:                              "p",
		`{"username":"ann","userId":"u"}`:              "user:ann",
		`{"userId":"u","roleId":"r"}`:                  "user:u",
		`{"roleId":"r"}`:                               "role:r",
		`{"resourceType":"bucket","resourceName":"o"}`: "bucket:o",
		`{"resourceType":"bucket"}`:                    "*",
		`{"query":"q"}`:                                "*",
		`{"bucket":null}`:                              "*",
	} {
		if got := Resource(fields(t, req)); got != want {
			t.Errorf("%s: %q, want %q", req, got, want)
		}
	}
}

func TestDetails(t *testing.T) {
	d := Details("identity.login", fields(t, `{"username":"ann","password":"secret"}`))
	if fmt.Sprint(d) != "map[username:ann]" {
		t.Fatalf("login details: %v", d)
	}
	d = Details("identity.grant", fields(t, `{"subjectType":"user","subjectId":"u","resourceType":"bucket","resourceName":"b","operations":["read"]}`))
	if len(d) != 5 {
		t.Fatalf("grant details: %v", d)
	}
	if d := Details("store.insert", fields(t, `{"bucket":"b"}`)); d != nil {
		t.Fatalf("insert details: %v", d)
	}
}

func TestMemoryLogFiltersAndRetention(t *testing.T) {
	now := int64(1000)
	var hooked []Entry
	l, err := Open(nil, Config{MaxEntries: 3, Now: func() time.Time { return time.UnixMilli(now) },
		Tiers: []auth.Tier{auth.TierWrite}, OnEntry: func(e Entry) { hooked = append(hooked, e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Records("store.get") || !l.Records("store.insert") || l.Records("server.stats") || l.Records("auth.login") {
		t.Fatal("tiers not honoured")
	}
	ann := "ann"
	for i := range 5 {
		now += 10
		p := l.Begin(Entry{Operation: "store.insert", SessionID: "conn-1"}, false)
		if p.Annex() != nil {
			t.Fatal("an annex without a store")
		}
		msg := ""
		if i%2 == 1 {
			msg = "boom"
		}
		p.Finish(&ann, msg)
	}
	all := l.Query(Filter{})
	if len(all) != 3 || all[0].Timestamp != 1050 || all[2].Timestamp != 1030 || len(hooked) != 5 {
		t.Fatalf("retention/newest first: %+v", all)
	}
	errs := "error"
	if got := l.Query(Filter{Result: &errs}); len(got) != 1 || got[0].Error != "boom" {
		t.Fatalf("errors: %+v", got)
	}
	from, to := int64(1040), int64(1045)
	if got := l.Query(Filter{From: &from, To: &to}); len(got) != 1 {
		t.Fatalf("range: %+v", got)
	}
	bob := "bob"
	if got := l.Query(Filter{UserID: &bob}); len(got) != 0 {
		t.Fatalf("user filter: %+v", got)
	}
	if got := l.Query(Filter{Limit: 2}); len(got) != 2 {
		t.Fatalf("limit: %+v", got)
	}
}

// TestPersistedEntriesAreRestored: entries written without a change are
// persisted in the background and read back by Open.
func TestPersistedEntriesAreRestored(t *testing.T) {
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := Open(st, Config{MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"server.stats", "server.connections", "audit.query"} {
		l.Begin(Entry{Operation: op}, true).Finish(nil, "")
	}
	l.Close() // flushes
	l2, err := Open(st, Config{MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	got := l2.Query(Filter{})
	if len(got) != 2 || got[0].Operation != "audit.query" || got[1].Operation != "server.connections" {
		t.Fatalf("restored: %+v", got)
	}
	if n := len(st.MetaWithPrefix(metaPrefix)); n != 2 {
		t.Fatalf("%d entries stored with a retention of 2", n)
	}
}
