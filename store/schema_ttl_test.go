package store

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseTTL(t *testing.T) {
	t.Parallel()
	valid := []struct {
		in   any
		want int64
	}{
		{1.0, 1}, {1000.0, 1000}, {1.5, 2}, {0.001, 1}, {86_400_000.0, 86_400_000}, {1e300, MaxTTL},
		{"30s", 30_000}, {"5m", 300_000}, {"1h", 3_600_000}, {"7d", 604_800_000}, {"1.5s", 1500}, {"0.5m", 30_000},
		{"1 s", 1000}, {"2\t\th", 7_200_000}, {"3\u00a0d", 259_200_000}, {"1\u3000m", 60_000}, {"007s", 7000},
		{"0.0001s", 1}, {"1.0000001s", 1001}, {"99999999999999999999999999d", MaxTTL},
		{strings.Repeat("9", 400) + "s", MaxTTL}, // Infinity in JavaScript
		{10, 10}, {int64(20), 20}, {json.Number("5"), 5},
	}
	for _, tc := range valid {
		got, err := ParseTTL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTTL(%#v) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	const hint = `. Expected a number (ms) or string like "30s", "5m", "1h", "7d".`
	invalid := []struct {
		in   any
		want string
	}{
		{0.0, "TTL must be a positive finite number, got 0"},
		{-5.0, "TTL must be a positive finite number, got -5"},
		{math.Copysign(0, -1), "TTL must be a positive finite number, got 0"},
		{math.Inf(1), "TTL must be a positive finite number, got Infinity"},
		{math.NaN(), "TTL must be a positive finite number, got NaN"},
		{"", `Invalid TTL format ""` + hint},
		{"10", `Invalid TTL format "10"` + hint},
		{"10ms", `Invalid TTL format "10ms"` + hint},
		{"1w", `Invalid TTL format "1w"` + hint},
		{"1y", `Invalid TTL format "1y"` + hint},
		{"-1s", `Invalid TTL format "-1s"` + hint},
		{"+1s", `Invalid TTL format "+1s"` + hint},
		{" 1s", `Invalid TTL format " 1s"` + hint},
		{"1s ", `Invalid TTL format "1s "` + hint},
		{"1S", `Invalid TTL format "1S"` + hint},
		{"1.s", `Invalid TTL format "1.s"` + hint},
		{".5s", `Invalid TTL format ".5s"` + hint},
		{"1e3s", `Invalid TTL format "1e3s"` + hint},
		{"1,5s", `Invalid TTL format "1,5s"` + hint},
		{"١s", `Invalid TTL format "١s"` + hint},
		{"1\u200bs", "Invalid TTL format \"1\u200bs\"" + hint},
		{"s", `Invalid TTL format "s"` + hint},
		{"0s", `TTL value must be positive, got "0s"`},
		{"0.000d", `TTL value must be positive, got "0.000d"`},
		{true, `Invalid TTL format "true"` + hint},
		{nil, `Invalid TTL format "null"` + hint},
		{map[string]any{}, `Invalid TTL format "[object Object]"` + hint},
		{[]any{1.0}, `Invalid TTL format "1"` + hint},
	}
	for _, tc := range invalid {
		got, err := ParseTTL(tc.in)
		var de *DefinitionError
		if !errors.As(err, &de) || de.Message != tc.want {
			t.Errorf("ParseTTL(%#v) = %d, %v; want error %q", tc.in, got, err, tc.want)
		}
	}
}
