package wire

import (
	"math"
	"strconv"
)

// FastPong recognises the common heartbeat answer
// {"type":"pong","timestamp":<number>} (keys in either order, whitespace
// allowed) without a JSON decoder, so an idle connection's reader never
// needs the stack that reflection-based decoding grows. It reports false
// for anything else, including pongs it is not sure about; those take the
// full Parse path, which gives the same answer for every frame this
// accepts.
func FastPong(p []byte) (timestamp float64, ok bool) {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return 0, false
	}
	sawType, sawTS := false, false
	i++
	for n := 0; n < 2; n++ {
		i = skipSpace(p, i)
		key, next, ok := simpleString(p, i)
		if !ok {
			return 0, false
		}
		i = skipSpace(p, next)
		if i >= len(p) || p[i] != ':' {
			return 0, false
		}
		i = skipSpace(p, i+1)
		switch {
		case key == "type" && !sawType:
			v, next, ok := simpleString(p, i)
			if !ok || v != "pong" {
				return 0, false
			}
			sawType, i = true, next
		case key == "timestamp" && !sawTS:
			start := i
			for i < len(p) && isNumberByte(p[i]) {
				i++
			}
			ts, ok := strictNumber(p[start:i])
			if !ok {
				return 0, false
			}
			sawTS, timestamp = true, ts
		default:
			return 0, false
		}
		i = skipSpace(p, i)
		if i >= len(p) {
			return 0, false
		}
		if n == 0 {
			if p[i] != ',' {
				return 0, false
			}
			i++
		}
	}
	if p[i] != '}' || skipSpace(p, i+1) != len(p) {
		return 0, false
	}
	return timestamp, true
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// simpleString reads a JSON string without escapes or control characters.
func simpleString(p []byte, i int) (string, int, bool) {
	if i >= len(p) || p[i] != '"' {
		return "", i, false
	}
	start := i + 1
	for j := start; j < len(p); j++ {
		switch c := p[j]; {
		case c == '"':
			return string(p[start:j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", i, false
		}
	}
	return "", i, false
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// strictNumber accepts exactly JSON's number grammar and a finite value.
func strictNumber(b []byte) (float64, bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i != len(b) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}
