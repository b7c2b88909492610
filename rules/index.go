package rules

import "strings"

// ruleIndex finds the rules a trigger may fire (RULES.md §5.2): patterns
// without "*" in a map, so most rules are never looked at; wildcard
// patterns grouped by pattern and checked one pattern at a time. Every
// bucket is kept sorted by priority (highest first, then registration
// order), and is replaced rather than changed in place, so a bucket being
// iterated is never disturbed by a rule registered meanwhile.
type ruleIndex struct {
	event, fact, timer triggerIndex
	temporal           []*compiledRule
}

type triggerIndex struct {
	exact map[string][]*compiledRule
	wild  []*wildBucket
}

type wildBucket struct {
	m     matcher
	rules []*compiledRule
}

func newRuleIndex() ruleIndex {
	return ruleIndex{
		event: triggerIndex{exact: map[string][]*compiledRule{}},
		fact:  triggerIndex{exact: map[string][]*compiledRule{}},
		timer: triggerIndex{exact: map[string][]*compiledRule{}},
	}
}

func (x *ruleIndex) of(r *compiledRule) *triggerIndex {
	switch r.trig {
	case trigEvent:
		return &x.event
	case trigFact:
		return &x.fact
	case trigTimer:
		return &x.timer
	}
	return nil
}

func (x *ruleIndex) add(r *compiledRule) {
	if r.trig == trigTemporal {
		x.temporal = insertSorted(x.temporal, r)
		return
	}
	ti := x.of(r)
	if !strings.Contains(r.pattern, "*") {
		ti.exact[r.pattern] = insertSorted(ti.exact[r.pattern], r)
		return
	}
	for i, b := range ti.wild {
		if b.m.pattern == r.pattern {
			nb := &wildBucket{m: b.m, rules: insertSorted(b.rules, r)}
			ti.wild = replaceBucket(ti.wild, i, nb)
			return
		}
	}
	nw := make([]*wildBucket, len(ti.wild), len(ti.wild)+1)
	copy(nw, ti.wild)
	ti.wild = append(nw, &wildBucket{m: r.match, rules: []*compiledRule{r}})
}

func (x *ruleIndex) remove(r *compiledRule) {
	if r.trig == trigTemporal {
		x.temporal = without(x.temporal, r)
		return
	}
	ti := x.of(r)
	if !strings.Contains(r.pattern, "*") {
		if rest := without(ti.exact[r.pattern], r); len(rest) > 0 {
			ti.exact[r.pattern] = rest
		} else {
			delete(ti.exact, r.pattern)
		}
		return
	}
	for i, b := range ti.wild {
		if b.m.pattern != r.pattern {
			continue
		}
		rest := without(b.rules, r)
		if len(rest) > 0 {
			ti.wild = replaceBucket(ti.wild, i, &wildBucket{m: b.m, rules: rest})
			return
		}
		nw := make([]*wildBucket, 0, len(ti.wild)-1)
		nw = append(nw, ti.wild[:i]...)
		ti.wild = append(nw, ti.wild[i+1:]...)
		return
	}
}

func replaceBucket(list []*wildBucket, i int, b *wildBucket) []*wildBucket {
	nw := make([]*wildBucket, len(list))
	copy(nw, list)
	nw[i] = b
	return nw
}

// before orders rules by priority, highest first, then registration.
func before(a, b *compiledRule) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.seq < b.seq
}

// insertSorted returns a new slice with r in its place.
func insertSorted(list []*compiledRule, r *compiledRule) []*compiledRule {
	out := make([]*compiledRule, 0, len(list)+1)
	i := 0
	for i < len(list) && before(list[i], r) {
		i++
	}
	out = append(out, list[:i]...)
	out = append(out, r)
	return append(out, list[i:]...)
}

func without(list []*compiledRule, r *compiledRule) []*compiledRule {
	out := make([]*compiledRule, 0, len(list))
	for _, x := range list {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}

// collect appends the candidates for key to dst: exact matches first,
// then wildcard matches, in priority order (a stable merge, so on equal
// priority an exact match still comes first). active filters out disabled
// rules and rules of disabled groups.
func (ti *triggerIndex) collect(dst []*compiledRule, key string, active func(*compiledRule) bool) []*compiledRule {
	base := len(dst)
	for _, r := range ti.exact[key] {
		if active(r) {
			dst = append(dst, r)
		}
	}
	nExact := len(dst) - base
	for _, b := range ti.wild {
		if !b.m.match(key) {
			continue
		}
		for _, r := range b.rules {
			if active(r) {
				dst = append(dst, r)
			}
		}
	}
	if len(dst)-base > nExact && len(dst)-base > 1 {
		// Several sorted runs (exact, then one per wildcard pattern):
		// a stable insertion sort by priority keeps exact first on ties.
		s := dst[base:]
		for i := 1; i < len(s); i++ {
			for j := i; j > 0 && s[j].priority > s[j-1].priority; j-- {
				s[j], s[j-1] = s[j-1], s[j]
			}
		}
	}
	return dst
}
