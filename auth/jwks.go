package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultJWKSCheckInterval bounds how often a JWKS file's modification
// time is looked at: a rotated key is in force at most this long after
// the file is rewritten, and a busy server stats the file no more often.
const DefaultJWKSCheckInterval = 30 * time.Second

// Bounds of the keys a JWKS may hold, from RFC 7518 §3.2 and §3.3.
const (
	minRSABits  = 2048
	minHMACSize = 32 // bytes, the size of a SHA-256 output
)

// keySet is the verification keys a validator holds. Its keys are
// []byte (HS256), *rsa.PublicKey or *ecdsa.PublicKey, never changed after
// the set is built.
type keySet struct {
	keys []verificationKey
	// anyKid is a single configured secret or PEM key: the token's kid
	// is not looked at.
	anyKid bool
}

type verificationKey struct {
	kid string
	key any
}

func singleKey(key any) *keySet {
	return &keySet{keys: []verificationKey{{key: key}}, anyKid: true}
}

// pick selects the key of a token whose header holds kid ("" when the
// header has none). A token without kid is accepted only when the choice
// is not ambiguous.
func (s *keySet) pick(kid string) (any, error) {
	switch {
	case s.anyKid:
		return s.keys[0].key, nil
	case kid != "":
		for _, k := range s.keys {
			if k.kid == kid {
				return k.key, nil
			}
		}
		return nil, Invalid("unknown key id %q", truncate(kid, 64))
	case len(s.keys) == 1:
		return s.keys[0].key, nil
	}
	return nil, Invalid("token has no kid and the key set holds %d keys", len(s.keys))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// jwk is the part of a JSON Web Key (RFC 7517 §4, RFC 7518 §6) the
// validator reads.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	Kid    string   `json:"kid"`
	// RSA
	N string `json:"n"`
	E string `json:"e"`
	// EC
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	// oct
	K string `json:"k"`
}

// ktyOf is the key type each algorithm verifies with.
var ktyOf = map[string]string{HS256: "oct", RS256: "RSA", ES256: "EC"}

// usableFor reports whether the key is meant for verifying alg
// signatures. Keys for encryption, for another algorithm, of another type
// or on another curve are skipped, as RFC 7517 §5 lets a reader do.
func (k *jwk) usableFor(alg string) bool {
	switch {
	case k.Use != "" && k.Use != "sig",
		k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify"),
		k.Alg != "" && k.Alg != alg,
		k.Kty != ktyOf[alg],
		k.Kty == "EC" && k.Crv != "P-256":
		return false
	}
	return true
}

// material decodes the key of a usable JWK.
func (k *jwk) material() (any, error) {
	switch k.Kty {
	case "oct":
		secret, err := b64.DecodeString(k.K)
		switch {
		case err != nil:
			return nil, fmt.Errorf(`"k": %w`, err)
		case len(secret) < minHMACSize:
			return nil, fmt.Errorf("HS256 key of %d bytes, want at least %d", len(secret), minHMACSize)
		}
		return secret, nil
	case "RSA":
		n, err := b64.DecodeString(k.N)
		if err != nil {
			return nil, fmt.Errorf(`"n": %w`, err)
		}
		e, err := b64.DecodeString(k.E)
		if err != nil {
			return nil, fmt.Errorf(`"e": %w`, err)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
		if bits := pub.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("RSA modulus of %d bits, want at least %d", bits, minRSABits)
		}
		exp := new(big.Int).SetBytes(e)
		if !exp.IsInt64() || exp.Int64() < 3 || exp.Int64() > 1<<31-1 || exp.Bit(0) == 0 {
			return nil, errors.New(`"e" is not a valid RSA exponent`)
		}
		pub.E = int(exp.Int64())
		return pub, nil
	case "EC":
		x, err := b64.DecodeString(k.X)
		if err != nil {
			return nil, fmt.Errorf(`"x": %w`, err)
		}
		y, err := b64.DecodeString(k.Y)
		if err != nil {
			return nil, fmt.Errorf(`"y": %w`, err)
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New(`P-256 "x" and "y" must be 32 bytes each`)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
		if err != nil {
			return nil, err
		}
		return pub, nil
	}
	return nil, fmt.Errorf("unsupported key type %q", k.Kty)
}

// parseJWKS reads the keys of a JWK Set that verify alg signatures. Keys
// meant for something else are skipped; a key meant for alg that cannot
// be decoded, two such keys with one kid, or no such key at all make the
// whole set invalid. Errors name no source: callers add it.
func parseJWKS(data []byte, alg string) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Keys == nil {
		return nil, errors.New(`no "keys" array`)
	}
	set := &keySet{}
	for i, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if !k.usableFor(alg) {
			continue
		}
		key, err := k.material()
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, k.Kid, err)
		}
		if k.Kid != "" && slices.ContainsFunc(set.keys, func(o verificationKey) bool { return o.kid == k.Kid }) {
			return nil, fmt.Errorf("two %s keys with kid %q", alg, k.Kid)
		}
		set.keys = append(set.keys, verificationKey{kid: k.Kid, key: key})
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("no key usable for %s", alg)
	}
	return set, nil
}

// jwksFile is a JWKS kept in a file that operators rewrite to rotate
// keys. There is no watcher goroutine: validation looks at the file's
// modification time (and size) when JWKSCheckInterval has passed since
// the last look, and re-reads it when that changed. A file that cannot be
// read or parsed leaves the previous keys in force and is tried again at
// the next look.
type jwksFile struct {
	path     string
	alg      string
	interval time.Duration
	now      func() time.Time
	onError  func(error)

	set       atomic.Pointer[keySet]
	lastCheck atomic.Pointer[time.Time]

	mu sync.Mutex // held by the one goroutine looking at the file
	// Stamp of the file the keys in force came from; guarded by mu.
	modTime time.Time
	size    int64
}

// openJWKSFile reads cfg.JWKSFile; at start every problem is a
// configuration error.
func openJWKSFile(cfg JWTConfig) (*jwksFile, error) {
	f := &jwksFile{path: cfg.JWKSFile, alg: cfg.Algorithm, interval: cfg.JWKSCheckInterval,
		now: cfg.Now, onError: cfg.OnJWKSError}
	switch {
	case f.interval == 0:
		f.interval = DefaultJWKSCheckInterval
	case f.interval < 0:
		return nil, errors.New("auth: negative JWKSCheckInterval")
	}
	if f.onError == nil {
		f.onError = func(err error) {
			slog.Default().Warn("JWT key set not reloaded", "err", err)
		}
	}
	now := f.now()
	if err := f.load(); err != nil {
		return nil, err
	}
	f.lastCheck.Store(&now)
	return f, nil
}

// load reads and parses the file when its stamp differs from the keys'
// in force; mu is held or f is not shared yet.
func (f *jwksFile) load() error {
	fi, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("auth: JWKS file: %w", err)
	}
	if f.set.Load() != nil && fi.ModTime().Equal(f.modTime) && fi.Size() == f.size {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("auth: JWKS file: %w", err)
	}
	set, err := parseJWKS(data, f.alg)
	if err != nil {
		return fmt.Errorf("auth: JWKS file %s: %w", f.path, err)
	}
	f.set.Store(set)
	f.modTime, f.size = fi.ModTime(), fi.Size()
	return nil
}

// current returns the keys in force, first looking at the file when it
// is due. While one goroutine looks, the others go on with the keys in
// force rather than wait for it.
func (f *jwksFile) current() *keySet {
	now := f.now()
	if since := now.Sub(*f.lastCheck.Load()); (since >= f.interval || since < 0) && f.mu.TryLock() {
		// Another goroutine may have looked between the load and the lock.
		if since := now.Sub(*f.lastCheck.Load()); since >= f.interval || since < 0 {
			f.lastCheck.Store(&now)
			if err := f.load(); err != nil {
				f.onError(fmt.Errorf("%w (keeping the previous keys)", err))
			}
		}
		f.mu.Unlock()
	}
	return f.set.Load()
}
