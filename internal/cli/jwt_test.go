package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var b64u = base64.RawURLEncoding.EncodeToString

// testJWT signs a token for user u-1 with key ([]byte, *rsa.PrivateKey or
// *ecdsa.PrivateKey) and kid in the header.
func testJWT(t *testing.T, alg, kid string, key any) string {
	t.Helper()
	part := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b64u(b)
	}
	signed := part(map[string]any{"alg": alg, "kid": kid}) + "." +
		part(map[string]any{"sub": "u-1", "exp": time.Now().Add(time.Hour).Unix()})
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
	}
	return signed + "." + b64u(sig)
}

// writeTestJWKS writes a JWK Set holding the public part of each key under
// kid "k<index>" and returns its path.
func writeTestJWKS(t *testing.T, keys ...any) string {
	t.Helper()
	var set []map[string]any
	for i, key := range keys {
		var m map[string]any
		switch k := key.(type) {
		case []byte:
			m = map[string]any{"kty": "oct", "k": b64u(k)}
		case *rsa.PrivateKey:
			m = map[string]any{"kty": "RSA", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
		case *ecdsa.PrivateKey:
			pt, err := k.PublicKey.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			m = map[string]any{"kty": "EC", "crv": "P-256", "x": b64u(pt[1:33]), "y": b64u(pt[33:])}
		}
		m["kid"] = "k" + string(rune('0'+i))
		m["use"] = "sig"
		set = append(set, m)
	}
	data, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestJWTJWKSFile checks that --jwt-jwks-file, NOEX_JWT_JWKS_FILE and
// jwt.jwksFile reach the validator, for each algorithm.
func TestJWTJWKSFile(t *testing.T) {
	t.Parallel()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte{7}, 32)
	// One file holds a key of each type; each algorithm takes its own.
	path := writeTestJWKS(t, rk, ek, secret)
	tests := []struct {
		alg, kid string
		key      any
	}{
		{"RS256", "k0", rk},
		{"ES256", "k1", ek},
		{"HS256", "k2", secret},
	}
	for _, tt := range tests {
		sources := map[string]input{
			"flag": {args: []string{"--jwt-algorithm", tt.alg, "--jwt-jwks-file", path}},
			"env":  {env: map[string]string{"NOEX_JWT_ALGORITHM": tt.alg, "NOEX_JWT_JWKS_FILE": path}},
			"file": {file: `{"jwt": {"algorithm": "` + tt.alg + `", "jwksFile": ` + strings.TrimSpace(mustJSON(t, path)) + `}}`},
		}
		for src, in := range sources {
			t.Run(tt.alg+"/"+src, func(t *testing.T) {
				t.Parallel()
				s := mustLoad(t, in)
				if s.JWT.JWKSFile != path || s.JWT.Algorithm != tt.alg {
					t.Fatalf("JWT settings %+v, want algorithm %s and JWKS file %s", s.JWT, tt.alg, path)
				}
				a, err := jwtAuth(s.JWT, slog.Default())
				if err != nil {
					t.Fatalf("jwtAuth: %v", err)
				}
				c, err := a.Validator.Validate(context.Background(), testJWT(t, tt.alg, tt.kid, tt.key))
				if err != nil || c.UserID != "u-1" {
					t.Fatalf("token of kid %s: %+v %v", tt.kid, c, err)
				}
				if _, err := a.Validator.Validate(context.Background(), testJWT(t, tt.alg, "k9", tt.key)); err == nil {
					t.Fatal("token of an unknown kid accepted")
				}
			})
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJWTAuthNeedsKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		j    JWTSettings
		want string
	}{
		{JWTSettings{Algorithm: "HS256"}, "HS256 needs jwt.secret (--jwt-secret or NOEX_JWT_SECRET) or jwt.jwksFile (--jwt-jwks-file)"},
		{JWTSettings{Algorithm: "ES256"}, "ES256 needs jwt.publicKeyFile (--jwt-public-key-file) or jwt.jwksFile (--jwt-jwks-file)"},
		{JWTSettings{Algorithm: "RS256", Secret: "s"}, "RS256 needs jwt.publicKeyFile (--jwt-public-key-file) or jwt.jwksFile (--jwt-jwks-file)"},
		{JWTSettings{Algorithm: "RS256", JWKSFile: filepath.Join(t.TempDir(), "absent.json")}, "no such file"},
	}
	for _, tt := range tests {
		if _, err := jwtAuth(tt.j, slog.Default()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("jwtAuth(%+v) = %v, want an error containing %q", tt.j, err, tt.want)
		}
	}
}

// TestRunJWKSFile starts the command with a JWKS file, and refuses one
// without a key for the algorithm at start.
func TestRunJWKSFile(t *testing.T) {
	t.Parallel()
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTestJWKS(t, ek)
	base := []string{"--port", "0", "--host", "127.0.0.1", "--persistence", "memory", "--log-level", "error", "--jwt-jwks-file", path}

	_, stdout, stderr, stop := startRun(t, append(base, "--jwt-algorithm", "ES256"), noEnv)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "  Auth:         jwt (ES256)\n") {
		t.Errorf("banner lacks the JWT auth row:\n%s", stdout.String())
	}

	var out, errOut bytes.Buffer
	code := Run(context.Background(), append(base, "--jwt-algorithm", "RS256"), noEnv, &out, &errOut)
	if want := "Fatal: JWT settings: auth: JWKS file " + path + ": no key usable for RS256\n"; code != 1 || errOut.String() != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut.String(), want)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want nothing", out.String())
	}
}
