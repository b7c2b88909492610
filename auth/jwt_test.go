package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	testNow    = time.UnixMilli(1_700_000_000_000)
	testSecret = []byte("0123456789abcdef0123456789abcdef")
)

func enc(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign builds a token; key is []byte (HS256), *rsa.PrivateKey or
// *ecdsa.PrivateKey; alg goes in the header as given.
func sign(t *testing.T, alg string, key any, claims map[string]any) string {
	t.Helper()
	return signHeader(t, map[string]any{"alg": alg, "typ": "JWT"}, key, claims)
}

// signHeader is sign with the whole header given.
func signHeader(t *testing.T, header map[string]any, key any, claims map[string]any) string {
	t.Helper()
	signed := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	switch k := key.(type) {
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(signed))
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:]); err != nil {
			t.Fatal(err)
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case nil:
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func baseClaims() map[string]any {
	return map[string]any{
		"sub": "u-1", "roles": []string{"writer"}, "iss": "issuer-1", "aud": []string{"noex", "other"},
		"exp": testNow.Unix() + 3600, "nbf": testNow.Unix() - 10, "iat": testNow.Unix() - 10,
	}
}

func hsValidator(t *testing.T, mut func(*JWTConfig)) *JWTValidator {
	t.Helper()
	cfg := JWTConfig{Algorithm: HS256, Secret: testSecret, Issuer: "issuer-1", Audience: "noex",
		Now: func() time.Time { return testNow }}
	if mut != nil {
		mut(&cfg)
	}
	v, err := NewJWTValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustInvalid(t *testing.T, v Validator, token, name string) {
	t.Helper()
	c, err := v.Validate(context.Background(), token)
	if err == nil || c != nil {
		t.Fatalf("%s: accepted (%+v)", name, c)
	}
	var ite *InvalidTokenError
	if !errors.Is(err, ErrInvalidToken) || !errors.As(err, &ite) {
		t.Fatalf("%s: error %v is not an InvalidTokenError", name, err)
	}
}

func TestJWTHS256Valid(t *testing.T) {
	v := hsValidator(t, nil)
	c, err := v.Validate(context.Background(), sign(t, HS256, testSecret, baseClaims()))
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "u-1" || !slices.Equal(c.Roles, []string{"writer"}) || c.ExpiresAt != (testNow.Unix()+3600)*1000 {
		t.Fatalf("context = %+v", c)
	}
	if c.Metadata["iss"] != "issuer-1" {
		t.Fatalf("metadata = %v", c.Metadata)
	}
	// No exp: never expires; aud as a plain string; nested roles claim.
	cl := baseClaims()
	delete(cl, "exp")
	cl["aud"] = "noex"
	cl["realm"] = map[string]any{"roles": []string{"admin", "x"}}
	v2 := hsValidator(t, func(c *JWTConfig) { c.RolesClaim = "realm.roles" })
	c, err = v2.Validate(context.Background(), sign(t, HS256, testSecret, cl))
	if err != nil {
		t.Fatal(err)
	}
	if c.ExpiresAt != 0 || !slices.Equal(c.Roles, []string{"admin", "x"}) {
		t.Fatalf("context = %+v", c)
	}
	// Missing roles claim → no roles; space-separated string form.
	cl = baseClaims()
	delete(cl, "roles")
	if c, err = v.Validate(context.Background(), sign(t, HS256, testSecret, cl)); err != nil || len(c.Roles) != 0 || c.Roles == nil {
		t.Fatalf("no roles: %+v %v", c, err)
	}
	cl["roles"] = "reader writer"
	if c, err = v.Validate(context.Background(), sign(t, HS256, testSecret, cl)); err != nil || !slices.Equal(c.Roles, []string{"reader", "writer"}) {
		t.Fatalf("string roles: %+v %v", c, err)
	}
}

func TestJWTRejections(t *testing.T) {
	v := hsValidator(t, nil)
	good := sign(t, HS256, testSecret, baseClaims())
	with := func(k string, val any) string {
		cl := baseClaims()
		if val == nil {
			delete(cl, k)
		} else {
			cl[k] = val
		}
		return sign(t, HS256, testSecret, cl)
	}
	parts := strings.Split(good, ".")
	tamperedPayload := parts[0] + "." + enc(map[string]any{"sub": "admin", "roles": []string{"admin"}}) + "." + parts[2]
	cases := map[string]string{
		"bad signature":       sign(t, HS256, []byte("another secret entirely........."), baseClaims()),
		"tampered payload":    tamperedPayload,
		"truncated signature": good[:len(good)-4],
		"alg none":            sign(t, "none", nil, baseClaims()),
		"alg none with sig":   enc(map[string]any{"alg": "none"}) + "." + parts[1] + "." + parts[2],
		"alg mismatch":        enc(map[string]any{"alg": "RS256"}) + "." + parts[1] + "." + parts[2],
		"alg lowercase":       enc(map[string]any{"alg": "hs256"}) + "." + parts[1] + "." + parts[2],
		"expired":             with("exp", testNow.Unix()-1),
		"expired now":         with("exp", testNow.Unix()),
		"exp not a number":    with("exp", "tomorrow"),
		"not yet valid":       with("nbf", testNow.Unix()+60),
		"wrong issuer":        with("iss", "someone-else"),
		"missing issuer":      with("iss", nil),
		"wrong audience":      with("aud", "elsewhere"),
		"wrong audience list": with("aud", []string{"a", "b"}),
		"missing audience":    with("aud", nil),
		"missing sub":         with("sub", nil),
		"empty sub":           with("sub", ""),
		"numeric sub":         with("sub", 7),
		"roles not strings":   with("roles", []any{"a", 1}),
		"roles object":        with("roles", map[string]any{"a": 1}),
		"two segments":        parts[0] + "." + parts[1],
		"four segments":       good + ".x",
		"empty":               "",
		"garbage":             "not a token",
		"padded base64":       parts[0] + "=." + parts[1] + "." + parts[2],
		"header not json":     base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + parts[1] + "." + parts[2],
		"crit header":         enc(map[string]any{"alg": "HS256", "crit": []string{"x"}}) + "." + parts[1] + "." + parts[2],
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) { mustInvalid(t, v, tok, name) })
	}
	// Claims that are not an object, correctly signed.
	signed := enc(map[string]any{"alg": "HS256"}) + "." + base64.RawURLEncoding.EncodeToString([]byte(`[1,2]`))
	m := hmac.New(sha256.New, testSecret)
	m.Write([]byte(signed))
	mustInvalid(t, v, signed+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)), "claims array")
	// Leeway tolerates small skew.
	lv := hsValidator(t, func(c *JWTConfig) { c.Leeway = 5 * time.Second })
	if _, err := lv.Validate(context.Background(), with("exp", testNow.Unix()-2)); err != nil {
		t.Fatalf("leeway: %v", err)
	}
}

func pemOf(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestJWTRS256(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	v, err := NewJWTValidator(JWTConfig{Algorithm: RS256, PublicKeyPEM: pemOf(t, &key.PublicKey),
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Validate(context.Background(), sign(t, RS256, key, baseClaims())); err != nil || c.UserID != "u-1" {
		t.Fatalf("valid RS256: %+v %v", c, err)
	}
	mustInvalid(t, v, sign(t, RS256, other, baseClaims()), "wrong RSA key")
	// Algorithm confusion: an HS256 token MACed with the public key PEM.
	mustInvalid(t, v, sign(t, HS256, pemOf(t, &key.PublicKey), baseClaims()), "HS256 with public key")
	// PKCS#1 PEM works too.
	p1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})
	v1, err := NewJWTValidator(JWTConfig{Algorithm: RS256, PublicKeyPEM: p1, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Validate(context.Background(), sign(t, RS256, key, baseClaims())); err != nil {
		t.Fatal(err)
	}
}

func TestJWTES256(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := NewJWTValidator(JWTConfig{Algorithm: ES256, PublicKeyPEM: pemOf(t, &key.PublicKey),
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Validate(context.Background(), sign(t, ES256, key, baseClaims())); err != nil || c.UserID != "u-1" {
		t.Fatalf("valid ES256: %+v %v", c, err)
	}
	mustInvalid(t, v, sign(t, ES256, other, baseClaims()), "wrong EC key")
	good := sign(t, ES256, key, baseClaims())
	mustInvalid(t, v, good[:len(good)-3], "short EC signature")
	mustInvalid(t, v, sign(t, RS256, testSecret, baseClaims()), "alg mismatch")
}

func TestNewJWTValidatorErrors(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := []JWTConfig{
		{Algorithm: "none"},
		{Algorithm: ""},
		{Algorithm: HS256},
		{Algorithm: RS256},
		{Algorithm: RS256, PublicKey: &ec.PublicKey},
		{Algorithm: ES256, PublicKey: &ec.PublicKey}, // not P-256
		{Algorithm: ES256, PublicKey: &rk.PublicKey},
		{Algorithm: RS256, PublicKeyPEM: []byte("not pem")},
	}
	for i, cfg := range bad {
		if _, err := NewJWTValidator(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}
