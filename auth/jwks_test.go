package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testRSAKeys are generated once: 2048-bit generation is slow under -race.
var testRSAKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 4)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	return keys
})

func newECKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSecret(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

var b64u = base64.RawURLEncoding.EncodeToString

// jwkOf encodes the public part of key (*rsa.PrivateKey,
// *ecdsa.PrivateKey or []byte) as a JWK with kid ("" = none) and extra
// members (a nil value deletes a member).
func jwkOf(t *testing.T, key any, kid string, extra map[string]any) map[string]any {
	t.Helper()
	var m map[string]any
	switch k := key.(type) {
	case *rsa.PrivateKey:
		m = map[string]any{"kty": "RSA", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PrivateKey:
		pt, err := k.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		size := (len(pt) - 1) / 2
		m = map[string]any{"kty": "EC", "crv": k.Curve.Params().Name, "x": b64u(pt[1 : 1+size]), "y": b64u(pt[1+size:])}
	case []byte:
		m = map[string]any{"kty": "oct", "k": b64u(k)}
	default:
		t.Fatalf("jwkOf: %T", key)
	}
	if kid != "" {
		m["kid"] = kid
	}
	for name, v := range extra {
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
	}
	return m
}

func jwks(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signKid signs a token whose header carries kid ("" = no kid member).
func signKid(t *testing.T, alg, kid string, key any) string {
	t.Helper()
	hdr := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	return signHeader(t, hdr, key, baseClaims())
}

func fixedNow() time.Time { return testNow }

func jwksValidator(t *testing.T, alg string, set []byte) *JWTValidator {
	t.Helper()
	v, err := NewJWTValidator(JWTConfig{Algorithm: alg, JWKS: set, Now: fixedNow})
	if err != nil {
		t.Fatalf("NewJWTValidator(%s, %s): %v", alg, set, err)
	}
	return v
}

func mustValid(t *testing.T, v Validator, token, name string) {
	t.Helper()
	c, err := v.Validate(context.Background(), token)
	if err != nil || c == nil || c.UserID != "u-1" {
		t.Fatalf("%s: rejected: %+v %v", name, c, err)
	}
}

// TestJWKSKeyTypes checks each key type with the algorithm it serves:
// RSA for RS256, EC P-256 for ES256, oct for HS256.
func TestJWKSKeyTypes(t *testing.T) {
	t.Parallel()
	rk := testRSAKeys()
	ek, ek2 := newECKey(t, elliptic.P256()), newECKey(t, elliptic.P256())
	sk, sk2 := newSecret(t), newSecret(t)
	tests := []struct {
		alg        string
		key, other any
	}{
		{RS256, rk[0], rk[1]},
		{ES256, ek, ek2},
		{HS256, sk, sk2},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			v := jwksValidator(t, tt.alg, jwks(t, jwkOf(t, tt.key, "k1", map[string]any{"use": "sig", "alg": tt.alg})))
			mustValid(t, v, signKid(t, tt.alg, "k1", tt.key), "kid k1")
			mustValid(t, v, signKid(t, tt.alg, "", tt.key), "no kid, one key")
			mustInvalid(t, v, signKid(t, tt.alg, "k2", tt.key), "unknown kid")
			mustInvalid(t, v, signKid(t, tt.alg, "k1", tt.other), "kid k1, other key")
			mustInvalid(t, v, signKid(t, "none", "k1", nil), "alg none")
			// Members "use" and "alg" are optional.
			v = jwksValidator(t, tt.alg, jwks(t, jwkOf(t, tt.key, "k1", nil)))
			mustValid(t, v, signKid(t, tt.alg, "k1", tt.key), "without use and alg")
		})
	}
}

// TestJWKSKidSelection: the kid picks among several keys, and keys meant
// for something else are not there to pick.
func TestJWKSKidSelection(t *testing.T) {
	t.Parallel()
	rk := testRSAKeys()
	ec := newECKey(t, elliptic.P256())
	set := jwks(t,
		jwkOf(t, rk[0], "a", map[string]any{"use": "sig", "alg": RS256}),
		jwkOf(t, rk[1], "b", nil),
		jwkOf(t, rk[2], "enc", map[string]any{"use": "enc"}),
		jwkOf(t, rk[2], "ps256", map[string]any{"alg": "PS256"}),
		jwkOf(t, rk[2], "rs512", map[string]any{"alg": "RS512"}),
		jwkOf(t, rk[2], "encrypt-only", map[string]any{"key_ops": []string{"encrypt"}}),
		jwkOf(t, rk[3], "ops", map[string]any{"key_ops": []string{"verify"}}),
		jwkOf(t, ec, "ec", nil),
		jwkOf(t, newSecret(t), "oct", nil),
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AAAA"},
	)
	v := jwksValidator(t, RS256, set)
	mustValid(t, v, signKid(t, RS256, "a", rk[0]), "kid a")
	mustValid(t, v, signKid(t, RS256, "b", rk[1]), "kid b")
	mustValid(t, v, signKid(t, RS256, "ops", rk[3]), "key_ops verify")
	mustInvalid(t, v, signKid(t, RS256, "a", rk[1]), "kid a, key b")
	mustInvalid(t, v, signKid(t, RS256, "", rk[0]), "no kid, three keys")
	for _, kid := range []string{"enc", "ps256", "rs512", "encrypt-only"} {
		mustInvalid(t, v, signKid(t, RS256, kid, rk[2]), "ignored key "+kid)
	}
	mustInvalid(t, v, signKid(t, ES256, "ec", ec), "EC key of another algorithm")
	mustInvalid(t, v, signKid(t, RS256, strings.Repeat("x", 500), rk[0]), "long unknown kid")

	// The skipped keys do not count: one usable key takes tokens without kid.
	one := jwks(t,
		jwkOf(t, rk[0], "a", nil),
		jwkOf(t, rk[1], "b", map[string]any{"use": "enc"}),
		jwkOf(t, rk[2], "c", map[string]any{"alg": "RS384"}),
		jwkOf(t, ec, "d", nil),
	)
	v = jwksValidator(t, RS256, one)
	mustValid(t, v, signKid(t, RS256, "", rk[0]), "no kid, one usable key")
	mustInvalid(t, v, signKid(t, RS256, "", rk[1]), "no kid, skipped key")

	// A key without kid serves tokens without kid only.
	v = jwksValidator(t, RS256, jwks(t, jwkOf(t, rk[0], "", nil)))
	mustValid(t, v, signKid(t, RS256, "", rk[0]), "no kid on either side")
	mustInvalid(t, v, signKid(t, RS256, "a", rk[0]), "kid against a key without kid")

	// ES256: only P-256 keys count.
	p384 := newECKey(t, elliptic.P384())
	v = jwksValidator(t, ES256, jwks(t, jwkOf(t, p384, "big", nil), jwkOf(t, ec, "small", nil)))
	mustValid(t, v, signKid(t, ES256, "", ec), "no kid, one P-256 key")
	mustInvalid(t, v, signKid(t, ES256, "big", ec), "kid of the P-384 key")

	// A kid that is not a string is a malformed header.
	mustInvalid(t, v, signHeader(t, map[string]any{"alg": ES256, "kid": 7}, ec, baseClaims()), "numeric kid")
}

// TestJWKSStaticKeysIgnoreKid: a secret or PEM key is the only key, so the
// kid a token carries does not matter, as before JWKS support.
func TestJWKSStaticKeysIgnoreKid(t *testing.T) {
	t.Parallel()
	v := hsValidator(t, nil)
	mustValid(t, v, signHeader(t, map[string]any{"alg": HS256, "kid": "whatever"}, testSecret, baseClaims()), "HS256 with kid")
}

func TestJWKSConfigErrors(t *testing.T) {
	t.Parallel()
	rk := testRSAKeys()
	ec := newECKey(t, elliptic.P256())
	okSet := jwks(t, jwkOf(t, rk[0], "a", nil))
	tooSmall, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	offCurve := jwkOf(t, ec, "c", nil)
	offCurve["y"] = offCurve["x"]
	tests := []struct {
		name string
		cfg  JWTConfig
		want string // part of the error
	}{
		{"no usable key", JWTConfig{Algorithm: ES256, JWKS: okSet}, "no key usable for ES256"},
		{"only encryption keys", JWTConfig{Algorithm: RS256, JWKS: jwks(t, jwkOf(t, rk[0], "a", map[string]any{"use": "enc"}))}, "no key usable for RS256"},
		{"empty set", JWTConfig{Algorithm: RS256, JWKS: jwks(t)}, "no key usable"},
		{"not JSON", JWTConfig{Algorithm: RS256, JWKS: []byte("{")}, "JWKS"},
		{"no keys member", JWTConfig{Algorithm: RS256, JWKS: []byte(`{"kty":"RSA"}`)}, `no "keys"`},
		{"keys not an array", JWTConfig{Algorithm: RS256, JWKS: []byte(`{"keys":{}}`)}, "JWKS"},
		{"key not an object", JWTConfig{Algorithm: RS256, JWKS: []byte(`{"keys":[1]}`)}, "key 0"},
		{"duplicate kid", JWTConfig{Algorithm: RS256, JWKS: jwks(t, jwkOf(t, rk[0], "a", nil), jwkOf(t, rk[1], "a", nil))}, `two RS256 keys with kid "a"`},
		{"RSA key too small", JWTConfig{Algorithm: RS256, JWKS: jwks(t, jwkOf(t, tooSmall, "a", nil))}, "1024 bits"},
		{"RSA bad exponent", JWTConfig{Algorithm: RS256, JWKS: jwks(t, jwkOf(t, rk[0], "a", map[string]any{"e": "Ag"}))}, "exponent"},
		{"RSA bad base64", JWTConfig{Algorithm: RS256, JWKS: jwks(t, jwkOf(t, rk[0], "a", map[string]any{"n": "a+b/"}))}, `"n"`},
		{"RSA missing n", JWTConfig{Algorithm: RS256, JWKS: jwks(t, jwkOf(t, rk[0], "a", map[string]any{"n": nil}))}, "modulus"},
		{"EC off the curve", JWTConfig{Algorithm: ES256, JWKS: jwks(t, offCurve)}, "key 0"},
		{"EC short x", JWTConfig{Algorithm: ES256, JWKS: jwks(t, jwkOf(t, ec, "a", map[string]any{"x": "AAAA"}))}, "32 bytes"},
		{"oct too short", JWTConfig{Algorithm: HS256, JWKS: jwks(t, jwkOf(t, []byte("short"), "a", nil))}, "at least 32"},
		{"JWKS and PEM", JWTConfig{Algorithm: RS256, JWKS: okSet, PublicKeyPEM: pemOf(t, &rk[0].PublicKey)}, "only one"},
		{"JWKS and secret", JWTConfig{Algorithm: HS256, JWKS: okSet, Secret: testSecret}, "only one"},
		{"JWKS and file", JWTConfig{Algorithm: RS256, JWKS: okSet, JWKSFile: "/nonexistent"}, "only one"},
		{"unsupported algorithm", JWTConfig{Algorithm: "RS512", JWKS: okSet}, "unsupported"},
		{"missing file", JWTConfig{Algorithm: RS256, JWKSFile: filepath.Join(t.TempDir(), "absent.json")}, "no such file"},
		{"negative interval", JWTConfig{Algorithm: RS256, JWKSFile: "/nonexistent", JWKSCheckInterval: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewJWTValidator(tt.cfg)
			if err == nil {
				t.Fatalf("accepted: %+v", v)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	// A file with no usable key is refused at start too.
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, path, okSet, testNow)
	if _, err := NewJWTValidator(JWTConfig{Algorithm: HS256, JWKSFile: path}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("file without HS256 key: error %v, want one naming the file", err)
	}
}

// testClock is an injectable clock that tests advance.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *testClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }

// writeJWKS writes data and sets the file's modification time, so that
// a rewrite is seen however coarse the file system's clock is.
func writeJWKS(t *testing.T, path string, data []byte, mod time.Time) {
	t.Helper()
	if err := replaceFile(path, data, mod); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes data beside path and renames it over path, as an
// operator rotating keys should.
func replaceFile(path string, data []byte, mod time.Time) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, mod, mod); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// errorLog collects what OnJWKSError is told.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errs)
}

func (l *errorLog) last() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs[len(l.errs)-1]
}

func TestJWKSFileRotation(t *testing.T) {
	t.Parallel()
	rk := testRSAKeys()
	path := filepath.Join(t.TempDir(), "jwks.json")
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	writeJWKS(t, path, jwks(t, jwkOf(t, rk[0], "a", nil)), mod)
	clock := newTestClock(testNow)
	var log errorLog
	v, err := NewJWTValidator(JWTConfig{Algorithm: RS256, JWKSFile: path, Now: clock.Now, OnJWKSError: log.add})
	if err != nil {
		t.Fatal(err)
	}
	tokA, tokB, tokC := signKid(t, RS256, "a", rk[0]), signKid(t, RS256, "b", rk[1]), signKid(t, RS256, "c", rk[2])
	mustValid(t, v, tokA, "key a at start")
	mustInvalid(t, v, tokB, "key b before rotation")

	// Rotate to b; the file is looked at only once the interval has passed.
	writeJWKS(t, path, jwks(t, jwkOf(t, rk[1], "b", nil)), mod.Add(time.Minute))
	clock.Advance(DefaultJWKSCheckInterval - time.Second)
	mustValid(t, v, tokA, "key a within the interval")
	mustInvalid(t, v, tokB, "key b within the interval")
	clock.Advance(time.Second)
	mustValid(t, v, tokB, "key b after rotation")
	mustInvalid(t, v, tokA, "key a after rotation")

	// An invalid rewrite keeps b and is reported.
	writeJWKS(t, path, []byte(`{"keys": [`), mod.Add(2*time.Minute))
	clock.Advance(DefaultJWKSCheckInterval)
	mustValid(t, v, tokB, "key b after an invalid rewrite")
	if log.count() != 1 || !strings.Contains(log.last().Error(), path) {
		t.Fatalf("errors after an invalid rewrite: %v, want one naming %s", log.errs, path)
	}
	// So does a rewrite with no usable key, and a missing file; each look
	// tries again and reports again.
	writeJWKS(t, path, jwks(t, jwkOf(t, rk[2], "c", map[string]any{"use": "enc"})), mod.Add(3*time.Minute))
	clock.Advance(DefaultJWKSCheckInterval)
	mustValid(t, v, tokB, "key b after a rewrite without usable key")
	if log.count() != 2 || !strings.Contains(log.last().Error(), "no key usable for RS256") {
		t.Fatalf("errors: %v, want a second one about no usable key", log.errs)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultJWKSCheckInterval)
	mustValid(t, v, tokB, "key b with the file gone")
	if log.count() != 3 || !errors.Is(log.last(), os.ErrNotExist) {
		t.Fatalf("errors: %v, want a third one wrapping os.ErrNotExist", log.errs)
	}
	mustValid(t, v, tokB, "key b, no look within the interval")
	if log.count() != 3 {
		t.Fatalf("errors: %v, want no report within the interval", log.errs)
	}

	// A valid file again: c (and a second key) take over.
	writeJWKS(t, path, jwks(t, jwkOf(t, rk[2], "c", nil), jwkOf(t, rk[0], "a", nil)), mod.Add(4*time.Minute))
	clock.Advance(DefaultJWKSCheckInterval)
	mustValid(t, v, tokC, "key c after the repair")
	mustValid(t, v, tokA, "key a back")
	mustInvalid(t, v, tokB, "key b gone")
	mustInvalid(t, v, signKid(t, RS256, "", rk[2]), "no kid, two keys")
	if log.count() != 3 {
		t.Fatalf("errors: %v, want none after the repair", log.errs)
	}

	// An unchanged file is not re-read: replace its content behind the
	// validator's back while keeping size and time; the keys stay.
	same := jwks(t, jwkOf(t, rk[1], "c", nil), jwkOf(t, rk[0], "a", nil))
	writeJWKS(t, path, same, mod.Add(4*time.Minute))
	clock.Advance(DefaultJWKSCheckInterval)
	mustValid(t, v, tokC, "same stamp, not re-read")

	// A clock that goes back does not stop the looks.
	writeJWKS(t, path, jwks(t, jwkOf(t, rk[3], "d", nil)), mod.Add(5*time.Minute))
	clock.Set(testNow)
	mustValid(t, v, signKid(t, RS256, "d", rk[3]), "key d after the clock went back")
}

func TestJWKSFileCheckInterval(t *testing.T) {
	t.Parallel()
	secretA, secretB := newSecret(t), newSecret(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	writeJWKS(t, path, jwks(t, jwkOf(t, secretA, "", nil)), mod)
	clock := newTestClock(testNow)
	v, err := NewJWTValidator(JWTConfig{Algorithm: HS256, JWKSFile: path, JWKSCheckInterval: time.Second,
		Now: clock.Now, OnJWKSError: func(err error) { t.Errorf("unexpected report: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, v, signKid(t, HS256, "", secretA), "secret a")
	writeJWKS(t, path, jwks(t, jwkOf(t, secretB, "", nil)), mod.Add(time.Second))
	clock.Advance(999 * time.Millisecond)
	mustValid(t, v, signKid(t, HS256, "", secretA), "secret a before the interval")
	clock.Advance(time.Millisecond)
	mustValid(t, v, signKid(t, HS256, "", secretB), "secret b after the interval")
	mustInvalid(t, v, signKid(t, HS256, "", secretA), "secret a after the interval")
}

// TestJWKSFileConcurrent validates from many goroutines while the file
// rotates; run with -race.
func TestJWKSFileConcurrent(t *testing.T) {
	t.Parallel()
	keys := []*ecdsa.PrivateKey{newECKey(t, elliptic.P256()), newECKey(t, elliptic.P256())}
	path := filepath.Join(t.TempDir(), "jwks.json")
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	both := jwks(t, jwkOf(t, keys[0], "0", nil), jwkOf(t, keys[1], "1", nil))
	writeJWKS(t, path, both, mod)
	clock := newTestClock(testNow)
	v, err := NewJWTValidator(JWTConfig{Algorithm: ES256, JWKSFile: path, Now: clock.Now,
		OnJWKSError: func(err error) { t.Errorf("unexpected report: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	swapped := jwks(t, jwkOf(t, keys[1], "1", nil), jwkOf(t, keys[0], "0", nil))
	tokens := []string{signKid(t, ES256, "0", keys[0]), signKid(t, ES256, "1", keys[1])}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 50 {
				// Both keys stay in every version of the file.
				if _, err := v.Validate(context.Background(), tokens[g%2]); err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 10 {
			order := both
			if i%2 == 1 {
				order = swapped
			}
			if err := replaceFile(path, order, mod.Add(time.Duration(i+1)*time.Minute)); err != nil {
				t.Error(err)
				return
			}
			clock.Advance(DefaultJWKSCheckInterval)
		}
	})
	wg.Wait()
}

// FuzzParseJWKS: no input makes the parser panic, and every key it keeps
// is of the algorithm's type.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kid":"a"}]}`), HS256)
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`), ES256)
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","use":"sig"}]}`), RS256)
	f.Add([]byte(`{"keys":null}`), RS256)
	f.Fuzz(func(t *testing.T, data []byte, alg string) {
		set, err := parseJWKS(data, alg)
		if err != nil {
			return
		}
		for _, k := range set.keys {
			var ok bool
			switch alg {
			case HS256:
				_, ok = k.key.([]byte)
			case RS256:
				_, ok = k.key.(*rsa.PublicKey)
			case ES256:
				_, ok = k.key.(*ecdsa.PublicKey)
			}
			if !ok {
				t.Fatalf("%s set holds a %T", alg, k.key)
			}
		}
	})
}
