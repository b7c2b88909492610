package store

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Ordering, pagination and the record-shaping steps of declarative
// queries (STORE.md §9 and §15 steps 4–7).

// compareUTF16 orders strings by UTF-16 code units like CompareStrings,
// without allocating.
func compareUTF16(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			if ca != cb {
				if ca < cb {
					return -1
				}
				return 1
			}
			i++
			j++
			continue
		}
		ra, sa := utf8.DecodeRuneInString(a[i:])
		rb, sb := utf8.DecodeRuneInString(b[j:])
		if ra != rb {
			ka, kb := utf16Key(ra), utf16Key(rb)
			if ka < kb {
				return -1
			}
			return 1
		}
		i += sa
		j += sb
	}
	switch {
	case i < len(a):
		return 1
	case j < len(b):
		return -1
	}
	return 0
}

// utf16Key maps a rune to a number ordered like its UTF-16 encoding: the
// first code unit in the high bits, the second (if any) in the low bits.
func utf16Key(r rune) uint32 {
	if r < 0x10000 {
		if r >= 0xD800 && r <= 0xDFFF {
			r = utf8.RuneError // not representable, as in utf16.Encode
		}
		return uint32(r) << 16
	}
	r -= 0x10000
	return (0xD800+uint32(r>>10))<<16 | (0xDC00 + uint32(r&0x3FF))
}

// CompareKeys orders primary keys for the ordered_set key walk (STORE.md
// §9): two numbers numerically, anything else by the bytes of its
// JavaScript string form (documented deviation from localeCompare).
func CompareKeys(a, b any) int {
	x, xok := a.(float64)
	y, yok := b.(float64)
	if xok && yok {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(Display(a), Display(b))
}

// SortKeys sorts keys in place, stably, with CompareKeys.
func SortKeys(keys []any) {
	slices.SortStableFunc(keys, CompareKeys)
}

// FirstN returns the slice bounds of the first n of total items; n <= 0
// is empty (STORE.md §23 #4).
func FirstN(total, n int) (start, end int) {
	if n <= 0 {
		return 0, 0
	}
	return 0, min(n, total)
}

// LastN returns the slice bounds of the last n of total items, kept in
// ascending order; n <= 0 is empty (STORE.md §23 #4).
func LastN(total, n int) (start, end int) {
	if n <= 0 {
		return total, total
	}
	return max(total-n, 0), total
}

// Paginate returns the page bounds within the key walk (STORE.md §9): it
// starts after the key strictly equal to after, or at 0 when hasAfter is
// false (callers pass false for an absent or null "after", COMPATIBILITY
// P§11 #7); an unknown cursor gives an empty page with hasMore false; a
// limit <= 0 gives an empty page.
func Paginate(keys []any, after any, hasAfter bool, limit int) (start, end int, hasMore bool) {
	total := len(keys)
	if hasAfter {
		pos := -1
		for i, k := range keys {
			if StrictEqual(k, after) {
				pos = i
				break
			}
		}
		if pos < 0 {
			return 0, 0, false
		}
		start = pos + 1
	}
	if limit < 0 {
		limit = 0
	}
	end = start + min(limit, total-start)
	return start, end, limit < total-start
}

// SortKey is one key of a declarative query's sort (STORE.md §15).
type SortKey struct {
	Field string
	Desc  bool
}

// ParseSort reads a sort object in document key order; "desc" sorts
// descending and every other direction value ascending, as the reference
// does. An empty raw message means no sort.
func ParseSort(raw json.RawMessage) ([]SortKey, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	v, err := decodeOrdered(raw)
	if err != nil {
		return nil, &FilterError{Message: `Invalid "sort": ` + err.Error()}
	}
	obj, ok := v.(*jsonObject)
	if !ok {
		return nil, &FilterError{Message: `Invalid "sort": expected object`}
	}
	keys := make([]SortKey, 0, len(obj.keys))
	for _, k := range obj.keys {
		keys = append(keys, SortKey{Field: k, Desc: obj.vals[k] == "desc"})
	}
	return keys, nil
}

// compareSortValues orders two non-null values of one sort key: numbers
// numerically, strings by UTF-16 code units, false before true; values of
// different types, objects and arrays are ties (ok false).
func compareSortValues(a, b any) (c int, ok bool) {
	switch x := a.(type) {
	case float64:
		y, isNum := b.(float64)
		if !isNum {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
	case string:
		y, isStr := b.(string)
		if !isStr {
			return 0, false
		}
		c := compareUTF16(x, y)
		return c, c != 0
	case bool:
		y, isBool := b.(bool)
		if !isBool || x == y {
			return 0, false
		}
		if !x {
			return -1, true
		}
		return 1, true
	}
	return 0, false
}

// CompareRecords is the comparator of SortRecords.
func CompareRecords(a, b Record, keys []SortKey) int {
	for _, k := range keys {
		av, aok := a[k.Field]
		bv, bok := b[k.Field]
		aNull, bNull := !aok || av == nil, !bok || bv == nil
		switch {
		case aNull && bNull:
			continue
		case aNull:
			return 1
		case bNull:
			return -1
		}
		if StrictEqual(av, bv) {
			continue
		}
		c, ok := compareSortValues(av, bv)
		if !ok {
			return 0 // neither < nor >: the reference stops at this key
		}
		if k.Desc {
			return -c
		}
		return c
	}
	return 0
}

// SortRecords sorts records in place, stably (STORE.md §15 step 4): keys
// in order, strictly equal values defer to the next key, null and absent
// last in both directions (and equal to each other), numbers numerically,
// strings by UTF-16 code units, booleans false < true. Values of
// different types, and objects or arrays that are not the same value,
// tie and end the comparison without consulting later keys, as
// PROTOCOL.md §4.6.3 describes.
func SortRecords(recs []Record, keys []SortKey) {
	if len(keys) == 0 || len(recs) < 2 {
		return
	}
	slices.SortStableFunc(recs, func(a, b Record) int { return CompareRecords(a, b, keys) })
}

// jsSliceIndex converts a slice argument the way JavaScript's
// Array.prototype.slice does (truncation, negative counts from the end,
// clamping to [0, n]).
func jsSliceIndex(x float64, n int) int {
	if math.IsNaN(x) {
		return 0
	}
	x = math.Trunc(x)
	if x < 0 {
		x += float64(n)
		if x < 0 {
			return 0
		}
		return int(x)
	}
	if x > float64(n) {
		return n
	}
	return int(x)
}

// ApplyOffset drops the first offset records when offset > 0 (STORE.md
// §15 step 5); fractions truncate.
func ApplyOffset(recs []Record, offset float64) []Record {
	if !(offset > 0) {
		return recs
	}
	return recs[jsSliceIndex(offset, len(recs)):]
}

// ApplyLimit keeps the first limit records with JavaScript slice
// semantics (STORE.md §15 step 6, PROTOCOL.md P§11 #32): 0 gives none, a
// negative -k drops the last k, fractions truncate.
func ApplyLimit(recs []Record, limit float64) []Record {
	return recs[:jsSliceIndex(limit, len(recs))]
}

// Project reduces a record to the listed fields it has, null included
// (STORE.md §15 step 7); an empty list returns the record unchanged.
// Values are shared, not copied.
func Project(rec Record, fields []string) Record {
	if len(fields) == 0 {
		return rec
	}
	out := make(Record, len(fields))
	for _, f := range fields {
		if v, ok := rec[f]; ok {
			out[f] = v
		}
	}
	return out
}
