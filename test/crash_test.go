//go:build unix

package test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// wsClient is a minimal request/response client for the black-box tests.
type wsClient struct {
	conn   net.Conn
	nextID int
}

func dialWS(port int) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", port))
	if err != nil {
		return nil, err
	}
	if br != nil {
		ws.PutReader(br)
		// The welcome may have arrived with the handshake; it is skipped
		// by reading until the first result or error anyway.
	}
	return &wsClient{conn: conn}, nil
}

// call sends one request and waits for its answer.
func (c *wsClient) call(req map[string]any) (map[string]any, error) {
	c.nextID++
	req["id"] = c.nextID
	b, _ := json.Marshal(req)
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wsutil.WriteClientText(c.conn, b); err != nil {
		return nil, err
	}
	for {
		msg, err := wsutil.ReadServerText(c.conn)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(msg, &m); err != nil {
			return nil, err
		}
		if m["type"] == "result" || m["type"] == "error" {
			if m["id"] != float64(c.nextID) {
				return nil, fmt.Errorf("answer to %v for request %d", m["id"], c.nextID)
			}
			return m, nil
		}
	}
}

func (c *wsClient) mustCall(t *testing.T, req map[string]any) any {
	t.Helper()
	m, err := c.call(req)
	if err != nil {
		t.Fatalf("%v: %v", req["type"], err)
	}
	if m["type"] != "result" {
		t.Fatalf("%v: %v", req, m)
	}
	return m["data"]
}

// TestCrashLosesNothingAcknowledged kills the real binary with SIGKILL at
// random moments while clients insert records and run two-bucket
// transactions, restarts it on the same data and checks: every
// acknowledged write is there, no transaction is half there, and the index
// answers what a scan answers.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	const rounds, writers = 20, 8
	dataDir := t.TempDir()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	ackedSingles := map[string]bool{}
	ackedTx := map[string]bool{}
	for round := 0; round < rounds; round++ {
		port := freePort(t)
		p := start(t, port, []string{"--host", "127.0.0.1", "--port", p2s(port), "--persistence", "file", "--data-dir", dataDir})
		admin, err := dialWS(port)
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			admin.mustCall(t, map[string]any{"type": "store.defineBucket", "name": "acc", "config": map[string]any{
				"key": "id", "schema": map[string]any{"id": map[string]any{"type": "string"}, "grp": map[string]any{"type": "number"}},
				"indexes": []string{"grp"}}})
			admin.mustCall(t, map[string]any{"type": "store.defineBucket", "name": "ledger", "config": map[string]any{
				"key": "id", "schema": map[string]any{"id": map[string]any{"type": "string"}}}})
		} else {
			verifyAfterCrash(t, admin, ackedSingles, ackedTx)
		}
		admin.conn.Close()

		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				c, err := dialWS(port)
				if err != nil {
					return
				}
				defer c.conn.Close()
				for i := 0; ; i++ {
					id := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					var req map[string]any
					tx := i%3 == 2
					if tx {
						req = map[string]any{"type": "store.transaction", "operations": []any{
							map[string]any{"op": "insert", "bucket": "acc", "data": map[string]any{"id": id, "grp": i % 5}},
							map[string]any{"op": "insert", "bucket": "ledger", "data": map[string]any{"id": id}},
						}}
					} else {
						req = map[string]any{"type": "store.insert", "bucket": "acc", "data": map[string]any{"id": id, "grp": i % 5}}
					}
					m, err := c.call(req)
					if err != nil {
						return // the server died
					}
					if m["type"] != "result" {
						t.Errorf("write %s: %v", id, m)
						return
					}
					mu.Lock()
					if tx {
						ackedTx[id] = true
					} else {
						ackedSingles[id] = true
					}
					mu.Unlock()
				}
			}(w)
		}
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
		wg.Wait()
	}
	port := freePort(t)
	start(t, port, []string{"--host", "127.0.0.1", "--port", p2s(port), "--persistence", "file", "--data-dir", dataDir})
	c, err := dialWS(port)
	if err != nil {
		t.Fatal(err)
	}
	verifyAfterCrash(t, c, ackedSingles, ackedTx)
	t.Logf("%d rounds, %d acknowledged inserts and %d acknowledged transactions survived", rounds, len(ackedSingles), len(ackedTx))
}

func keySet(t *testing.T, data any) map[string]bool {
	t.Helper()
	list, ok := data.([]any)
	if !ok {
		t.Fatalf("not a list: %v", data)
	}
	out := make(map[string]bool, len(list))
	for _, r := range list {
		out[r.(map[string]any)["id"].(string)] = true
	}
	return out
}

func verifyAfterCrash(t *testing.T, c *wsClient, singles, txs map[string]bool) {
	t.Helper()
	acc := keySet(t, c.mustCall(t, map[string]any{"type": "store.all", "bucket": "acc"}))
	ledger := keySet(t, c.mustCall(t, map[string]any{"type": "store.all", "bucket": "ledger"}))
	for id := range singles {
		if !acc[id] {
			t.Fatalf("acknowledged insert %s lost", id)
		}
	}
	for id := range txs {
		if !acc[id] || !ledger[id] {
			t.Fatalf("acknowledged transaction %s lost (acc %v, ledger %v)", id, acc[id], ledger[id])
		}
	}
	for id := range ledger {
		if !acc[id] {
			t.Fatalf("transaction %s half applied: in ledger, not in acc", id)
		}
	}
	// Transactions write both buckets; every acc record with a tx id must
	// have its ledger half (tx ids are those in ledger or acknowledged).
	for id := range acc {
		if txs[id] && !ledger[id] {
			t.Fatalf("transaction %s half applied: in acc, not in ledger", id)
		}
	}
	// The index answers what a scan answers.
	all := c.mustCall(t, map[string]any{"type": "store.all", "bucket": "acc"}).([]any)
	for g := 0; g < 5; g++ {
		var want, got []string
		for _, r := range all {
			rec := r.(map[string]any)
			if rec["grp"] == float64(g) {
				want = append(want, rec["id"].(string))
			}
		}
		for id := range keySet(t, c.mustCall(t, map[string]any{"type": "store.where", "bucket": "acc", "filter": map[string]any{"grp": g}})) {
			got = append(got, id)
		}
		sort.Strings(want)
		sort.Strings(got)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("index for grp=%d: %d records, scan %d", g, len(got), len(want))
		}
	}
}

// TestDataDirInUse: a second server on the same data directory is refused
// with a clear error, exit 1; the first keeps serving.
func TestDataDirInUse(t *testing.T) {
	dataDir := t.TempDir()
	port := freePort(t)
	start(t, port, []string{"--host", "127.0.0.1", "--port", p2s(port), "--data-dir", dataDir})
	other := freePort(t)
	_, stderr, code := runToEnd(t, []string{"--host", "127.0.0.1", "--port", p2s(other), "--data-dir", dataDir})
	if code != 1 {
		t.Fatalf("second server exit %d, want 1", code)
	}
	if !strings.Contains(stderr, "Failed to initialize file persistence") || !strings.Contains(stderr, "in use by another process") {
		t.Fatalf("stderr %q", stderr)
	}
	c, err := dialWS(port)
	if err != nil {
		t.Fatalf("first server stopped serving: %v", err)
	}
	c.conn.Close()
}

// TestPersistenceModes: the default keeps data in ./data across a
// restart; --persistence memory writes nothing to disk and keeps nothing.
func TestPersistenceModes(t *testing.T) {
	run := func(args ...string) (*proc, *wsClient) {
		port := freePort(t)
		p := start(t, port, append([]string{"--host", "127.0.0.1", "--port", p2s(port)}, args...))
		c, err := dialWS(port)
		if err != nil {
			t.Fatal(err)
		}
		return p, c
	}
	p, c := run("--persistence", "memory")
	c.mustCall(t, map[string]any{"type": "store.defineBucket", "name": "m", "config": map[string]any{"key": "id", "schema": map[string]any{"id": map[string]any{"type": "string"}}}})
	c.mustCall(t, map[string]any{"type": "store.insert", "bucket": "m", "data": map[string]any{"id": "x"}})
	if entries, _ := os.ReadDir(p.cmd.Dir); len(entries) != 0 {
		t.Fatalf("memory persistence wrote %v", entries)
	}
	if _, _, code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}

	dataDir := t.TempDir()
	p, c = run("--data-dir", dataDir)
	c.mustCall(t, map[string]any{"type": "store.defineBucket", "name": "d", "config": map[string]any{"key": "id", "schema": map[string]any{"id": map[string]any{"type": "string"}}}})
	c.mustCall(t, map[string]any{"type": "store.insert", "bucket": "d", "data": map[string]any{"id": "kept"}})
	if _, _, code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	_, c = run("--data-dir", dataDir)
	got := c.mustCall(t, map[string]any{"type": "store.get", "bucket": "d", "key": "kept"})
	if got == nil {
		t.Fatal("a record written before a graceful restart is gone")
	}
}

// TestRulesSwitch: the binary runs the rule engine by default; --no-rules
// answers every rules.* request RULES_NOT_AVAILABLE.
func TestRulesSwitch(t *testing.T) {
	port := freePort(t)
	start(t, port, []string{"--host", "127.0.0.1", "--port", p2s(port), "--persistence", "memory"})
	c, err := dialWS(port)
	if err != nil {
		t.Fatal(err)
	}
	c.mustCall(t, map[string]any{"type": "rules.setFact", "key": "a", "value": 1})
	if v := c.mustCall(t, map[string]any{"type": "rules.getFact", "key": "a"}); v != float64(1) {
		t.Fatalf("getFact %v", v)
	}
	port2 := freePort(t)
	start(t, port2, []string{"--host", "127.0.0.1", "--port", p2s(port2), "--persistence", "memory", "--no-rules"})
	c2, err := dialWS(port2)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"rules.setFact", "rules.nope"} {
		m, err := c2.call(map[string]any{"type": typ})
		if err != nil || m["code"] != "RULES_NOT_AVAILABLE" || m["message"] != "Rule engine is not configured" {
			t.Fatalf("%s with --no-rules: %v %v", typ, m, err)
		}
	}
}

// hs256 mints a JWT for the tests.
func hs256(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestJWTAuthFromTheCommandLine: the binary with --jwt-algorithm HS256 and
// the secret in NOEX_JWT_SECRET requires a login; a valid token opens the
// connection, a bad one does not.
func TestJWTAuthFromTheCommandLine(t *testing.T) {
	const secret = "test-secret-please-change"
	port := freePort(t)
	start(t, port, []string{"--host", "127.0.0.1", "--port", p2s(port), "--persistence", "memory",
		"--jwt-algorithm", "HS256", "--jwt-issuer", "noex-tests"}, "NOEX_JWT_SECRET="+secret)
	c, err := dialWS(port)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := c.call(map[string]any{"type": "store.buckets"}); m["code"] != "UNAUTHORIZED" {
		t.Fatalf("unauthenticated request: %v", m)
	}
	exp := time.Now().Add(time.Hour).Unix()
	bad := hs256(t, "wrong", map[string]any{"sub": "u1", "iss": "noex-tests", "exp": exp, "roles": []string{"admin"}})
	if m, _ := c.call(map[string]any{"type": "auth.login", "token": bad}); m["code"] != "UNAUTHORIZED" {
		t.Fatalf("login with a bad signature: %v", m)
	}
	good := hs256(t, secret, map[string]any{"sub": "u1", "iss": "noex-tests", "exp": exp, "roles": []string{"admin"}})
	if d := c.mustCall(t, map[string]any{"type": "auth.login", "token": good}).(map[string]any); d["userId"] != "u1" {
		t.Fatalf("login: %v", d)
	}
	c.mustCall(t, map[string]any{"type": "store.buckets"})

	// Misconfiguration is a start-up error.
	_, stderr, code := runToEnd(t, []string{"--jwt-algorithm", "HS256", "--persistence", "memory"})
	if code != 1 || !strings.Contains(stderr, "HS256 needs jwt.secret") {
		t.Fatalf("HS256 without a secret: exit %d, %q", code, stderr)
	}
}

// TestBuiltInIdentityFromTheCommandLine: --auth --admin-secret --audit,
// with file persistence, bootstraps with the secret; the users created survive a
// restart of the binary.
func TestBuiltInIdentityFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	args := []string{"--host", "127.0.0.1", "--port", p2s(port), "--persistence", "file", "--data-dir", dir,
		"--auth", "--admin-secret", "bootstrap-secret", "--audit"}
	p := start(t, port, args)
	c, err := dialWS(port)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := c.call(map[string]any{"type": "store.buckets"}); m["code"] != "UNAUTHORIZED" {
		t.Fatalf("unauthenticated request: %v", m)
	}
	if m, _ := c.call(map[string]any{"type": "identity.loginWithSecret", "secret": "wrong"}); m["code"] != "UNAUTHORIZED" {
		t.Fatalf("wrong secret: %v", m)
	}
	c.mustCall(t, map[string]any{"type": "identity.loginWithSecret", "secret": "bootstrap-secret"})
	u := c.mustCall(t, map[string]any{"type": "identity.createUser", "username": "alice", "password": "correct-horse"}).(map[string]any)
	c.mustCall(t, map[string]any{"type": "identity.assignRole", "userId": u["id"], "roleName": "writer"})
	if _, _, code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}

	start(t, port, args)
	c2, err := dialWS(port)
	if err != nil {
		t.Fatal(err)
	}
	d := c2.mustCall(t, map[string]any{"type": "identity.login", "username": "alice", "password": "correct-horse"}).(map[string]any)
	if roles := fmt.Sprint(d["user"].(map[string]any)["roles"]); roles != "[writer]" {
		t.Fatalf("login after restart: %v", d)
	}
	// --audit: the admin operations of the first run were recorded and
	// persisted with the data.
	c2.mustCall(t, map[string]any{"type": "identity.loginWithSecret", "secret": "bootstrap-secret"})
	entries := c2.mustCall(t, map[string]any{"type": "audit.query", "operation": "identity.createUser"}).(map[string]any)["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["resource"] != "user:alice" {
		t.Fatalf("audit after restart: %v", entries)
	}
}
