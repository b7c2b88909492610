package store

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestIsEmail(t *testing.T) {
	t.Parallel()
	valid := []string{
		"a@b.c", "user@example.com", "first.last@sub.example.co.uk", "x+tag@example.org",
		"a@b.c.d", "a@b..c", "a@.b.c", "\"quoted\"@example.com", "ü@ñ.de", "a@b.c.",
		"a.@b.c", "!#$%&'*+/=?^_`{|}~-@x.y", "a@b.cc\u200b", "a@-.-",
	}
	invalid := []string{
		"", "a", "a@", "@b.c", "a@b", "a@b.", "a@.b", "a@@b.c", "a@b@c.d", "a b@c.d",
		"a@b c.d", "a@b.c ", " a@b.c", "a\t@b.c", "a@b.c\n", "a\u00a0@b.c", "a@b.\u2028c",
		"a@b.c\ufeff", "a@b\u3000.c", "a\u2005b@c.d", "a@b.c@d.e", "ab.c", "a@.",
	}
	for _, s := range valid {
		if !IsEmail(s) {
			t.Errorf("IsEmail(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if IsEmail(s) {
			t.Errorf("IsEmail(%q) = true, want false", s)
		}
	}
}

// The hand-written email check must agree with the reference's regex
// (with JavaScript's \s spelled out, since RE2's \s is narrower).
func TestIsEmailMatchesReferenceRegex(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[^` + jsSpaceClass + `@]+@[^` + jsSpaceClass + `@]+\.[^` + jsSpaceClass + `@]+$`)
	alphabet := []string{"a", "@", ".", " ", "\u00a0", "é", "\t"}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		if got, want := IsEmail(prefix), re.MatchString(prefix); got != want {
			t.Errorf("IsEmail(%q) = %v, regex says %v", prefix, got, want)
		}
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+c, n-1)
		}
	}
	gen("", 5)
}

func TestIsURL(t *testing.T) {
	t.Parallel()
	valid := []string{
		"http://example.com", "https://example.com/path?q=1#frag", "HTTP://EXAMPLE.COM", "https://user:pw@host:8080/x",
		"ftp://files.example.com/a.txt", "ws://localhost:3000", "wss://x.y/z", "http://127.0.0.1", "http://[::1]:80/",
		"mailto:x@y", "urn:isbn:0451450523", "file:///etc/passwd", "data:text/plain,hi", "javascript:void(0)",
		"custom+scheme.v1-2:whatever", "a:", "tel:+420123456789", "https://example.com/a b",
		"  https://example.com  ", "https://exa\tmple.com", "http://exa_mple.com", "https://例え.jp/パス",
	}
	invalid := []string{
		"", "example.com", "/path", "//example.com/x", "?q=1", "#frag", "http://", "https://", "http:///path",
		"http://:80", "http:example.com", "ws:", "ftp://", "1http://x.y", "-a:b", "ht tp://x.y", "http://exa mple.com",
		"http://x.y:port", "http://[::1", "https://example.com/%zz", "://x", ":", "http//x.y", "wss:///a",
	}
	for _, s := range valid {
		if !IsURL(s) {
			t.Errorf("IsURL(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if IsURL(s) {
			t.Errorf("IsURL(%q) = true, want false", s)
		}
	}
}

func TestIsISODate(t *testing.T) {
	t.Parallel()
	valid := []string{
		"2024-01-15", "2024-12-31", "2024-02-29", "2000-02-29", "1600-02-29", "2023-02-28", "2024-04-30",
		"2024-01-15T10:30:00", "2024-01-15T00:00:00Z", "2024-01-15T23:59:59.999Z", "2024-01-15T10:30:00.1",
		"2024-01-15T10:30:00.123456789+02:00", "2024-01-15T10:30:00-05:00", "2024-01-15T23:30:00-05:00",
		"2024-01-01T00:30:00+14:00", "0000-01-01", "0999-12-31", "0004-02-29", "9999-12-31T23:59:59Z",
	}
	invalid := []string{
		"", "2024", "2024-01", "2024-1-15", "24-01-15", "2024-00-10", "2024-13-01", "2024-01-00", "2024-01-32",
		"2024-02-30", "2023-02-29", "1900-02-29", "2100-02-29", "2024-04-31", "2024-06-31", "2024-09-31", "2024-11-31",
		"2024-01-15T", "2024-01-15T24:00:00", "2024-01-15T10:60:00", "2024-01-15T10:30:60", "2024-01-15T10:30",
		"2024-01-15 10:30:00", "2024-01-15t10:30:00", "2024-01-15T10:30:00z", "2024-01-15T10:30:00.Z",
		"2024-01-15T10:30:00+24:00", "2024-01-15T10:30:00+02", "2024-01-15T10:30:00+0200", "2024-01-15Z",
		" 2024-01-15", "2024-01-15 ", "2024-01-15\n", "２０２４-01-15", "+002024-01-15", "2024/01/15",
	}
	for _, s := range valid {
		if !IsISODate(s) {
			t.Errorf("IsISODate(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if IsISODate(s) {
			t.Errorf("IsISODate(%q) = true, want false", s)
		}
	}
}

func TestDaysIn(t *testing.T) {
	t.Parallel()
	want := map[int]int{1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
	for m, n := range want {
		if got := daysIn(2023, m); got != n {
			t.Errorf("daysIn(2023, %d) = %d, want %d", m, got, n)
		}
	}
	for y, n := range map[int]int{2024: 29, 2000: 29, 1900: 28, 2100: 28, 2400: 29, 0: 29, 4: 29, 2023: 28} {
		if got := daysIn(y, 2); got != n {
			t.Errorf("daysIn(%d, 2) = %d, want %d", y, got, n)
		}
	}
}

func TestJSSpace(t *testing.T) {
	t.Parallel()
	// The complement class must be exactly the complement of the \s class.
	space := regexp.MustCompile(`^[` + jsSpaceClass + `]$`)
	nonSpace := regexp.MustCompile(`^[` + jsNonSpaceClass + `]$`)
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff || r > 0x10000 && r%251 != 0 && r != utf8.MaxRune {
			continue // surrogates are no runes; the astral planes are sampled
		}
		s := string(r)
		in, out := space.MatchString(s), nonSpace.MatchString(s)
		if in != isJSSpace(r) || in == out {
			t.Fatalf("rune %U: class %v, complement %v, isJSSpace %v", r, in, out, isJSSpace(r))
		}
	}
}

func TestPatternTranslation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{`^\d+$`, []string{"123"}, []string{"12a", "١٢٣", ""}},
		{`^\w+$`, []string{"a_1"}, []string{"é", "a-b"}},
		{`\bcat\b`, []string{"a cat!"}, []string{"cats"}},
		{`^\s$`, []string{" ", "\t", "\v", "\u00a0", "\u2028", "\ufeff", "\u3000"}, []string{"a", "\u200b"}},
		{`^\S$`, []string{"a", "\u200b"}, []string{" ", "\v", "\u00a0"}},
		{`^[\s\d]+$`, []string{" 1\u00a02"}, []string{"a"}},
		{`^[\S]$`, []string{"x"}, []string{"\u2029"}},
		{`^.$`, []string{"a", "é", "\u0085"}, []string{"\n", "\r", "\u2028", "\u2029"}},
		{`^[.]$`, []string{"."}, []string{"a"}},
		{`^a[]`, nil, []string{"a", "ab", "a]"}},
		{`^a[^]$`, []string{"ab", "a\n"}, []string{"a"}},
		{`^[[]$`, []string{"["}, []string{"]"}},
		{`^[[:alpha:]]$`, []string{"[]", ":]", "a]"}, []string{"a", "b"}},
		{`^\x41\u0042\u{3}$`, []string{"ABuuu"}, []string{"AB\u0003"}},
		{`^\xZ$`, []string{"xZ"}, nil},
		{`^\uD83D\uDE00$`, []string{"😀"}, nil},
		{`^\cJ$`, []string{"\n"}, []string{"cJ"}},
		{`^\c1$`, []string{`\c1`}, nil},
		{`^\0$`, []string{"\x00"}, nil},
		{`^[\b]$`, []string{"\b"}, []string{"b"}},
		{`^\a\e\z\A\Q\p\C$`, []string{"aezAQpC"}, nil},
		{`^\/\.\*\-$`, []string{"/.*-"}, nil},
		{`^\é$`, []string{"é"}, nil},
		{`^[\-a]+$`, []string{"-a-"}, []string{"b"}},
		{`^[\101]$`, []string{"A"}, nil},
		{`^[\8]$`, []string{"8"}, nil},
		{`^\01$`, []string{"\x01"}, nil},
		{`^\08$`, []string{"\x008"}, nil},
		{`^\k$`, []string{"k"}, nil},
		{`^(?<year>\d{4})-(?:\d\d)$`, []string{"2024-01"}, nil},
		{`a{2}`, []string{"baab"}, []string{"ab"}},
		{`a{,2}`, []string{"a{,2}"}, []string{"aa"}},
		{`]`, []string{"]"}, nil},
		{`a|b`, []string{"b"}, []string{"c"}},
		{`colou?r`, []string{"the color"}, []string{"colr"}},
		{`$`, []string{"", "x"}, nil},
	}
	for _, tc := range cases {
		re, err := compilePattern(tc.pattern)
		if err != nil {
			t.Errorf("compilePattern(%q): %v", tc.pattern, err)
			continue
		}
		for _, s := range tc.match {
			if !re.MatchString(s) {
				t.Errorf("pattern %q (RE2 %q) should match %q", tc.pattern, re.String(), s)
			}
		}
		for _, s := range tc.noMatch {
			if re.MatchString(s) {
				t.Errorf("pattern %q (RE2 %q) should not match %q", tc.pattern, re.String(), s)
			}
		}
	}
	for _, p := range []string{`(?=a)`, `(?!a)`, `(?<=a)`, `(?<!a)`, `(a)\1`, `\2`, `(?<n>a)\k<n>`, `[a`, `\`, `(`, `a**`, `x{1001}`} {
		if _, err := compilePattern(p); err == nil {
			t.Errorf("compilePattern(%q) succeeded, want an error", p)
		} else if !strings.Contains(err.Error(), "RE2") && !strings.Contains(err.Error(), "cannot be used") {
			t.Errorf("compilePattern(%q): error %q does not say why", p, err)
		}
	}
}
