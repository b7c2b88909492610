package rules

import (
	"regexp"
	"strings"
)

// The reference uses four different wildcard matchers (RULES.md §3,
// COMPATIBILITY.md P§11 #14). Each is reproduced where it is used.

// MatchTopic is the matcher of rule event triggers and temporal event
// matchers (RULES.md §3.1): equality; a trailing ".*" matches any number
// (≥ 1) of further segments; otherwise every "*" is one non-empty segment,
// anchored, with every other character literal.
func MatchTopic(pattern, topic string) bool {
	m := compileTopic(pattern)
	return m.match(topic)
}

// MatchKey is the matcher of fact keys and timer names (RULES.md §3.2,
// separator ":"): equality; a trailing ":*" with no other "*" matches
// exactly one more (possibly empty) segment; otherwise every "*" is one
// non-empty segment, anchored, with every other character literal.
func MatchKey(pattern, key string) bool {
	m := compileKey(pattern)
	return m.match(key)
}

// MatchSubscription is the matcher of engine subscriptions (RULES.md
// §3.3): "*" matches every topic; segment by segment, a "*" in the last
// pattern position matches the rest of the topic (even nothing), a "*"
// elsewhere any single segment, other segments must be identical, and
// without a trailing "*" the segment counts must be equal.
func MatchSubscription(pattern, topic string) bool {
	if pattern == topic || pattern == "*" {
		return true
	}
	if !strings.Contains(pattern, "*") {
		return false
	}
	return matchSubscriptionParts(strings.Split(pattern, "."), strings.Split(topic, "."))
}

// matchSubscriptionParts is the reference's segment loop over a pattern
// and a topic already split on ".".
func matchSubscriptionParts(pp, tp []string) bool {
	for i, p := range pp {
		if p == "*" {
			if i == len(pp)-1 {
				return true
			}
			continue
		}
		if i >= len(tp) || p != tp[i] {
			return false
		}
	}
	return len(pp) == len(tp)
}

// MatchHistory is the matcher of recent-event queries (RULES.md §3.4):
// "*" is zero or more characters without ".", "**" any characters.
func MatchHistory(pattern, topic string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == topic
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); {
		if pattern[i] == '*' {
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString(".*")
				i += 2
				continue
			}
			b.WriteString("[^.]*")
			i++
			continue
		}
		j := strings.IndexByte(pattern[i:], '*')
		if j < 0 {
			j = len(pattern) - i
		}
		b.WriteString(regexp.QuoteMeta(pattern[i : i+j]))
		i += j
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(topic)
}

// matcher is a compiled §3.1 or §3.2 pattern; rules compile theirs once.
type matcher struct {
	pattern string
	kind    matchKind
	prefix  string   // matchPrefix: what the topic/key must start with
	parts   []string // matchGlob: literal parts around each "*"
	sep     byte
}

type matchKind uint8

const (
	matchExact  matchKind = iota // no "*": equality only
	matchPrefix                  // §3.1 rule 2 / §3.2 rule 2
	matchGlob                    // "*" = one non-empty segment
)

func compileTopic(p string) matcher {
	m := matcher{pattern: p, sep: '.'}
	switch {
	case strings.HasSuffix(p, ".*"):
		m.kind, m.prefix = matchPrefix, p[:len(p)-1] // keep the "."
	case strings.Contains(p, "*"):
		m.kind, m.parts = matchGlob, strings.Split(p, "*")
	}
	return m
}

func compileKey(p string) matcher {
	m := matcher{pattern: p, sep: ':'}
	switch {
	case strings.HasSuffix(p, ":*") && strings.Count(p, "*") == 1:
		m.kind, m.prefix = matchPrefix, p[:len(p)-1]
	case strings.Contains(p, "*"):
		m.kind, m.parts = matchGlob, strings.Split(p, "*")
	}
	return m
}

func (m *matcher) match(s string) bool {
	if s == m.pattern {
		return true
	}
	switch m.kind {
	case matchPrefix:
		if !strings.HasPrefix(s, m.prefix) {
			return false
		}
		if m.sep == ':' { // exactly one more segment
			return strings.IndexByte(s[len(m.prefix):], ':') < 0
		}
		return true // "order.*": any number of further segments
	case matchGlob:
		// Cheap rejections first: the literal before the first "*" and
		// the one after the last.
		if !strings.HasPrefix(s, m.parts[0]) || !strings.HasSuffix(s, m.parts[len(m.parts)-1]) {
			return false
		}
		return globRest(m.parts[1:], s[len(m.parts[0]):], m.sep)
	}
	return false
}

// globRest matches s against "*" lit1 "*" lit2 ...: each "*" consumes one
// or more characters other than sep (the reference's "[^.]+" / "[^:]+").
func globRest(parts []string, s string, sep byte) bool {
	if len(parts) == 0 {
		return s == ""
	}
	lit := parts[0]
	for k := 1; k <= len(s); k++ {
		if s[k-1] == sep {
			return false
		}
		if strings.HasPrefix(s[k:], lit) && globRest(parts[1:], s[k+len(lit):], sep) {
			return true
		}
	}
	return false
}

// keyParent is the part of a fact key up to and including its last ":" —
// the facts a trailing ":*" pattern selects share it (§3.2 rule 2).
func keyParent(key string) string {
	return key[:strings.LastIndexByte(key, ':')+1]
}
