package store

// The TTL format of STORE.md §11.

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// MaxTTL caps a parsed TTL (2^53 ms, about 285,000 years). The reference
// accepts any finite or even infinite lifetime; longer ones are clamped so
// that _createdAt + TTL stays an exact integer. Such records never expire
// in practice either way.
const MaxTTL int64 = 1 << 53

// ttlUnit returns the milliseconds of a TTL unit.
func ttlUnit(c byte) (float64, bool) {
	switch c {
	case 's':
		return 1_000, true
	case 'm':
		return 60_000, true
	case 'h':
		return 3_600_000, true
	case 'd':
		return 86_400_000, true
	}
	return 0, false
}

// ParseTTL parses a TTL (STORE.md §11): a positive finite number of
// milliseconds, or a string matching ^(\d+(?:\.\d+)?)\s*(s|m|h|d)$ whose
// value is positive. Fractions of a millisecond round up (a record whose
// _expiresAt is createdAt+1.5 expires at the first whole millisecond after
// it, as in the reference); results are clamped to MaxTTL. The error
// messages are the reference's.
func ParseTTL(v any) (int64, error) {
	switch x := v.(type) {
	case float64:
		if !(x > 0) || math.IsInf(x, 0) {
			return 0, &DefinitionError{Message: "TTL must be a positive finite number, got " + FormatNumber(x)}
		}
		return clampTTL(x), nil
	case int:
		return ParseTTL(float64(x))
	case int64:
		return ParseTTL(float64(x))
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, invalidTTL(string(x))
		}
		return ParseTTL(f)
	case string:
		return parseTTLString(x)
	}
	return 0, invalidTTL(Display(v))
}

// parseTTLString parses the string form of a TTL by hand, because JavaScript's
// \s (any Unicode space) is wider than RE2's.
func parseTTLString(s string) (int64, error) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		return 0, invalidTTL(s)
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i+1 {
			return 0, invalidTTL(s)
		}
		i = j
	}
	num := s[:i]
	rest := s[i:]
	for len(rest) > 1 {
		r, size := utf8.DecodeRuneInString(rest)
		if !isJSSpace(r) {
			break
		}
		rest = rest[size:]
	}
	if len(rest) != 1 {
		return 0, invalidTTL(s)
	}
	mult, ok := ttlUnit(rest[0])
	if !ok {
		return 0, invalidTTL(s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil && !math.IsInf(f, 1) { // overlong digit strings are Infinity, as in JavaScript
		return 0, invalidTTL(s)
	}
	if f <= 0 {
		return 0, &DefinitionError{Message: fmt.Sprintf("TTL value must be positive, got %q", s)}
	}
	return clampTTL(f * mult), nil
}

// clampTTL rounds a positive millisecond count up and caps it at MaxTTL.
func clampTTL(ms float64) int64 {
	ms = math.Ceil(ms)
	if ms >= float64(MaxTTL) {
		return MaxTTL
	}
	return int64(ms)
}

// invalidTTL is the reference's error for an unparseable TTL.
func invalidTTL(s string) error {
	return &DefinitionError{Message: `Invalid TTL format "` + s + `". Expected a number (ms) or string like "30s", "5m", "1h", "7d".`}
}

// isDigit reports whether c is an ASCII digit (JavaScript's \d).
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
