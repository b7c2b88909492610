package store

// String formats of STORE.md §3.5: email, url, iso-date.

import (
	"net/url"
	"regexp"
	"strings"
)

// isoDateShape is the reference's iso-date shape; Go's \d and $ mean what
// JavaScript's do here (ASCII digits, end of input).
var isoDateShape = regexp.MustCompile(`^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?$`)

// urlScheme is a valid URL scheme.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// matchesFormat reports whether s has the named format.
func matchesFormat(s, format string) bool {
	switch format {
	case FormatEmail:
		return IsEmail(s)
	case FormatURL:
		return IsURL(s)
	case FormatISODate:
		return IsISODate(s)
	}
	return true
}

// IsEmail reports whether s matches ^[^\s@]+@[^\s@]+\.[^\s@]+$ with
// JavaScript's \s (any Unicode space, line terminator or BOM).
func IsEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.ContainsFunc(s, isJSSpace) || strings.Contains(domain, "@") {
		return false
	}
	// One or more characters, a dot, one or more characters: some dot that
	// is neither the first nor the last byte of the domain.
	return len(domain) >= 3 && strings.IndexByte(domain[1:len(domain)-1], '.') >= 0
}

// IsURL is the Go approximation of "a WHATWG URL parser accepts s as an
// absolute URL" recommended by STORE.md §3.5: leading and trailing C0
// controls and spaces and embedded tabs and newlines are ignored as WHATWG
// does, url.Parse must succeed, the scheme must be well formed, and the
// special schemes (http, https, ws, wss, ftp) need a non-empty host.
func IsURL(s string) bool {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(s)
	scheme, _, ok := strings.Cut(s, ":")
	if !ok || !urlScheme.MatchString(scheme) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss", "ftp":
		return u.Hostname() != "" && !strings.ContainsAny(u.Host, " ")
	}
	return true
}

// IsISODate checks the reference's iso-date shape, then (documented
// deviation, the recommendation of STORE.md §3.5) that the first ten
// characters name a real calendar day. The reference converts the instant
// to UTC first, so it rejects times whose offset moves them to another UTC
// day, depends on the host time zone for times without a zone, and rejects
// every year before 1000; this check does none of that.
func IsISODate(s string) bool {
	if !isoDateShape.MatchString(s) {
		return false
	}
	year := atoi(s[0:4])
	month := atoi(s[5:7])
	day := atoi(s[8:10])
	return day <= daysIn(year, month)
}

// daysIn is the length of a month of the proleptic Gregorian calendar.
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// atoi parses a string of ASCII digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// isJSSpace reports whether r is in JavaScript's \s: WhiteSpace and
// LineTerminator of ECMA-262.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
