package rules

import (
	"context"
	"math"
	"testing"
)

func refCtx(t *testing.T) *execCtx {
	te := newTestEngine(t, Options{})
	te.setFact("order:7:status", "paid")
	te.setFact("cfg", obj(t, `{"a":1}`))
	return &execCtx{e: te.Engine, ctx: context.Background(), rule: &compiledRule{id: "t"},
		data:    obj(t, `{"orderId":7,"total":12.5,"ok":true,"nil":null,"o":{"k":"v"},"arr":[1,"a",null,[2,3]],"big":1e21,"small":1e-7,"neg":-0.5}`),
		matched: []map[string]any{obj(t, `{"orderId":7,"n":{"x":1}}`), obj(t, `{"orderId":8}`)},
		vars:    map[string]any{"item": obj(t, `{"sku":"A1"}`), "item_index": 2.0},
		lookups: map[string]any{"credit": obj(t, `{"score":720}`)},
	}
}

func TestInterpolation(t *testing.T) {
	t.Parallel()
	x := refCtx(t)
	cases := []struct{ in, want string }{
		{"order:${event.orderId}:status", "order:7:status"},
		{"plain text", "plain text"},
		{"${event.total}", "12.5"},
		{"${event.ok}/${event.nil}/${event.missing}", "true//"},
		{"${event.o}", "[object Object]"},
		{"${event.arr}", "1,a,,2,3"},
		{"${event.big}|${event.small}|${event.neg}", "1e+21|1e-7|-0.5"},
		{"${trigger.orderId}", "7"},
		{"${fact.order:${event.orderId}:status}", ":status}"}, // up to the first "}"
		{"${fact.order:7:status}", "paid"},
		{"${fact.nope}", ""},
		{"${var.item.sku}#${var.item_index}", "A1#2"},
		{"${matched.0.orderId}-${matched.1.orderId}-${matched.2.orderId}", "7-8-"},
		{"${matched.0.n.x}", "1"},
		{"${lookup.credit.score}", "720"},
		{"${}", "${}"},
		{"${ unterminated", "${ unterminated"},
		{"a${}b${event.orderId}", "a${}b7"},
		{"$${event.orderId}", "$7"},
	}
	for _, c := range cases {
		got, err := compileTemplate(c.in).render(x)
		if err != nil {
			t.Errorf("render(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("render(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// ":status}" above: the fact key "order:${event.orderId" is looked up
	// (absent → ""), then the rest is literal — the reference's regex.
	if _, err := compileTemplate("x${unknown.a}").render(x); err == nil || err.Error() != "Unknown reference source: unknown" {
		t.Fatalf("unknown prefix must fail, got %v", err)
	}
}

func TestActionRefs(t *testing.T) {
	t.Parallel()
	x := refCtx(t)
	cases := []struct {
		ref  string
		want any
	}{
		{"event.orderId", 7.0},
		{"trigger.o.k", "v"},
		{"event", x.data},
		{"fact.order:7:status", "paid"},
		{"fact.order:${event.orderId}:status", "paid"}, // key interpolated
		{"fact.cfg", x.e.factValue("cfg")},             // no deeper path
		{"fact.cfg.a", absent},
		{"var.item.sku", "A1"},
		{"var.item_index", 2.0},
		{"var.nope", absent},
		{"var", absent},
		{"matched.0.orderId", 7.0},
		{"matched.1", x.matched[1]},
		{"matched.5.orderId", absent},
		{"matched.x", absent},
		{"lookup.credit.score", 720.0},
		{"lookup.nope", absent},
	}
	for _, c := range cases {
		got, err := x.resolveRef(compileRef(c.ref))
		if err != nil {
			t.Errorf("%s: %v", c.ref, err)
			continue
		}
		if !sameValue(got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.ref, got, c.want)
		}
	}
	for _, bad := range []string{"bogus.x", "baseline.m", "data.x", ""} {
		if _, err := x.resolveRef(compileRef(bad)); err == nil {
			t.Errorf("%q: unknown reference source must fail", bad)
		}
	}
}

// sameValue compares resolved values: scalars by value, containers by
// identity.
func sameValue(a, b any) bool {
	if isAbsent(a) || isAbsent(b) {
		return isAbsent(a) && isAbsent(b)
	}
	return strictEqual(a, b)
}

func TestJSNumber(t *testing.T) {
	t.Parallel()
	cases := map[float64]string{
		0: "0", 1: "1", -1: "-1", 0.1: "0.1", 1.5: "1.5", 100: "100", 1e20: "100000000000000000000",
		1e21: "1e+21", 1.5e-7: "1.5e-7", 1e-6: "0.000001", 123456789012: "123456789012",
		math.Inf(1): "Infinity", math.Inf(-1): "-Infinity", math.NaN(): "NaN", math.Copysign(0, -1): "0",
	}
	a, b := 0.1, 0.2
	cases[a+b] = "0.30000000000000004"
	for f, want := range cases {
		if got := jsNumber(f); got != want {
			t.Errorf("jsNumber(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestGetPath(t *testing.T) {
	t.Parallel()
	root := obj(t, `{"a":{"b":[10,{"c":"x"}]},"s":"str","n":null}`)
	cases := []struct {
		path string
		want any
	}{
		{"a.b.0", 10.0},
		{"a.b.1.c", "x"},
		{"a.b.2", absent},
		{"a.b.-1", absent},
		{"a.b.length", 2.0},
		{"s.length", absent}, // strings are not objects
		{"n", nil},
		{"n.x", absent},
		{"missing.x", absent},
	}
	for _, c := range cases {
		got := getPath(root, splitPath(c.path))
		if !sameValue(got, c.want) {
			t.Errorf("getPath(%q) = %#v, want %#v", c.path, got, c.want)
		}
	}
	if getPath(root, nil).(map[string]any)["s"] != "str" {
		t.Fatal("empty path is the root")
	}
}
