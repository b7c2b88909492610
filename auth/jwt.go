package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// JWT algorithms the validator supports.
const (
	HS256 = "HS256"
	RS256 = "RS256"
	ES256 = "ES256"
)

// JWTConfig configures a JWTValidator. Exactly one algorithm is accepted;
// a token whose header names another one (including "none") is invalid.
type JWTConfig struct {
	// Algorithm is HS256, RS256 or ES256.
	Algorithm string
	// Secret is the HS256 key.
	Secret []byte
	// PublicKey is the RS256 (*rsa.PublicKey) or ES256 (*ecdsa.PublicKey,
	// P-256) key; PublicKeyPEM is the same as a PEM "PUBLIC KEY" (PKIX) or
	// "RSA PUBLIC KEY" (PKCS#1) block. Set one of them.
	PublicKey    crypto.PublicKey
	PublicKeyPEM []byte
	// JWKS is a JSON Web Key Set (RFC 7517) holding the keys instead;
	// JWKSFile names a file holding one, re-read when it changes. The
	// token's "kid" header picks the key (see jwks.go). Set at most one
	// of Secret, PublicKey/PublicKeyPEM, JWKS and JWKSFile.
	JWKS     []byte
	JWKSFile string
	// JWKSCheckInterval is how often JWKSFile's modification time is
	// looked at (default DefaultJWKSCheckInterval).
	JWKSCheckInterval time.Duration
	// OnJWKSError is told when a changed JWKSFile cannot be used; the
	// previous keys stay in force. Nil logs it with slog.Default().
	OnJWKSError func(error)
	// Issuer, when set, must equal the "iss" claim.
	Issuer string
	// Audience, when set, must equal "aud" or be one of its entries.
	Audience string
	// UserIDClaim names the claim holding the user id (default "sub").
	UserIDClaim string
	// RolesClaim names the claim holding the roles (default "roles"); a
	// dotted path ("realm_access.roles") walks nested objects. The claim
	// may be a list of strings or one string of space-separated names; a
	// missing claim means no roles.
	RolesClaim string
	// Leeway is the clock skew tolerated for exp and nbf.
	Leeway time.Duration
	// Now is the clock (default time.Now), for the claims and for
	// JWKSCheckInterval.
	Now func() time.Time
}

// JWTValidator validates compact-serialized JWS tokens (RFC 7519) and maps
// their claims to a Context: UserID from UserIDClaim, Roles from
// RolesClaim, ExpiresAt from exp, Metadata holds every claim.
type JWTValidator struct {
	cfg JWTConfig
	// Exactly one of static and file is set.
	static *keySet
	file   *jwksFile
}

// NewJWTValidator checks cfg and builds a validator.
func NewJWTValidator(cfg JWTConfig) (*JWTValidator, error) {
	if cfg.UserIDClaim == "" {
		cfg.UserIDClaim = "sub"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &JWTValidator{cfg: cfg}
	if len(cfg.JWKS) > 0 || cfg.JWKSFile != "" {
		if len(cfg.JWKS) > 0 && cfg.JWKSFile != "" || len(cfg.Secret) > 0 || cfg.PublicKey != nil || len(cfg.PublicKeyPEM) > 0 {
			return nil, errors.New("auth: set only one of Secret, PublicKey/PublicKeyPEM, JWKS and JWKSFile")
		}
		if !supportedAlgorithm(cfg.Algorithm) {
			return nil, fmt.Errorf("auth: unsupported JWT algorithm %q", cfg.Algorithm)
		}
		if cfg.JWKSFile != "" {
			f, err := openJWKSFile(cfg)
			if err != nil {
				return nil, err
			}
			v.file = f
			return v, nil
		}
		set, err := parseJWKS(cfg.JWKS, cfg.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS: %w", err)
		}
		v.static = set
		return v, nil
	}
	pub := cfg.PublicKey
	if pub == nil && len(cfg.PublicKeyPEM) > 0 {
		var err error
		if pub, err = ParsePublicKeyPEM(cfg.PublicKeyPEM); err != nil {
			return nil, err
		}
	}
	switch cfg.Algorithm {
	case HS256:
		if len(cfg.Secret) == 0 {
			return nil, errors.New("auth: HS256 needs a secret")
		}
		v.static = singleKey(bytes.Clone(cfg.Secret))
	case RS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("auth: RS256 needs an RSA public key")
		}
		v.static = singleKey(k)
	case ES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, errors.New("auth: ES256 needs a P-256 ECDSA public key")
		}
		v.static = singleKey(k)
	default:
		return nil, fmt.Errorf("auth: unsupported JWT algorithm %q", cfg.Algorithm)
	}
	return v, nil
}

func supportedAlgorithm(alg string) bool { return alg == HS256 || alg == RS256 || alg == ES256 }

// keys returns the keys in force, looking at JWKSFile when it is due.
func (v *JWTValidator) keys() *keySet {
	if v.file != nil {
		return v.file.current()
	}
	return v.static
}

// ParsePublicKeyPEM decodes the first PEM block of data as a PKIX
// ("PUBLIC KEY") or PKCS#1 ("RSA PUBLIC KEY") public key.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("auth: no PEM block in public key")
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	return nil, fmt.Errorf("auth: unsupported PEM block %q", block.Type)
}

var b64 = base64.RawURLEncoding.Strict()

// Validate checks token's signature and claims. Every rejection is an
// *InvalidTokenError.
func (v *JWTValidator) Validate(_ context.Context, token string) (*Context, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, Invalid("malformed token: expected 3 segments")
	}
	hdrJSON, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, Invalid("malformed header encoding")
	}
	var hdr struct {
		Alg  string `json:"alg"`
		Kid  string `json:"kid"`
		Crit []any  `json:"crit"`
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, Invalid("malformed header")
	}
	if hdr.Alg != v.cfg.Algorithm {
		return nil, Invalid("algorithm %q not accepted", hdr.Alg)
	}
	if hdr.Crit != nil {
		return nil, Invalid("unsupported critical header")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, Invalid("malformed signature encoding")
	}
	key, err := v.keys().pick(hdr.Kid)
	if err != nil {
		return nil, err
	}
	if !verify(key, []byte(parts[0]+"."+parts[1]), sig) {
		return nil, Invalid("bad signature")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, Invalid("malformed payload encoding")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil || dec.More() {
		return nil, Invalid("malformed claims")
	}
	return v.checkClaims(claims)
}

// verify checks sig with key: []byte (HS256), *rsa.PublicKey or
// *ecdsa.PublicKey.
func verify(key any, signed, sig []byte) bool {
	sum := sha256.Sum256(signed)
	switch k := key.(type) {
	case []byte:
		mac := hmac.New(sha256.New, k)
		mac.Write(signed)
		return hmac.Equal(sig, mac.Sum(nil))
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return false
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, sum[:], r, s)
	}
	return false
}

// numericDate reads a NumericDate claim as milliseconds; present reports
// whether the claim exists.
func numericDate(claims map[string]any, name string) (ms int64, present bool, err error) {
	raw, ok := claims[name]
	if !ok {
		return 0, false, nil
	}
	n, ok := raw.(json.Number)
	if !ok {
		return 0, true, Invalid("claim %q is not a number", name)
	}
	f, ferr := n.Float64()
	if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e14 {
		return 0, true, Invalid("claim %q is not a valid date", name)
	}
	return int64(math.Floor(f * 1000)), true, nil
}

func (v *JWTValidator) checkClaims(claims map[string]any) (*Context, error) {
	now := v.cfg.Now().UnixMilli()
	leeway := v.cfg.Leeway.Milliseconds()
	exp, hasExp, err := numericDate(claims, "exp")
	if err != nil {
		return nil, err
	}
	if hasExp && now >= exp+leeway {
		return nil, Invalid("token expired")
	}
	nbf, hasNbf, err := numericDate(claims, "nbf")
	if err != nil {
		return nil, err
	}
	if hasNbf && now < nbf-leeway {
		return nil, Invalid("token not valid yet")
	}
	if v.cfg.Issuer != "" {
		if iss, _ := claims["iss"].(string); iss != v.cfg.Issuer {
			return nil, Invalid("wrong issuer")
		}
	}
	if v.cfg.Audience != "" && !audienceHas(claims["aud"], v.cfg.Audience) {
		return nil, Invalid("wrong audience")
	}
	uid, _ := lookup(claims, v.cfg.UserIDClaim).(string)
	if uid == "" {
		return nil, Invalid("missing %q claim", v.cfg.UserIDClaim)
	}
	roles, err := rolesOf(lookup(claims, v.cfg.RolesClaim))
	if err != nil {
		return nil, err
	}
	c := &Context{UserID: uid, Roles: roles, Metadata: claims}
	if hasExp {
		c.ExpiresAt = exp
		if c.ExpiresAt == 0 {
			c.ExpiresAt = -1 // keep "expired at the epoch" distinct from "never"
		}
	}
	return c, nil
}

func audienceHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, e := range a {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// lookup walks a dotted claim path; an exact top-level name wins.
func lookup(claims map[string]any, path string) any {
	if v, ok := claims[path]; ok {
		return v
	}
	var cur any = claims
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	return cur
}

func rolesOf(v any) ([]string, error) {
	switch r := v.(type) {
	case nil:
		return []string{}, nil
	case string:
		return strings.Fields(r), nil
	case []any:
		out := make([]string, 0, len(r))
		for _, e := range r {
			s, ok := e.(string)
			if !ok {
				return nil, Invalid("roles claim holds a non-string")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, Invalid("roles claim is not a list of strings")
}
