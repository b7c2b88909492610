package procedures

import (
	"fmt"
	"testing"

	"github.com/noex-go/noex/store"
)

func TestProcedureReferences(t *testing.T) {
	t.Parallel()
	results := &Results{}
	order := map[string]any{"id": "o1", "total": 150.0, "items": []any{map[string]any{"sku": "a"}, "x"}, "none": nil}
	results.Set("order", order)
	results.Set("total", 150.0)
	results.Set("list", []any{1.0, 2.0, 3.0})
	results.Set("flag", false)
	sc := &scope{input: map[string]any{"id": "o1", "n": 5.0, "nested": map[string]any{"deep": true}}, results: results}
	cases := []struct {
		tmpl any
		want string // Go syntax of the resolved value; "absent" for Absent
	}{
		{"{{ input.id }}", `"o1"`},
		{"{{input.n}}", `5`},                         // type preserved
		{"{{   input.nested   }}", `map[deep:true]`}, // objects too
		{"{{ input.nested.deep }}", `true`},
		{"{{ input.missing }}", `absent`},
		{"{{ input.missing.deeper }}", `absent`},
		{"{{ input.id.length }}", `absent`}, // strings have no properties here
		{"{{ order.total }}", `150`},
		{"{{ order.items.length }}", `2`},
		{"{{ order.items.0.sku }}", `"a"`},
		{"{{ order.items.1.sku }}", `absent`},
		{"{{ order.items.7 }}", `absent`},
		{"{{ order.none }}", `<nil>`},
		{"{{ order.none.x }}", `absent`},
		{"{{ list.length }}", `3`},
		{"{{ flag }}", `false`},
		{"{{ nothing }}", `absent`},
		{"{{ input }}", `map[id:o1 n:5 nested:map[deep:true]]`},
		{"Total: {{ total }}", `"Total: 150"`},
		{"{{ total }}{{ total }}", `"150150"`},
		{"a {{ input.missing }}|{{ order.none }}|{{ flag }}|{{ input.nested }}|{{ list }}", `"a ||false|{\"deep\":true}|[1,2,3]"`},
		{"no placeholder {{ }} {{", `"no placeholder  {{"`},
		{"{{}}", `"{{}}"`},
		{"{ {x} }", `"{ {x} }"`},
		{"{{a}b}}", `"{{a}b}}"`},
		{"x{{{ input.id }}}", `"x}"`}, // the path is "{ input.id": nothing; the last "}" is text
		{5.0, `5`},
		{nil, `<nil>`},
		{true, `true`},
		{map[string]any{"k": "{{ input.n }}", "l": []any{"{{ total }}", "t"}}, `map[k:5 l:[150 t]]`},
	}
	for _, c := range cases {
		got := compileTemplate(c.tmpl).resolve(sc)
		s := fmt.Sprintf("%#v", got)
		switch {
		case store.IsAbsent(got):
			s = "absent"
		default:
			if _, ok := got.(string); !ok {
				s = fmt.Sprint(got)
			}
			if got == nil {
				s = "<nil>"
			}
		}
		if want := c.want; s != want {
			t.Errorf("%v → %s, want %s", c.tmpl, s, want)
		}
	}
	// An exact placeholder yields the stored value itself (so eq can
	// compare identity); literal parts are shared, never modified.
	if got := compileTemplate("{{ order }}").resolve(sc).(map[string]any); fmt.Sprintf("%p", got) != fmt.Sprintf("%p", order) {
		t.Fatal("exact placeholder copied the value")
	}
}

func TestProcedureMaterialize(t *testing.T) {
	t.Parallel()
	v := map[string]any{"a": Absent, "b": []any{Absent, 1.0}, "c": map[string]any{"d": Absent}}
	got, err := store.AppendResult(nil, Materialize(v))
	if err != nil || string(got) != `{"b":[null,1],"c":{}}` {
		t.Fatalf("Materialize → %s %v", got, err)
	}
	if !store.IsAbsent(Materialize(Absent)) {
		t.Fatal("top-level absent is not kept")
	}
}

func TestProcedureInputValidation(t *testing.T) {
	t.Parallel()
	def := mustParse(t, `{"name":"p","input":{
		"s":{"type":"string"},"n":{"type":"number","default":7},"b":{"type":"boolean","required":false},
		"o":{"type":"object","required":true},"a":{"type":"array","required":false,"default":null}},
		"steps":[{"action":"return","value":"{{ input }}"}]}`)
	cases := []struct{ input, want string }{
		{`{"s":"x","o":{}}`, `{"a":null,"n":7,"o":{},"s":"x"}`},
		{`{"s":"x","o":{},"n":null,"extra":[1]}`, `{"a":null,"extra":[1],"n":7,"o":{},"s":"x"}`},
		{`{"s":"x","o":{},"b":null}`, `{"a":null,"b":null,"n":7,"o":{},"s":"x"}`},
		{``, `Invalid procedure input: Missing required input "s"; Missing required input "o"`},
		{`"text"`, `Invalid procedure input: Missing required input "s"; Missing required input "o"`},
		{`{"s":1,"o":[],"b":"no","a":{},"n":"5"}`, `Invalid procedure input: Input "s": expected string, got number; Input "n": expected number, got string; Input "b": expected boolean, got string; Input "o": expected object, got object; Input "a": expected array, got object`},
		{`{"s":true,"o":"x"}`, `Invalid procedure input: Input "s": expected string, got boolean; Input "o": expected object, got string`},
	}
	h := newHarness(t)
	for _, c := range cases {
		var in any
		if c.input != "" {
			in, _ = store.DecodeJSON([]byte(c.input))
		}
		res, err := h.runner.Call(t.Context(), def, in, h.env())
		if err != nil {
			if err.Error() != c.want {
				t.Errorf("input %s: %v, want %s", c.input, err, c.want)
			}
			if ie, ok := err.(*InputError); !ok || len(ie.Issues) == 0 {
				t.Errorf("input %s: error %T", c.input, err)
			}
			continue
		}
		b, _ := store.AppendResult(nil, Materialize(res.Value))
		if string(b) != c.want {
			t.Errorf("input %s → %s, want %s", c.input, b, c.want)
		}
	}
	// Without a schema the input is used as is; a non-object is {}.
	free := mustParse(t, `{"name":"p","steps":[{"action":"return","value":"{{ input }}"}]}`)
	for in, want := range map[string]string{`{"x":[1]}`: `{"x":[1]}`, `[1,2]`: `{}`, `null`: `{}`} {
		v, _ := store.DecodeJSON([]byte(in))
		res, err := h.runner.Call(t.Context(), free, v, h.env())
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := store.AppendResult(nil, res.Value); string(b) != want {
			t.Errorf("schemaless %s → %s", in, b)
		}
	}
}
