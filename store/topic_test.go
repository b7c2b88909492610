package store

import (
	"strings"
	"testing"
)

// matchTopicSplit is the former, allocating implementation: the reference.
func matchTopicSplit(pattern, topic string) bool {
	if pattern == "*" || pattern == topic {
		return true
	}
	ps := strings.Split(pattern, ".")
	ts := strings.Split(topic, ".")
	if len(ps) == len(ts) {
		for i := range ps {
			if ps[i] != "*" && ps[i] != ts[i] {
				return false
			}
		}
		return true
	}
	if len(ps) < len(ts) && ps[len(ps)-1] == "*" {
		for i := 0; i < len(ps)-1; i++ {
			if ps[i] != ts[i] {
				return false
			}
		}
		return true
	}
	return false
}

func FuzzMatchTopic(f *testing.F) {
	for _, s := range [][2]string{{"*", "a.b"}, {"bucket.*", "bucket.x.inserted"}, {"bucket.*.inserted", "bucket.x.inserted"},
		{"a.*.c", "a.b.c.d"}, {"a.*", "a"}, {"", ""}, {".", "a."}, {"a.**", "a.b.c"}, {"*.*", "a.b.c"}, {"a..*", "a..b.c"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		if got, want := MatchTopic(pattern, topic), matchTopicSplit(pattern, topic); got != want {
			t.Fatalf("MatchTopic(%q, %q) = %v, want %v", pattern, topic, got, want)
		}
	})
}

func TestMatchTopicAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { MatchTopic("bucket.*.inserted", "bucket.orders.inserted") }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
