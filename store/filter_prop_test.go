package store

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// A reference evaluator written directly from STORE.md §8 (with the Go
// decisions: no coercion, null relational operands never match) and §15
// step 1 (a missing parameter is "absent"). It works on plain decoded
// values and knows nothing about the compiled representation.

type refAbsentT struct{}

var refAbsent = refAbsentT{}

func refIsAbsent(v any) bool { _, ok := v.(refAbsentT); return ok }

func refStrictEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	}
	return false
}

func refIsOperatorObject(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return false
	}
	for k := range m {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}
	return true
}

// refCompare: number with number, string with string, else not comparable.
func refCompare(stored, operand any) (int, bool) {
	switch x := stored.(type) {
	case float64:
		y, ok := operand.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := operand.(string)
		if !ok {
			return 0, false
		}
		return CompareStrings(x, y), true
	}
	return 0, false
}

func refOp(op string, arg, v any, present bool) bool {
	switch op {
	case "$eq":
		return present && refStrictEqual(v, arg)
	case "$neq":
		return !(present && refStrictEqual(v, arg))
	case "$gt", "$gte", "$lt", "$lte":
		if !present || v == nil {
			return false
		}
		c, ok := refCompare(v, arg)
		if !ok {
			return false
		}
		switch op {
		case "$gt":
			return c > 0
		case "$gte":
			return c >= 0
		case "$lt":
			return c < 0
		}
		return c <= 0
	case "$in", "$nin":
		found := false
		for _, e := range arg.([]any) {
			if present && refStrictEqual(v, e) || !present && refIsAbsent(e) {
				found = true
			}
		}
		return found == (op == "$in")
	case "$contains":
		s, ok := v.(string)
		return ok && strings.Contains(strings.ToLower(s), strings.ToLower(arg.(string)))
	case "$startsWith":
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, arg.(string))
	case "$endsWith":
		s, ok := v.(string)
		return ok && strings.HasSuffix(s, arg.(string))
	case "$exists":
		return (present && v != nil) == arg.(bool)
	case "$between":
		if !present || v == nil {
			return false
		}
		b := arg.([]any)
		lo, ok1 := refCompare(v, b[0])
		hi, ok2 := refCompare(v, b[1])
		return ok1 && ok2 && lo >= 0 && hi <= 0
	}
	panic("unknown operator " + op)
}

func refMatch(f map[string]any, rec map[string]any) bool {
	for k, fv := range f {
		switch k {
		case "$and", "$or":
			if refIsAbsent(fv) {
				continue
			}
			n := 0
			subs := fv.([]any)
			for _, s := range subs {
				if refMatch(s.(map[string]any), rec) {
					n++
				}
			}
			if k == "$and" && n != len(subs) || k == "$or" && n == 0 {
				return false
			}
		default:
			v, present := rec[k]
			switch {
			case refIsOperatorObject(fv):
				for op, arg := range fv.(map[string]any) {
					if !refIsAbsent(arg) && !refOp(op, arg, v, present) {
						return false
					}
				}
			case refIsAbsent(fv):
				if present {
					return false
				}
			default:
				if !present || !refStrictEqual(v, fv) {
					return false
				}
			}
		}
	}
	return true
}

func refInterpolate(v any, params map[string]any) any {
	switch x := v.(type) {
	case string:
		for _, prefix := range []string{"{{ params.", "{{params."} {
			if rest, ok := strings.CutPrefix(x, prefix); ok {
				name := strings.TrimSuffix(strings.TrimSuffix(rest, "}}"), " ")
				if p, ok := params[name]; ok {
					return p
				}
				return refAbsent
			}
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = refInterpolate(e, params)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = refInterpolate(e, params)
		}
		return out
	}
	return v
}

// Random generation.

type filtGen struct {
	r      *rand.Rand
	params map[string]any
	np     int
}

var filtGenStrings = []string{"", "a", "A", "ab", "aB", "b", "ba", "é", "É", "éa", "😀", "｡", "1", "10", "2", "null", "x y"}

func (g *filtGen) scalar() any {
	switch g.r.IntN(10) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2, 3, 4:
		return []float64{-1, 0, 1, 2, 2.5, 10}[g.r.IntN(6)]
	default:
		return filtGenStrings[g.r.IntN(len(filtGenStrings))]
	}
}

func (g *filtGen) value() any {
	switch g.r.IntN(14) {
	case 0:
		return map[string]any{}
	case 1:
		return []any{1.0}
	case 2:
		return map[string]any{"x": 1.0}
	}
	return g.scalar()
}

// maybeParam sometimes replaces v by a placeholder whose parameter is v,
// or is missing.
func (g *filtGen) maybeParam(v any) any {
	if g.params == nil || g.r.IntN(6) != 0 {
		return v
	}
	name := fmt.Sprintf("p%d", g.np)
	g.np++
	if g.r.IntN(3) != 0 {
		g.params[name] = v
	}
	if g.r.IntN(2) == 0 {
		return "{{ params." + name + " }}"
	}
	return "{{params." + name + "}}"
}

func (g *filtGen) list(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = g.maybeParam(g.value())
	}
	return out
}

func (g *filtGen) operand(op string) any {
	switch op {
	case "$in", "$nin":
		return g.list(g.r.IntN(15))
	case "$between":
		return g.list(2)
	case "$exists":
		return g.r.IntN(2) == 0
	case "$contains", "$startsWith", "$endsWith":
		return filtGenStrings[g.r.IntN(len(filtGenStrings))]
	}
	return g.maybeParam(g.value())
}

var filtGenOps = []string{"$eq", "$neq", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$startsWith", "$endsWith", "$exists", "$between"}

func (g *filtGen) filter(depth int) map[string]any {
	f := map[string]any{}
	for range g.r.IntN(4) {
		switch k := g.r.IntN(10); {
		case k < 2 && depth < 3:
			subs := make([]any, g.r.IntN(4))
			for i := range subs {
				subs[i] = g.filter(depth + 1)
			}
			f[[]string{"$and", "$or"}[k]] = subs
		case k < 5:
			f[[]string{"a", "b", "c"}[g.r.IntN(3)]] = g.maybeParam(g.value())
		default:
			ops := map[string]any{}
			for range 1 + g.r.IntN(3) {
				op := filtGenOps[g.r.IntN(len(filtGenOps))]
				ops[op] = g.operand(op)
			}
			f[[]string{"a", "b", "c"}[g.r.IntN(3)]] = ops
		}
	}
	return f
}

func (g *filtGen) record() map[string]any {
	rec := map[string]any{}
	for _, k := range []string{"a", "b", "c"} {
		if g.r.IntN(10) < 7 {
			rec[k] = g.value()
		}
	}
	return rec
}

func TestFilterMatchesReference(t *testing.T) {
	seed := uint64(20240601)
	r := rand.New(rand.NewPCG(seed, 7))
	const nFilters, nRecords = 3000, 25
	matched, total := 0, 0
	for i := range nFilters {
		g := &filtGen{r: r}
		withParams := i%2 == 1
		if withParams {
			g.params = map[string]any{}
		}
		tmpl := g.filter(0)
		raw, err := json.Marshal(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		var f *Filter
		if withParams {
			f, err = CompileQueryFilter(raw, g.params)
		} else {
			f, err = CompileFilter(raw)
		}
		if err != nil {
			t.Fatalf("compile %s: %v", raw, err)
		}
		// the decoded path must agree as well
		g2, err := CompileFilterValue(Interpolate(tmpl, g.params).(map[string]any))
		if err != nil {
			t.Fatalf("CompileFilterValue %s: %v", raw, err)
		}
		want := refInterpolate(tmpl, g.params).(map[string]any)
		for range nRecords {
			rec := g.record()
			exp := refMatch(want, rec)
			total++
			if exp {
				matched++
			}
			if got := f.Match(rec); got != exp {
				recJSON, _ := json.Marshal(rec)
				paramJSON, _ := json.Marshal(g.params)
				t.Fatalf("filter %s params %s record %s: Match=%v reference=%v", raw, paramJSON, recJSON, got, exp)
			}
			if got := g2.Match(rec); got != exp {
				recJSON, _ := json.Marshal(rec)
				t.Fatalf("decoded filter %s record %s: Match=%v reference=%v", raw, recJSON, got, exp)
			}
			if field, value, ok := f.IndexCandidate(func(string) bool { return true }); ok && exp {
				if v, present := rec[field]; !present || !StrictEqual(v, value) {
					t.Fatalf("filter %s: index candidate %s=%v but match record has %v", raw, field, value, v)
				}
			}
		}
	}
	// the generator must produce both outcomes in healthy proportions
	if matched < total/20 || matched > total*19/20 {
		t.Fatalf("unbalanced generator: %d of %d matched", matched, total)
	}
	t.Logf("%d filter/record pairs, %d matched", total, matched)
}
