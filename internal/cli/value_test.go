package cli

import (
	"encoding/json"
	"math"
	"testing"
)

func TestJSToNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want float64
	}{
		{"3000", 3000}, {" 42\t", 42}, {"+7", 7}, {"-5", -5}, {"80.5", 80.5}, {".5", 0.5}, {"5.", 5},
		{"1e3", 1000}, {"1E-2", 0.01}, {"0x1F", 31}, {"0o17", 15}, {"0b101", 5}, {"007", 7},
		{"Infinity", math.Inf(1)}, {"+Infinity", math.Inf(1)}, {"-Infinity", math.Inf(-1)}, {"1e400", math.Inf(1)},
	}
	for _, tt := range tests {
		if got := jsToNumber(tt.in); got != tt.want {
			t.Errorf("jsToNumber(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"", "  ", "abc", "12abc", "1_000", "0x", "-0x10", "inf", "NaN", "1e", "1,5", "--1", "0xZZ"} {
		if got := jsToNumber(in); !math.IsNaN(got) {
			t.Errorf("jsToNumber(%q) = %v, want NaN", in, got)
		}
	}
}

func TestJSNumberString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want string
	}{
		{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"}, {0, "0"}, {math.Copysign(0, -1), "0"},
		{80.5, "80.5"}, {-5, "-5"}, {65536, "65536"}, {1e20, "100000000000000000000"}, {1e21, "1e+21"},
		{1.5e-7, "1.5e-7"}, {0.000001, "0.000001"}, {123456789.125, "123456789.125"},
	}
	for _, tt := range tests {
		if got := jsNumberString(tt.in); got != tt.want {
			t.Errorf("jsNumberString(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJSString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{"8080", "8080"}, {true, "true"}, {nil, "null"}, {json.Number("8080.0"), "8080"}, {json.Number("1e400"), "Infinity"},
		{[]any{json.Number("1"), nil, "a", []any{"b", "c"}}, "1,,a,b,c"}, {map[string]any{}, "[object Object]"},
	}
	for _, tt := range tests {
		if got := jsString(tt.in); got != tt.want {
			t.Errorf("jsString(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
