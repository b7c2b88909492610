package rules

import "testing"

func TestMatchTopic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"order.created", "order.created", true},
		{"order.created", "order.updated", false},
		// Rule 2: trailing ".*" matches any number (>= 1) of segments.
		{"order.*", "order.created", true},
		{"order.*", "order.item.added", true},
		{"order.*", "order", false},
		{"order.*", "orders.created", false},
		{"order.*", "order.", true},
		// Rule 2 is a literal prefix test, even with other "*" in it.
		{"*.created.*", "x.created.y", false},
		{"*.created.*", "*.created.y", true},
		// Rule 3: "*" is one non-empty segment, anchored.
		{"order.*.status", "order.17.status", true},
		{"order.*.status", "order.1.2.status", false},
		{"order.*.status", "order..status", false},
		{"*.created", "user.created", true},
		{"*.created", "a.user.created", false},
		{"*", "order", true},
		{"*", "order.created", false},
		{"*", "", false},
		{"ord*.x", "order.x", true},
		{"ord*.x", "ord.x", false},
		{"a*b.c", "aXYb.c", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abc", false},
		// "**" has no special meaning: two non-empty runs.
		{"a.**", "a.x", false}, // not ".*"-suffixed: two non-empty runs
		{"a.**", "a.xy", true},
		{"**.b", "x.b", false},
		{"**.b", "xy.b", true},
		// Other metacharacters are literal (Go: escape everything but "*").
		{"a+b.*", "a+b.c", true},
		{"a+b.*", "aab.c", false},
		{"a.b", "axb", false},
		{"(x)?.*.y", "(x)?.1.y", true},
		{"no-wild", "no-wild.x", false},
	}
	for _, c := range cases {
		if got := MatchTopic(c.pattern, c.topic); got != c.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", c.pattern, c.topic, got, c.want)
		}
	}
}

func TestMatchKey(t *testing.T) {
	t.Parallel()
	// The table of RULES.md §3.2.
	keys := []string{"customer:12:age", "customer:12", "customer"}
	table := []struct {
		pattern string
		want    [3]bool
	}{
		{"customer:12:age", [3]bool{true, false, false}},
		{"customer:*:age", [3]bool{true, false, false}},
		{"customer:*", [3]bool{false, true, false}},
		{"*:*:age", [3]bool{true, false, false}},
		{"*", [3]bool{false, false, true}},
	}
	for _, row := range table {
		for i, k := range keys {
			if got := MatchKey(row.pattern, k); got != row.want[i] {
				t.Errorf("MatchKey(%q, %q) = %v, want %v", row.pattern, k, got, row.want[i])
			}
		}
	}
	more := []struct {
		pattern, key string
		want         bool
	}{
		{"customer:*", "customer:", true}, // the segment may be empty
		{"customer:*", "customer:1:2", false},
		{"customer:*", "customerX1", false},
		{"user:*:name", "user:1:x:name", false},
		{"user:*:name", "user::name", false},
		{"a*:*", "ab:c", true}, // two "*": rule 3
		{"a*:*", "a:c", false},
		// Go: "." and other metacharacters are literal (the reference's
		// "a.b:*" also matched "axb:1").
		{"a.b:*", "axb:1", false},
		{"a.b:*", "a.b:1", true},
		{"a.b:*:c", "axb:1:c", false},
		{"a.b:*:c", "a.b:1:c", true},
		{"x+:*:y", "x+:1:y", true},
		{"plain", "plain", true},
		{"plain", "plain:x", false},
	}
	for _, c := range more {
		if got := MatchKey(c.pattern, c.key); got != c.want {
			t.Errorf("MatchKey(%q, %q) = %v, want %v", c.pattern, c.key, got, c.want)
		}
	}
}

func TestMatchSubscription(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"order.created", "order.created", true},
		{"order.created", "order.created.x", false},
		{"*", "anything.at.all", true},
		{"*", "x", true},
		// A trailing "*" matches the rest, including nothing.
		{"order.*", "order", true},
		{"order.*", "order.created", true},
		{"order.*", "order.a.b", true},
		{"order.*", "orders.a", false},
		// A "*" elsewhere is one segment; counts must then be equal.
		{"order.*.status", "order.1.status", true},
		{"order.*.status", "order.1.2.status", false},
		{"order.*.status", "order.1", false},
		{"*.created", "user.created", true},
		{"*.created", "user.created.x", false},
		{"*.created", "created", false},
		// The reference's loop: a middle "*" past the topic's end is
		// skipped, so a trailing "*" still matches.
		{"a.*.*", "a", true},
		{"a.*.c", "a", false},
	}
	for _, c := range cases {
		if got := MatchSubscription(c.pattern, c.topic); got != c.want {
			t.Errorf("MatchSubscription(%q, %q) = %v, want %v", c.pattern, c.topic, got, c.want)
		}
	}
}

func TestMatchHistory(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"order.created", "order.created", true},
		{"order.*", "order.created", true},
		{"order.*", "order.", true},
		{"order.*", "order.a.b", false},
		{"order.**", "order.a.b", true},
		{"**", "a.b.c", true},
		{"*", "a.b", false},
		{"*", "", true},
		{"o*r.x", "order.x", true},
		{"a+b", "aab", false},
		{"a+b", "a+b", true},
	}
	for _, c := range cases {
		if got := MatchHistory(c.pattern, c.topic); got != c.want {
			t.Errorf("MatchHistory(%q, %q) = %v, want %v", c.pattern, c.topic, got, c.want)
		}
	}
}

func TestKeyParent(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{"a:b:c": "a:b:", "a": "", "a:": "a:", ":x": ":"} {
		if got := keyParent(key); got != want {
			t.Errorf("keyParent(%q) = %q, want %q", key, got, want)
		}
	}
}
