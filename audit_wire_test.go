package noex_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/audit"
	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/storage"
	"github.com/noex-go/noex/store"
)

// startAuditServer starts built-in identity with an audit log of the
// admin and write tiers over a store fed by log.
func startAuditServer(t *testing.T, log storage.Log, maxEntries int) (*noex.Server, *store.Store, *testClock) {
	t.Helper()
	clk := &testClock{}
	clk.ms.Store(clockStart)
	st, err := store.Open(store.Options{Log: log, TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, func(c *noex.Config) {
		c.Store = st
		c.Identity = &identity.Config{AdminSecret: adminSecret, ScryptN: 16, Now: clk.now}
		c.Audit = &audit.Config{Tiers: []auth.Tier{auth.TierAdmin, auth.TierWrite}, MaxEntries: maxEntries, Now: clk.now}
	})
	return srv, st, clk
}

func TestAuditLog(t *testing.T) {
	srv, st, clk := startAuditServer(t, nil, 0)
	defer st.Close()
	anon, _ := dial(t, srv)
	anon.fails("UNAUTHORIZED", "Authentication required", `{"type":"store.insert","bucket":"orders","data":{}}`)
	anon.fails("UNAUTHORIZED", "Authentication required", `{"type":"store.get","bucket":"orders","key":"x"}`) // read: not recorded
	anon.ok(`{"type":"auth.whoami"}`)                                                                         // no tier: not recorded
	clk.advance(1000)
	root := superadmin(t, srv)
	clk.advance(1000)
	aliceID := newUser(t, root, "alice", "writer")
	root.ok(`{"type":"store.defineBucket","name":"orders","config":{"key":"id","schema":{"id":{"type":"string"}}}}`)
	root.ok(`{"type":"identity.grant","subjectType":"user","subjectId":%q,"resourceType":"bucket","resourceName":"orders","operations":["read"]}`, aliceID)
	alice := userConn(t, srv, "alice")
	alice.ok(`{"type":"store.insert","bucket":"orders","data":{"id":"o1"}}`)
	alice.fails("FORBIDDEN", "No access to server.stats on *", `{"type":"server.stats"}`)
	alice.fails("FORBIDDEN", "No access to audit.query on *", `{"type":"audit.query"}`)
	alice.ok(`{"type":"identity.logout"}`)

	got := root.ok(`{"type":"audit.query"}`)["entries"].([]any)
	var lines []string
	for _, e := range got {
		m := e.(map[string]any)
		uid := "-"
		if m["userId"] != nil {
			uid = m["userId"].(string)
			if uid == aliceID {
				uid = "alice"
			}
		}
		line := fmt.Sprintf("%s %s %s %s %v", m["operation"], uid, m["resource"], m["result"], m["error"])
		if d, ok := m["details"]; ok {
			b, _ := json.Marshal(d)
			line += " " + strings.ReplaceAll(string(b), aliceID, "alice")
		}
		if m["sessionId"] == nil || m["remoteAddress"] != "127.0.0.1" {
			t.Errorf("entry without session or address: %v", m)
		}
		lines = append(lines, strings.ReplaceAll(line, aliceID, "alice"))
	}
	want := []string{
		"identity.logout - * success <nil>",
		"audit.query alice * error No access to audit.query on *",
		"server.stats alice * error No access to server.stats on *",
		"store.insert alice orders success <nil>",
		`identity.login alice user:alice success <nil> {"username":"alice"}`,
		`identity.grant __superadmin__ bucket:orders success <nil> {"operations":["read"],"resourceName":"orders","resourceType":"bucket","subjectId":"alice","subjectType":"user"}`,
		"store.defineBucket __superadmin__ orders success <nil>",
		`identity.assignRole __superadmin__ user:alice success <nil> {"roleName":"writer","userId":"alice"}`,
		`identity.createUser __superadmin__ user:alice success <nil> {"username":"alice"}`,
		"identity.loginWithSecret __superadmin__ * success <nil>",
		"store.insert - orders error Authentication required",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// Filters; the previous query is now recorded too.
	count := func(req string, args ...any) int {
		t.Helper()
		return len(root.ok(req, args...)["entries"].([]any))
	}
	if n := count(`{"type":"audit.query","operation":"audit.query"}`); n != 2 {
		t.Fatalf("audit.query entries: %d", n)
	}
	if n := count(`{"type":"audit.query","userId":%q}`, aliceID); n != 4 {
		t.Fatalf("alice's entries: %d", n)
	}
	if n := count(`{"type":"audit.query","result":"error","limit":2}`); n != 2 {
		t.Fatalf("limited errors: %d", n)
	}
	if n := count(`{"type":"audit.query","from":%d,"to":%d}`, clockStart, clockStart+999); n != 1 {
		t.Fatalf("entries of the first second: %d", n)
	}
	for field, msg := range map[string]string{
		`"userId":null`:      `Invalid "userId": expected string`,
		`"operation":5`:      `Invalid "operation": expected string`,
		`"result":"failed"`:  `Invalid "result": expected "success" or "error"`,
		`"from":"yesterday"`: `Invalid "from": expected number`,
		`"to":null`:          `Invalid "to": expected number`,
		`"limit":0`:          `Invalid "limit": expected positive integer`,
		`"limit":1.5`:        `Invalid "limit": expected positive integer`,
	} {
		root.fails("VALIDATION_ERROR", msg, `{"type":"audit.query",%s}`, field)
	}
}

// TestAuditSameCommitAndRetention: an entry is in the change set of the
// change it describes; entries survive a restart, bounded by maxEntries.
func TestAuditSameCommitAndRetention(t *testing.T) {
	log := storage.NewRecordingLog()
	srv, st, _ := startAuditServer(t, log, 5)
	root := superadmin(t, srv)
	root.ok(`{"type":"store.defineBucket","name":"orders","config":{"key":"id","schema":{"id":{"type":"string"}}}}`)
	root.ok(`{"type":"store.insert","bucket":"orders","data":{"id":"o1"}}`)
	root.ok(`{"type":"store.transaction","operations":[{"op":"insert","bucket":"orders","data":{"id":"o2"}}]}`)
	found := map[string]bool{}
	for _, cs := range log.ChangeSets() {
		var meta []string
		puts := 0
		for _, op := range cs.Ops {
			switch op.Kind {
			case storage.OpSetMeta:
				if strings.HasPrefix(op.Bucket, "audit/") {
					var e map[string]any
					_ = json.Unmarshal(op.Value, &e)
					meta = append(meta, e["operation"].(string))
				}
			case storage.OpPut:
				puts++
			case storage.OpDefineBucket:
				puts++
			}
		}
		if puts > 0 && len(meta) == 1 {
			found[meta[0]] = true
		}
	}
	for _, op := range []string{"store.defineBucket", "store.insert", "store.transaction"} {
		if !found[op] {
			t.Errorf("the entry of %s is not in its change's commit", op)
		}
	}
	for range 6 {
		root.ok(`{"type":"store.update","bucket":"orders","key":"o1","data":{}}`)
	}
	before := root.ok(`{"type":"audit.query"}`)["entries"].([]any)
	if len(before) != 5 {
		t.Fatalf("retention: %d entries", len(before))
	}
	_ = srv.Stop(context.Background(), 0)
	_ = st.Close()

	srv2, st2, _ := startAuditServer(t, log.Reopen(), 5)
	defer st2.Close()
	root2 := superadmin(t, srv2)
	after := root2.ok(`{"type":"audit.query","limit":6}`)["entries"].([]any)
	if len(after) != 5 {
		t.Fatalf("after restart: %d entries", len(after))
	}
	// The newest are the login just made and the query before the restart;
	// the rest are the newest entries that query returned.
	if after[0].(map[string]any)["operation"] != "identity.loginWithSecret" ||
		after[1].(map[string]any)["operation"] != "audit.query" ||
		fmt.Sprint(after[2:]) != fmt.Sprint(before[:3]) {
		t.Fatalf("after restart:\n%v\nbefore:\n%v", after, before)
	}
	if n := len(st2.MetaWithPrefix("audit/")); n > 5 {
		t.Fatalf("%d entries persisted with a retention of 5", n)
	}
}

// TestAuditSameCommitRulesAndProcedures: the entries of operations whose
// change the rules engine or the procedures registry makes are in the
// change set of that change (its rule, fact or procedure meta entry); a
// change made by a firing rule carries no entry.
func TestAuditSameCommitRulesAndProcedures(t *testing.T) {
	log := storage.NewRecordingLog()
	st, err := store.Open(store.Options{Log: log, TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	clk := &testClock{}
	clk.ms.Store(clockStart)
	srv := startServer(t, func(c *noex.Config) {
		rt, err := noex.OpenRules(st, rules.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Stop(context.Background()) })
		c.Store = st
		c.Rules = rt.Engine
		c.Identity = &identity.Config{AdminSecret: adminSecret, ScryptN: 16, Now: clk.now}
		c.Audit = &audit.Config{Tiers: []auth.Tier{auth.TierAdmin, auth.TierWrite}, Now: clk.now}
	})
	root := superadmin(t, srv)
	steps := []struct{ req, op, change string }{
		{`{"type":"rules.registerRule","rule":{"id":"r1","name":"r1","trigger":{"type":"fact","pattern":"k"},
			"actions":[{"type":"set_fact","key":"derived","value":1}]}}`, "rules.registerRule", "set rule:r1"},
		{`{"type":"rules.setFact","key":"k","value":1}`, "rules.setFact", "set fact:k"},
		{`{"type":"rules.updateRule","ruleId":"r1","updates":{"priority":2}}`, "rules.updateRule", "set rule:r1"},
		{`{"type":"rules.disableRule","ruleId":"r1"}`, "rules.disableRule", "set rule:r1"},
		{`{"type":"rules.enableRule","ruleId":"r1"}`, "rules.enableRule", "set rule:r1"},
		{`{"type":"rules.deleteFact","key":"k"}`, "rules.deleteFact", "delete fact:k"},
		{`{"type":"rules.unregisterRule","ruleId":"r1"}`, "rules.unregisterRule", "delete rule:r1"},
		{`{"type":"procedures.register","procedure":{"name":"p1","steps":[{"action":"return","value":1}]}}`,
			"procedures.register", "set procedure:p1"},
		{`{"type":"procedures.update","name":"p1","updates":{"description":"d"}}`, "procedures.update", "set procedure:p1"},
		{`{"type":"procedures.unregister","name":"p1"}`, "procedures.unregister", "delete procedure:p1"},
	}
	for _, s := range steps {
		root.ok("%s", s.req)
	}

	// operation → the other meta changes of the change set holding its
	// entry; meta changes made without an entry.
	with := map[string][]string{}
	var without []string
	for _, cs := range log.ChangeSets() {
		var ops, changes []string
		for _, op := range cs.Ops {
			switch {
			case op.Kind == storage.OpSetMeta && strings.HasPrefix(op.Bucket, "audit/"):
				var e map[string]any
				_ = json.Unmarshal(op.Value, &e)
				ops = append(ops, e["operation"].(string))
			case op.Kind == storage.OpSetMeta:
				changes = append(changes, "set "+op.Bucket)
			case op.Kind == storage.OpDeleteMeta && !strings.HasPrefix(op.Bucket, "audit/"):
				changes = append(changes, "delete "+op.Bucket)
			}
		}
		if len(ops) == 1 && len(changes) > 0 {
			with[ops[0]] = append(with[ops[0]], changes...)
		} else if len(ops) == 0 {
			without = append(without, changes...)
		} else if len(changes) > 0 {
			t.Errorf("entries %v share a commit with %v", ops, changes)
		}
	}
	for _, s := range steps {
		if got := strings.Join(with[s.op], ","); got != s.change {
			t.Errorf("the entry of %s is with %q, want %q", s.op, got, s.change)
		}
	}
	// The rule fired by rules.setFact set "derived" in a commit of its own.
	if strings.Join(without, ",") != "set fact:derived" {
		t.Errorf("changes without an entry: %v", without)
	}
}
