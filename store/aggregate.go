package store

import "strings"

// Aggregates (STORE.md §10, PROTOCOL.md §2.14): only stored values that
// are numbers count; strings, booleans, null, objects and absent fields
// are skipped. Numbers are added in record order, as the reference does,
// so results are bit-identical.

// Sum adds the numeric values of field; 0 when there are none.
func Sum(recs []Record, field string) float64 {
	total := 0.0
	for _, r := range recs {
		if x, ok := r[field].(float64); ok {
			total += x
		}
	}
	return total
}

// Avg is the mean of the numeric values of field (divided by how many are
// numeric, not by the record count); 0 when there are none.
func Avg(recs []Record, field string) float64 {
	total, n := 0.0, 0
	for _, r := range recs {
		if x, ok := r[field].(float64); ok {
			total += x
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return total / float64(n)
}

// Min is the smallest numeric value of field; ok is false when there is
// none (the server sends null).
func Min(recs []Record, field string) (float64, bool) {
	best, found := 0.0, false
	for _, r := range recs {
		if x, ok := r[field].(float64); ok && (!found || x < best) {
			best, found = x, true
		}
	}
	return best, found
}

// Max is the largest numeric value of field; ok is false when there is
// none (the server sends null).
func Max(recs []Record, field string) (float64, bool) {
	best, found := 0.0, false
	for _, r := range recs {
		if x, ok := r[field].(float64); ok && (!found || x > best) {
			best, found = x, true
		}
	}
	return best, found
}

// Aggregate computes one aggregate function ("count", "sum", "avg",
// "min", "max") over recs; ok is false for min/max without numeric values
// and for an unknown function (the value is then absent).
func Aggregate(recs []Record, fn, field string) (float64, bool) {
	switch fn {
	case "count":
		return float64(len(recs)), true
	case "sum":
		return Sum(recs, field), true
	case "avg":
		return Avg(recs, field), true
	case "min":
		return Min(recs, field)
	case "max":
		return Max(recs, field)
	}
	return 0, false
}

// GroupBy groups recs by the string forms of fields (absent and null
// count as "null", so 1 and "1" share a group, as do null, absent and
// "null") and aggregates each group with fn over field (STORE.md §10).
// Each result is {"key": {field: value of the group's first record,
// absent fields omitted}, "value": number}, groups in order of first
// appearance; an empty min/max and an unknown function give 0.
func GroupBy(recs []Record, fields []string, fn string, field string) []map[string]any {
	type group struct {
		first Record
		recs  []Record
	}
	var groups []*group
	index := map[string]*group{}
	var b strings.Builder
	for _, r := range recs {
		b.Reset()
		for i, f := range fields {
			if i > 0 {
				b.WriteByte(0)
			}
			if v, ok := r[f]; ok && v != nil {
				b.WriteString(Display(v))
			} else {
				b.WriteString("null")
			}
		}
		k := b.String()
		g := index[k]
		if g == nil {
			g = &group{first: r}
			index[k] = g
			groups = append(groups, g)
		}
		g.recs = append(g.recs, r)
	}
	out := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		key := make(map[string]any, len(fields))
		for _, f := range fields {
			if v, ok := g.first[f]; ok {
				key[f] = CloneValue(v)
			}
		}
		value, _ := Aggregate(g.recs, fn, field)
		out = append(out, map[string]any{"key": key, "value": value})
	}
	return out
}
