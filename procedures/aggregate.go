package procedures

import "math"

// aggregate computes an aggregate step over an earlier array result
// (PROTOCOL.md §7.2.2): count is the length; sum adds the numeric field
// values (others count as 0); avg divides that sum by the array's length
// (0 when empty); min and max look at numeric values only, 0 when there
// are none.
func aggregate(src []any, op, field string) float64 {
	switch op {
	case "count":
		return float64(len(src))
	case "sum", "avg":
		sum := 0.0
		for _, item := range src {
			if n, ok := numericField(item, field); ok {
				sum += n
			}
		}
		if op == "avg" {
			if len(src) == 0 {
				return 0
			}
			return sum / float64(len(src))
		}
		return sum
	}
	found := false
	best := 0.0
	for _, item := range src {
		n, ok := numericField(item, field)
		if !ok {
			continue
		}
		if !found || (op == "min" && n < best) || (op == "max" && n > best) {
			best, found = n, true
		}
	}
	if best == 0 {
		best = math.Abs(best) // -0 is written 0
	}
	return best
}

// numericField is item[field] when item is an object and that is a number.
func numericField(item any, field string) (float64, bool) {
	m, ok := item.(map[string]any)
	if !ok {
		return 0, false
	}
	n, ok := m[field].(float64)
	return n, ok
}
