package rules

import (
	"math"
	"strconv"
	"time"
)

// ParseDuration reads a rules-engine duration (RULES.md §14): a number is
// milliseconds; a string is digits followed by ms, s, m, h, d, w (7 days)
// or y (365 days), integers only, no spaces. A digits-only string is
// milliseconds too (RULES.md §22 #13: the reference validates it but
// rejects it at run time). Anything else fails with "Invalid duration:
// <s>".
func ParseDuration(v any) (time.Duration, error) {
	if s, ok := v.(string); ok {
		return parseDurationString(s)
	}
	if f, ok := toNumber(v); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, &durationError{jsString(v)}
		}
		return time.Duration(f * float64(time.Millisecond)), nil
	}
	return 0, &durationError{jsString(v)}
}

func parseDurationString(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, &durationError{s}
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, &durationError{s}
	}
	var unit time.Duration
	switch s[i:] {
	case "", "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	case "w":
		unit = 7 * 24 * time.Hour
	case "y":
		unit = 365 * 24 * time.Hour
	default:
		return 0, &durationError{s}
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, &durationError{s}
	}
	return time.Duration(n) * unit, nil
}

// validDurationString is the validator's check (RULES.md §10.2):
// ^\d+(ms|s|m|h|d|w|y)$ or digits only.
func validDurationString(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return false
	}
	switch s[i:] {
	case "", "ms", "s", "m", "h", "d", "w", "y":
		return true
	}
	return false
}
