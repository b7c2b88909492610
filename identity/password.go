package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Passwords are hashed with scrypt in the reference's format (PROTOCOL.md
// §6.10), so a store written by either implementation can be read by the
// other:
//
//	$scrypt$<N>$<r>$<p>$<salt, std base64>$<key, std base64>
//
// Verification reads N, r, p and the key length from the stored hash, so
// the cost can be raised for new hashes without breaking old ones.

// The default cost: the reference's parameters (16 MiB, ≈ 33 ms on one
// core of the development machine).
const (
	DefaultScryptN = 16384
	scryptR        = 8
	scryptP        = 1
	scryptKeyLen   = 64
	saltLen        = 16
	// maxScryptN bounds what a stored hash may ask for (2^20 = 1 GiB of
	// memory at r = 8): an unparseable or absurd hash verifies as wrong.
	maxScryptN = 1 << 20
)

// hasher bounds concurrent hashing: each scrypt run holds 128·r·N bytes, so
// a burst of logins cannot take the process's memory with it.
type hasher struct {
	n   int
	sem chan struct{}
}

func newHasher(n int) *hasher {
	if n == 0 {
		n = DefaultScryptN
	}
	return &hasher{n: n, sem: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns the encoded scrypt hash of password with a fresh salt.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key, err := scrypt.Key([]byte(password), salt, h.n, scryptR, scryptP, scryptKeyLen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$scrypt$%d$%d$%d$%s$%s", h.n, scryptR, scryptP,
		base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key)), nil
}

// verify reports whether password matches encoded, comparing in constant
// time. Anything unparseable is a mismatch.
func (h *hasher) verify(ctx context.Context, password, encoded string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 7 || parts[0] != "" || parts[1] != "scrypt" {
		return false
	}
	n, err1 := strconv.Atoi(parts[2])
	r, err2 := strconv.Atoi(parts[3])
	p, err3 := strconv.Atoi(parts[4])
	salt, err4 := base64.StdEncoding.DecodeString(parts[5])
	want, err5 := base64.StdEncoding.DecodeString(parts[6])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil ||
		n < 2 || n > maxScryptN || r < 1 || r > 32 || p < 1 || p > 16 || len(want) == 0 || len(want) > 1024 {
		return false
	}
	if h.acquire(ctx) != nil {
		return false
	}
	defer h.release()
	got, err := scrypt.Key([]byte(password), salt, n, r, p, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}
