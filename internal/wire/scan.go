package wire

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The single-pass scanner behind Parse: it validates a whole frame as JSON
// and locates the members of a top-level object, without reflection and,
// for ordinary frames (up to 8 members, 128 levels deep), without
// allocating. "Valid" means exactly what json.Valid accepts (RFC
// 8259, bytes ≥ 0x80 accepted inside strings whatever their UTF-8, at most
// maxNestingDepth levels), so that §1.10 step 1 answers as it did when Parse
// was built on encoding/json; FuzzParseMatchesEncodingJSON holds it to that.

// skipSpace (pong.go) skips exactly JSON's four space characters: no BOM,
// no form feed, no vertical tab.

// maxNestingDepth is the deepest nesting of arrays and objects a frame may
// have, the top-level container counting as 1: encoding/json's limit.
const maxNestingDepth = 10000

// member is one top-level key/value pair of a frame, as offsets into it.
type member struct {
	keyStart, keyEnd int // the key's text, between its quotes
	valStart, valEnd int // the raw value, without the space around it
	// plain is set when the key's text is the key itself: no escape and
	// valid UTF-8. Other keys are decoded with appendUnquoted.
	plain bool
}

// Flags of scanString about a string's text.
const (
	strEscaped  = 1 << iota // holds a backslash escape
	strNonASCII             // holds a byte ≥ 0x80
)

// scanFrame validates data as one JSON value surrounded by optional space.
// When that value is an object it appends its members to buf, in order,
// duplicates included, and returns them with object set. ok is false when
// data is not valid JSON; members are then meaningless.
func scanFrame(data []byte, buf []member) (members []member, object, ok bool) {
	i := skipSpace(data, 0)
	if i == len(data) {
		return nil, false, false
	}
	if data[i] != '{' {
		end, ok := skipValue(data, i, 0)
		return nil, false, ok && skipSpace(data, end) == len(data)
	}
	members = buf
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return members, true, skipSpace(data, i+1) == len(data)
	}
	for {
		if i == len(data) || data[i] != '"' {
			return nil, true, false
		}
		end, flags, ok := scanString(data, i)
		if !ok {
			return nil, true, false
		}
		m := member{keyStart: i + 1, keyEnd: end - 1, plain: flags == 0}
		if flags == strNonASCII {
			m.plain = utf8.Valid(data[m.keyStart:m.keyEnd])
		}
		i = skipSpace(data, end)
		if i == len(data) || data[i] != ':' {
			return nil, true, false
		}
		m.valStart = skipSpace(data, i+1)
		if m.valEnd, ok = skipValue(data, m.valStart, 1); !ok {
			return nil, true, false
		}
		members = append(members, m)
		i = skipSpace(data, m.valEnd)
		if i == len(data) {
			return nil, true, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return members, true, skipSpace(data, i+1) == len(data)
		default:
			return nil, true, false
		}
	}
}

// skipValue validates the JSON value that starts at data[i] and returns the
// index just past it. depth is the number of containers around the value.
// It loops rather than recurses, so a deep frame costs no stack; which
// containers are open is kept one bit per level (1 for an object).
func skipValue(data []byte, i, depth int) (int, bool) {
	var inline [2]uint64 // 128 levels before the bits move to the heap
	open := inline[:]
	level := 0 // containers opened by this call and not yet closed
	for {
		// A value starts at i.
		if i >= len(data) {
			return i, false
		}
		var ok bool
		switch c := data[i]; c {
		case '{', '[':
			if depth+level >= maxNestingDepth {
				return i, false
			}
			word, bit := level>>6, uint64(1)<<(level&63)
			if word == len(open) {
				open = append(open, 0)
			}
			if c == '{' {
				open[word] |= bit
			} else {
				open[word] &^= bit
			}
			level++
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == c+2 { // '}' or ']'
				i++
				level--
				ok = true
				break
			}
			if c == '{' {
				if i, ok = skipKey(data, i); !ok {
					return i, false
				}
			}
			continue
		case '"':
			i, _, ok = scanString(data, i)
		case 't':
			i, ok = skipLiteral(data, i, "true")
		case 'f':
			i, ok = skipLiteral(data, i, "false")
		case 'n':
			i, ok = skipLiteral(data, i, "null")
		default:
			i, ok = skipNumber(data, i)
		}
		if !ok {
			return i, false
		}
		// A value ended at i: close containers until the next element.
	next:
		for {
			if level == 0 {
				return i, true
			}
			i = skipSpace(data, i)
			if i == len(data) {
				return i, false
			}
			inObject := open[(level-1)>>6]&(1<<((level-1)&63)) != 0
			switch c := data[i]; {
			case c == ',':
				i = skipSpace(data, i+1)
				if inObject {
					if i, ok = skipKey(data, i); !ok {
						return i, false
					}
				}
				break next
			case c == '}' && inObject, c == ']' && !inObject:
				i++
				level--
			default:
				return i, false
			}
		}
	}
}

// skipKey validates `"key" :` and the space after it, from data[i].
func skipKey(data []byte, i int) (int, bool) {
	if i == len(data) || data[i] != '"' {
		return i, false
	}
	i, _, ok := scanString(data, i)
	if !ok {
		return i, false
	}
	i = skipSpace(data, i)
	if i == len(data) || data[i] != ':' {
		return i, false
	}
	return skipSpace(data, i+1), true
}

// scanString validates the string whose opening quote is data[i] and
// returns the index just past its closing quote, with strEscaped and
// strNonASCII telling what its text holds.
func scanString(data []byte, i int) (end int, flags int, ok bool) {
	for i++; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			return i + 1, flags, true
		case c == '\\':
			flags |= strEscaped
			if i+1 == len(data) {
				return i, flags, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(data)-i < 6 || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) || !isHex(data[i+5]) {
					return i, flags, false
				}
				i += 6
			default:
				return i, flags, false
			}
		case c < 0x20:
			return i, flags, false
		default:
			if c >= utf8.RuneSelf {
				flags |= strNonASCII
			}
			i++
		}
	}
	return i, flags, false
}

// skipNumber validates the number at data[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i == len(data):
		return i, false
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		i = skipDigits(data, i+1)
	default:
		return i, false
	}
	if i < len(data) && data[i] == '.' {
		if i++; i == len(data) || !isDigit(data[i]) {
			return i, false
		}
		i = skipDigits(data, i+1)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i == len(data) || !isDigit(data[i]) {
			return i, false
		}
		i = skipDigits(data, i+1)
	}
	return i, true
}

func skipLiteral(data []byte, i int, lit string) (int, bool) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// plainString returns the text of raw when raw is a JSON string that
// decodes to exactly that text: no escape, no control character, valid
// UTF-8. Anything else, valid or not, returns false.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	text := raw[1 : len(raw)-1]
	ascii := true
	for _, c := range text {
		if c < 0x20 || c == '"' || c == '\\' {
			return nil, false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(text) {
		return nil, false
	}
	return text, true
}

// appendUnquoted appends the decoded text of a string that scanString
// accepted (s is the text between the quotes) the way encoding/json decodes
// it: escapes resolved, a \u surrogate that is not half of a valid pair and
// every byte that is not part of valid UTF-8 each become U+FFFD.
func appendUnquoted(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			switch e := s[r+1]; e {
			case 'b':
				dst, r = append(dst, '\b'), r+2
			case 'f':
				dst, r = append(dst, '\f'), r+2
			case 'n':
				dst, r = append(dst, '\n'), r+2
			case 'r':
				dst, r = append(dst, '\r'), r+2
			case 't':
				dst, r = append(dst, '\t'), r+2
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						dst, r = utf8.AppendRune(dst, dec), r+6
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
			default: // '"', '\\', '/'
				dst, r = append(dst, e), r+2
			}
		case c < utf8.RuneSelf:
			dst, r = append(dst, c), r+1
		default:
			rr, size := utf8.DecodeRune(s[r:])
			dst, r = utf8.AppendRune(dst, rr), r+size
		}
	}
	return dst
}

// getu4 decodes the \uXXXX escape at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
