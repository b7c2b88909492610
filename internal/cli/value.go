package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// source says where a value came from; it decides precedence and how the
// value is named in error messages.
type source int

const (
	fromFile source = iota + 1
	fromEnv
	fromFlag
)

// value is one raw setting as one source gave it: text from the command
// line or the environment, or a decoded JSON value from the config file.
type value struct {
	src  source
	name string // "--port", "NOEX_PORT" or the file key "port"
	text string // command line or environment
	json any    // config file: string, json.Number, bool, []any, map[string]any
}

// fromText reports whether the value came from the command line or the
// environment.
func (v value) fromText() bool { return v.src != fromFile }

// show renders the value for an error message: text as given, file values
// as JSON.
func (v value) show() string {
	if v.fromText() {
		return v.text
	}
	b, err := json.Marshal(v.json)
	if err != nil {
		return fmt.Sprint(v.json)
	}
	return string(b)
}

// invalid is the standard message for a value that breaks its rule.
func (v value) invalid(rule string) error {
	return fmt.Errorf("Invalid %s: %s (must be %s)", v.name, v.show(), rule)
}

// number converts the value the way the reference does: text with
// JavaScript's Number(), file values only when they are JSON numbers.
func (v value) number() (float64, bool) {
	if v.fromText() {
		return jsToNumber(v.text), true
	}
	n, ok := v.json.(json.Number)
	if !ok {
		return 0, false
	}
	return jsonNumber(n), true
}

// integer returns the value as an integer in [lo, hi].
func (v value) integer(lo, hi int64) (int64, bool) {
	f, ok := v.number()
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, false
	}
	return int64(f), true
}

// str returns a file value that must be a JSON string, or the text.
func (v value) str() (string, bool) {
	if v.fromText() {
		return v.text, true
	}
	s, ok := v.json.(string)
	return s, ok
}

// list returns a comma-separated text (items trimmed, empty items kept, as
// the reference splits --allowed-origins) or a JSON array of strings.
func (v value) list() ([]string, bool) {
	if v.fromText() {
		items := strings.Split(v.text, ",")
		for i := range items {
			items[i] = strings.TrimSpace(items[i])
		}
		return items, true
	}
	arr, ok := v.json.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, item := range arr {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// decimalLiteral is the decimal part of JavaScript's StringNumericLiteral.
var decimalLiteral = regexp.MustCompile(`^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// jsToNumber is JavaScript's Number(text), which the reference applies to
// --port and --max-connections-per-ip. One deliberate difference: empty
// or blank text is NaN here (JavaScript says 0), so "--port=" is an error
// rather than "any free port".
func jsToNumber(text string) float64 {
	t := strings.TrimSpace(text)
	switch t {
	case "":
		return math.NaN()
	case "Infinity", "+Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	if len(t) > 2 && t[0] == '0' {
		base := 0
		switch t[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			n, err := strconv.ParseUint(t[2:], base, 64)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}
	}
	if !decimalLiteral.MatchString(t) {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !isRangeErr(err) {
		return math.NaN()
	}
	return f // ±Inf on overflow, as JavaScript
}

// jsonNumber converts a JSON number; out-of-range values become ±Inf as in
// JavaScript's JSON.parse.
func jsonNumber(n json.Number) float64 {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !isRangeErr(err) {
		return math.NaN()
	}
	return f
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// jsNumberString is JavaScript's String(number).
func jsNumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0" // also -0
	}
	if abs := math.Abs(f); abs >= 1e21 || abs < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64) // 1.5e-07
		mant, exp, _ := strings.Cut(s, "e")
		sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
		return mant + "e" + sign + digits
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// jsString is JavaScript's String(value) for a decoded JSON value; the
// reference's "Invalid port" message renders the value this way.
func jsString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return jsNumberString(jsonNumber(x))
	case []any:
		parts := make([]string, len(x))
		for i, item := range x {
			if item != nil { // null and undefined items join as ""
				parts[i] = jsString(item)
			}
		}
		return strings.Join(parts, ",")
	case map[string]any:
		return "[object Object]"
	}
	return fmt.Sprint(v)
}
