package store

// The "pattern" option holds a JavaScript regular expression (no flags,
// "find anywhere" semantics, STORE.md §3.5). Go's regexp is RE2, so the
// source is translated: the constructs whose meaning differs between the
// two dialects are rewritten to their JavaScript meaning, and the ones RE2
// cannot express (look-around, back-references) are rejected when the
// bucket is defined. Remaining difference: JavaScript matches UTF-16 code
// units, RE2 matches code points, so "." consumes a whole astral character.

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JavaScript's \s as the body of an RE2 character class, and its complement.
const (
	jsSpaceClass    = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`
	jsNonSpaceClass = `\x00-\x08\x0e-\x1f\x{21}-\x{9f}\x{a1}-\x{167f}\x{1681}-\x{1fff}\x{200b}-\x{2027}\x{202a}-\x{202e}\x{2030}-\x{205e}\x{2060}-\x{2fff}\x{3001}-\x{fefe}\x{ff00}-\x{10ffff}`
	jsDot           = `[^\n\r\x{2028}\x{2029}]`
	anyChar         = `[\x00-\x{10ffff}]`
	noChar          = `[^\x00-\x{10ffff}]`
)

// compilePattern translates a JavaScript pattern to RE2 and compiles it.
func compilePattern(src string) (*regexp.Regexp, error) {
	tr, err := translatePattern(src)
	if err != nil {
		return nil, fmt.Errorf("pattern %q cannot be used: %v", src, err)
	}
	re, err := regexp.Compile(tr)
	if err != nil {
		return nil, fmt.Errorf("pattern %q is not a regular expression Go's RE2 engine can compile: %v", src, err)
	}
	return re, nil
}

// translatePattern rewrites JavaScript (Annex B, no flags) pattern syntax
// into RE2 syntax with the same meaning.
func translatePattern(src string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case r == '\\':
			if i+1 >= len(src) {
				return "", errors.New(`it ends with "\"`)
			}
			n, err := translateEscape(&b, src[i+1:], inClass)
			if err != nil {
				return "", err
			}
			i += 1 + n
			continue
		case inClass:
			switch r {
			case ']':
				inClass = false
				b.WriteByte(']')
			case '[':
				b.WriteString(`\[`) // literal in JavaScript; RE2 reads "[:" as a POSIX class
			default:
				b.WriteString(src[i : i+size])
			}
		case r == '[':
			rest := src[i+1:]
			switch {
			case strings.HasPrefix(rest, "]"):
				b.WriteString(noChar) // [] matches nothing in JavaScript
				i += 2
				continue
			case strings.HasPrefix(rest, "^]"):
				b.WriteString(anyChar) // [^] matches anything in JavaScript
				i += 3
				continue
			case strings.HasPrefix(rest, "^"):
				b.WriteString("[^")
				i += 2
			default:
				b.WriteByte('[')
				i++
			}
			inClass = true
			// A leading "]" would be literal in RE2; JavaScript already
			// handled it above, and "-" is literal first in both.
			continue
		case r == '.':
			b.WriteString(jsDot)
		case r == '(':
			if strings.HasPrefix(src[i:], "(?=") || strings.HasPrefix(src[i:], "(?!") ||
				strings.HasPrefix(src[i:], "(?<=") || strings.HasPrefix(src[i:], "(?<!") {
				return "", errors.New("look-around assertions ((?=, (?!, (?<=, (?<!) are not supported by Go's RE2 regular expressions")
			}
			b.WriteByte('(')
		default:
			b.WriteString(src[i : i+size])
		}
		i += size
	}
	if inClass {
		return "", errors.New("missing closing ]")
	}
	return b.String(), nil
}

// translateEscape translates the escape whose text (after the backslash)
// starts at s, and returns how many bytes of s it consumed.
func translateEscape(b *strings.Builder, s string, inClass bool) (int, error) {
	c := s[0]
	switch c {
	case 'd', 'D', 'w', 'W', 't', 'n', 'v', 'f', 'r':
		b.WriteByte('\\')
		b.WriteByte(c)
		return 1, nil
	case 'b', 'B':
		if !inClass {
			b.WriteByte('\\')
			b.WriteByte(c)
		} else if c == 'b' {
			b.WriteString(`\x08`) // [\b] is backspace
		} else {
			b.WriteByte('B')
		}
		return 1, nil
	case 's':
		if inClass {
			b.WriteString(jsSpaceClass)
		} else {
			b.WriteString("[" + jsSpaceClass + "]")
		}
		return 1, nil
	case 'S':
		if inClass {
			b.WriteString(jsNonSpaceClass)
		} else {
			b.WriteString("[" + jsNonSpaceClass + "]")
		}
		return 1, nil
	case 'c':
		if len(s) > 1 && isASCIILetter(s[1]) {
			writeCodePoint(b, rune(s[1]%32))
			return 2, nil
		}
		b.WriteString(`\\`) // Annex B: a lone \c is a backslash and a "c"
		return 0, nil
	case 'x':
		if len(s) >= 3 && isHex(s[1]) && isHex(s[2]) {
			v, _ := strconv.ParseUint(s[1:3], 16, 32)
			writeCodePoint(b, rune(v))
			return 3, nil
		}
		b.WriteByte('x')
		return 1, nil
	case 'u':
		if len(s) >= 5 && allHex(s[1:5]) {
			v, _ := strconv.ParseUint(s[1:5], 16, 32)
			n := 5
			if v >= 0xd800 && v <= 0xdbff && len(s) >= 11 && s[5] == '\\' && s[6] == 'u' && allHex(s[7:11]) {
				lo, _ := strconv.ParseUint(s[7:11], 16, 32)
				if lo >= 0xdc00 && lo <= 0xdfff {
					v = 0x10000 + (v-0xd800)<<10 + (lo - 0xdc00)
					n = 11
				}
			}
			writeCodePoint(b, rune(v))
			return n, nil
		}
		b.WriteByte('u')
		return 1, nil
	case 'k':
		if !inClass && len(s) > 1 && s[1] == '<' {
			return 0, errors.New(`back-references (\k<name>) are not supported by Go's RE2 regular expressions`)
		}
		b.WriteByte('k')
		return 1, nil
	case '0':
		if len(s) > 1 && isDigit(s[1]) && !isOctal(s[1]) {
			writeCodePoint(b, 0)
			return 1, nil
		}
		return writeOctal(b, s), nil
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if !inClass {
			return 0, fmt.Errorf(`back-references (\%c) are not supported by Go's RE2 regular expressions`, c)
		}
		if c == '8' || c == '9' {
			b.WriteByte(c)
			return 1, nil
		}
		return writeOctal(b, s), nil
	}
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case r < utf8.RuneSelf && !isASCIILetter(byte(r)) && !isDigit(byte(r)):
		b.WriteByte('\\') // escaped punctuation is itself in both dialects
		b.WriteByte(byte(r))
	case r < utf8.RuneSelf:
		b.WriteByte(byte(r)) // Annex B identity escape, e.g. \a is "a"
	default:
		b.WriteString(s[:size])
	}
	return size, nil
}

// writeOctal writes an Annex B legacy octal escape (up to three octal
// digits, at most 0377) and returns the digits consumed.
func writeOctal(b *strings.Builder, s string) int {
	n, v := 0, 0
	for n < len(s) && n < 3 && isOctal(s[n]) && v*8+int(s[n]-'0') <= 0377 {
		v = v*8 + int(s[n]-'0')
		n++
	}
	writeCodePoint(b, rune(v))
	return n
}

// writeCodePoint writes r as an RE2 hexadecimal escape.
func writeCodePoint(b *strings.Builder, r rune) {
	fmt.Fprintf(b, `\x{%x}`, r)
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isOctal(c byte) bool       { return c >= '0' && c <= '7' }
func isHex(c byte) bool         { return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }

// allHex reports whether s is non-empty and all hexadecimal digits.
func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return s != ""
}
