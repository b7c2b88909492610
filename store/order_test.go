package store

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestCompareUTF16MatchesCompareStrings(t *testing.T) {
	pieces := []string{"", "a", "b", "A", "é", "\uffff", "\ue000", "｡", "😀", "𐀀", "\U0010FFFF", "\xff", "\xe2\x82", "\xed\xa0\x80", "€", "\x00", "z"}
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() string {
		s := ""
		for range r.IntN(5) {
			s += pieces[r.IntN(len(pieces))]
		}
		return s
	}
	for range 200000 {
		a, b := gen(), gen()
		if got, want := compareUTF16(a, b), CompareStrings(a, b); got != want {
			t.Fatalf("compareUTF16(%q, %q) = %d, CompareStrings = %d", a, b, got, want)
		}
	}
	if compareUTF16("😀", "\uffff") >= 0 {
		t.Error("surrogate pair must sort before U+FFFF")
	}
}

func TestCompareKeys(t *testing.T) {
	cases := []struct {
		a, b any
		want int
	}{
		{1.0, 2.0, -1},
		{10.0, 9.0, 1},
		{-1.0, -1.0, 0},
		{"10", "9", -1},   // strings, byte-wise
		{10.0, "9", -1},   // mixed: string forms "10" < "9"
		{1.0, "1", 0},     // same string form
		{"a", "B", 1},     // bytes: 'a' > 'B' (localeCompare would differ)
		{true, "true", 0}, // String(true)
		{"b", "a", 1},
		{"", "a", -1},
		{1e21, "1e+21", 0},
	}
	for _, tc := range cases {
		if got := CompareKeys(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareKeys(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareKeys(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareKeys(%v, %v) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
	keys := []any{3.0, 1.0, 20.0, 2.0}
	SortKeys(keys)
	if !reflect.DeepEqual(keys, []any{1.0, 2.0, 3.0, 20.0}) {
		t.Errorf("SortKeys numbers: %v", keys)
	}
	skeys := []any{"b", "a", "C", "aa"}
	SortKeys(skeys)
	if !reflect.DeepEqual(skeys, []any{"C", "a", "aa", "b"}) {
		t.Errorf("SortKeys strings: %v", skeys)
	}
}

func TestFirstLastN(t *testing.T) {
	cases := []struct {
		total, n             int
		fStart, fEnd, lStart int
	}{
		{5, 2, 0, 2, 3},
		{5, 5, 0, 5, 0},
		{5, 9, 0, 5, 0},
		{5, 0, 0, 0, 5},
		{5, -1, 0, 0, 5},
		{0, 3, 0, 0, 0},
	}
	for _, tc := range cases {
		s, e := FirstN(tc.total, tc.n)
		if s != tc.fStart || e != tc.fEnd {
			t.Errorf("FirstN(%d,%d) = %d,%d", tc.total, tc.n, s, e)
		}
		s, e = LastN(tc.total, tc.n)
		if s != tc.lStart || e != tc.total {
			t.Errorf("LastN(%d,%d) = %d,%d", tc.total, tc.n, s, e)
		}
	}
}

func TestPaginate(t *testing.T) {
	keys := []any{"a", "b", "c", "d", "e"}
	nums := []any{1.0, 2.0, 3.0}
	cases := []struct {
		name     string
		keys     []any
		after    any
		hasAfter bool
		limit    int
		start    int
		end      int
		more     bool
	}{
		{"first page", keys, nil, false, 2, 0, 2, true},
		{"second page", keys, "b", true, 2, 2, 4, true},
		{"last page exact", keys, "c", true, 2, 3, 5, false},
		{"last page short", keys, "d", true, 2, 4, 5, false},
		{"after last key", keys, "e", true, 2, 5, 5, false},
		{"unknown cursor", keys, "zz", true, 2, 0, 0, false},
		{"null cursor looked up", keys, nil, true, 2, 0, 0, false},
		{"limit covers all", keys, nil, false, 10, 0, 5, false},
		{"limit equals total", keys, nil, false, 5, 0, 5, false},
		{"limit zero", keys, nil, false, 0, 0, 0, true},
		{"limit negative", keys, "d", true, -3, 4, 4, true},
		{"empty walk", nil, nil, false, 3, 0, 0, false},
		{"empty walk with cursor", nil, "a", true, 3, 0, 0, false},
		{"numeric cursor strict", nums, "1", true, 2, 0, 0, false},
		{"numeric cursor", nums, 1.0, true, 1, 1, 2, true},
	}
	for _, tc := range cases {
		start, end, more := Paginate(tc.keys, tc.after, tc.hasAfter, tc.limit)
		if start != tc.start || end != tc.end || more != tc.more {
			t.Errorf("%s: got (%d,%d,%v) want (%d,%d,%v)", tc.name, start, end, more, tc.start, tc.end, tc.more)
		}
	}
}

func TestParseSort(t *testing.T) {
	keys, err := ParseSort(json.RawMessage(`{"priority":"desc","ticketNo":"asc","x":"DESC","y":1,"z":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []SortKey{{"priority", true}, {"ticketNo", false}, {"x", false}, {"y", false}, {"z", false}}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("got %v want %v", keys, want)
	}
	if keys, err := ParseSort(nil); err != nil || keys != nil {
		t.Errorf("empty: %v %v", keys, err)
	}
	if keys, err := ParseSort(json.RawMessage(`{}`)); err != nil || len(keys) != 0 {
		t.Errorf("{}: %v %v", keys, err)
	}
	for _, bad := range []string{`[]`, `"asc"`, `null`, `{`, `{"a":"asc"}x`} {
		_, err := ParseSort(json.RawMessage(bad))
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("ParseSort(%s) = %v", bad, err)
		}
	}
}

func sortRecsJSON(t *testing.T, s string) []Record {
	t.Helper()
	var out []Record
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func ordIDs(recs []Record) []any {
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i] = r["id"]
	}
	return out
}

func TestSortRecords(t *testing.T) {
	cases := []struct {
		name string
		recs string
		keys []SortKey
		want []any
	}{
		{"numbers asc", `[{"id":1,"p":3},{"id":2,"p":1},{"id":3,"p":2}]`, []SortKey{{"p", false}}, []any{2.0, 3.0, 1.0}},
		{"numbers desc", `[{"id":1,"p":3},{"id":2,"p":1},{"id":3,"p":2}]`, []SortKey{{"p", true}}, []any{1.0, 3.0, 2.0}},
		{"numerically not textually", `[{"id":1,"p":10},{"id":2,"p":9}]`, []SortKey{{"p", false}}, []any{2.0, 1.0}},
		{"null and absent last asc", `[{"id":1},{"id":2,"p":2},{"id":3,"p":null},{"id":4,"p":1}]`, []SortKey{{"p", false}}, []any{4.0, 2.0, 1.0, 3.0}},
		{"null and absent last desc", `[{"id":1},{"id":2,"p":2},{"id":3,"p":null},{"id":4,"p":1}]`, []SortKey{{"p", true}}, []any{2.0, 4.0, 1.0, 3.0}},
		{"null ties absent, next key", `[{"id":1,"q":2},{"id":2,"p":null,"q":1}]`, []SortKey{{"p", false}, {"q", false}}, []any{2.0, 1.0}},
		{"strings utf16", `[{"id":1,"s":"｡"},{"id":2,"s":"😀"},{"id":3,"s":"B"},{"id":4,"s":"a"}]`, []SortKey{{"s", false}}, []any{3.0, 4.0, 2.0, 1.0}},
		{"booleans", `[{"id":1,"b":true},{"id":2,"b":false}]`, []SortKey{{"b", false}}, []any{2.0, 1.0}},
		{"multi-key", `[{"id":1,"p":5,"n":3},{"id":2,"p":4,"n":1},{"id":3,"p":5,"n":1}]`, []SortKey{{"p", true}, {"n", false}}, []any{3.0, 1.0, 2.0}},
		{"stable ties", `[{"id":1,"p":1},{"id":2,"p":0},{"id":3,"p":1},{"id":4,"p":0}]`, []SortKey{{"p", false}}, []any{2.0, 4.0, 1.0, 3.0}},
		{"mixed types tie and stop", `[{"id":1,"p":"x","q":2},{"id":2,"p":1,"q":1}]`, []SortKey{{"p", false}, {"q", false}}, []any{1.0, 2.0}},
		{"objects tie and stop", `[{"id":1,"p":{},"q":2},{"id":2,"p":{},"q":1}]`, []SortKey{{"p", false}, {"q", false}}, []any{1.0, 2.0}},
		{"no keys", `[{"id":2},{"id":1}]`, nil, []any{2.0, 1.0}},
	}
	for _, tc := range cases {
		recs := sortRecsJSON(t, tc.recs)
		SortRecords(recs, tc.keys)
		if got := ordIDs(recs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func TestApplyOffsetLimit(t *testing.T) {
	recs := sortRecsJSON(t, `[{"id":1},{"id":2},{"id":3},{"id":4}]`)
	offsets := []struct {
		offset float64
		want   []any
	}{
		{0, []any{1.0, 2.0, 3.0, 4.0}},
		{-1, []any{1.0, 2.0, 3.0, 4.0}},
		{1, []any{2.0, 3.0, 4.0}},
		{1.7, []any{2.0, 3.0, 4.0}},
		{4, []any{}},
		{100, []any{}},
	}
	for _, tc := range offsets {
		if got := ordIDs(ApplyOffset(recs, tc.offset)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("offset %v: %v", tc.offset, got)
		}
	}
	limits := []struct {
		limit float64
		want  []any
	}{
		{0, []any{}},
		{2, []any{1.0, 2.0}},
		{2.9, []any{1.0, 2.0}},
		{10, []any{1.0, 2.0, 3.0, 4.0}},
		{-1, []any{1.0, 2.0, 3.0}},
		{-4, []any{}},
		{-100, []any{}},
		{-0.5, []any{}},
	}
	for _, tc := range limits {
		if got := ordIDs(ApplyLimit(recs, tc.limit)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("limit %v: %v", tc.limit, got)
		}
	}
}

func TestProject(t *testing.T) {
	rec := Record{"id": 1.0, "name": "x", "n": nil, FieldVersion: 2.0}
	got := Project(rec, []string{"name", "n", "missing", FieldVersion, "name"})
	want := Record{"name": "x", "n": nil, FieldVersion: 2.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	if got := Project(rec, nil); !reflect.DeepEqual(got, rec) {
		t.Errorf("no fields: %v", got)
	}
	if got := Project(rec, []string{"missing"}); len(got) != 0 {
		t.Errorf("only missing: %v", got)
	}
}

func TestUTF16Key(t *testing.T) {
	for _, r := range []rune{0, 'a', 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF} {
		if !utf8.ValidRune(r) {
			continue
		}
		for _, q := range []rune{0, 'a', 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF} {
			want := CompareStrings(string(r), string(q))
			ka, kb := utf16Key(r), utf16Key(q)
			got := 0
			if ka < kb {
				got = -1
			} else if ka > kb {
				got = 1
			}
			if got != want {
				t.Errorf("utf16Key order %U vs %U: %d want %d", r, q, got, want)
			}
		}
	}
}
