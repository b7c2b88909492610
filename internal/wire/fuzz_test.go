package wire

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// parseSeeds are the §1.10 examples plus inputs near every check boundary.
var parseSeeds = []string{
	// PROTOCOL.md examples.
	`not json`,
	`[1,2]`,
	`{"id":5}`,
	`{"id":"x","type":"store.all"}`,
	`{ "id": 7, "type": "store.get", "bucket": "users", "key": "u-1" }`,
	`{ "type": "pong", "timestamp": 1735689630000 }`,
	`{"id":1,"type":"ping"}`,
	`{"id":1e400,"type":"store.all"}`,
	`{"type":"pong","timestamp":1e400}`,
	// Check order and case.
	`{"type":"pong"}`,
	`{"id":"x"}`,
	`{"ID":1,"TYPE":"a"}`,
	`{"id":3,"type":"pong"}`,
	`{"id":"x","type":"pong","timestamp":1}`,
	`{"type":"Pong","timestamp":1}`,
	`{}`,
	`{"id":1,"type":""}`,
	`{"id":1,"type":null}`,
	// Duplicates.
	`{"id":1,"type":"a","id":2}`,
	`{"id":1,"type":"a","id":"x"}`,
	`{"type":"a","type":"","id":1}`,
	// Numbers.
	`{"id":1.0,"type":"a"}`,
	`{"id":-0,"type":"a"}`,
	`{"id":1e21,"type":"a"}`,
	`{"id":1e-7,"type":"a"}`,
	`{"id":123456789012,"type":"a"}`,
	`{"id":0.1,"type":"a"}`,
	`{"id":1e-400,"type":"a"}`,
	`{"id":5e-324,"type":"a"}`,
	`{"id":1.7976931348623157e308,"type":"a"}`,
	`{"id":1.7976931348623159e308,"type":"a"}`,
	`{"id":9007199254740993,"type":"a"}`,
	`{"id":01,"type":"a"}`,
	`{"id":NaN,"type":"a"}`,
	`{"id":Infinity,"type":"a"}`,
	`{"id":-Infinity,"type":"a"}`,
	`{"id":+1,"type":"a"}`,
	`{"id":.5,"type":"a"}`,
	`{"id":0x1p-2,"type":"a"}`,
	`{"id":1_000,"type":"a"}`,
	// Whitespace, escapes, encodings.
	" \t\r\n{\"id\":1,\"type\":\"a\"} \n",
	"\ufeff{\"id\":1,\"type\":\"a\"}",
	"\v{\"id\":1,\"type\":\"a\"}",
	`{"\u0069d":4,"\u0074ype":"\u0070ong","timestamp":1}`,
	`{"id":1,"type":"\ud800"}`,
	"{\"id\":1,\"type\":\"\xff\xfe\"}",
	"{\"id\":1,\"type\":\"a\x00\"}",
	`{"id":1,"type":"<script>&</script>","x":"\u2028"}`,
	// Other top-level values.
	``, ` `, `null`, `true`, `false`, `0`, `-1.5e3`, `"{}"`, `[]`, `[{"id":1,"type":"a"}]`,
	`{"id":1,"type":"a"}{}`,
	`{"id":1,"type":"a",}`,
	// Nesting.
	`{"id":1,"type":"a","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"id":1,"type":"a","x":` + strings.Repeat(`{"a":`, 64) + `1` + strings.Repeat("}", 64) + `}`,
}

// FuzzParse checks that Parse never panics, always classifies a frame as
// one of the three kinds, agrees with an independent reading of §1.10, and
// that every answer it leads to is a valid frame.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		orig := append([]byte(nil), payload...)
		in := Parse(payload)
		if !bytes.Equal(orig, payload) {
			t.Fatalf("Parse modified its input")
		}
		want := referenceParse(payload)
		if in.Kind != want.Kind {
			t.Fatalf("Parse(%q).Kind = %v, reference %v (err %v, want %v)", payload, in.Kind, want.Kind, in.Err, want.Err)
		}
		if in.ID != want.ID {
			t.Fatalf("Parse(%q).ID = %#v, reference %#v", payload, in.ID, want.ID)
		}
		switch in.Kind {
		case KindInvalid:
			checkInvalid(t, payload, in, want)
		case KindRequest:
			checkRequest(t, payload, in, want)
		case KindPong:
			if in.Err != nil || in.Fields != nil || in.Type != "" || in.ID != ZeroID {
				t.Fatalf("Parse(%q): pong with extras %+v", payload, in)
			}
			if math.IsNaN(in.Timestamp) || math.IsInf(in.Timestamp, 0) {
				t.Fatalf("Parse(%q): pong timestamp %v is not finite", payload, in.Timestamp)
			}
			if in.Timestamp != want.Timestamp {
				t.Fatalf("Parse(%q).Timestamp = %v, reference %v", payload, in.Timestamp, want.Timestamp)
			}
		default:
			t.Fatalf("Parse(%q).Kind = %d, not one of the three kinds", payload, in.Kind)
		}
	})
}

func checkInvalid(t *testing.T, payload []byte, in, want Inbound) {
	t.Helper()
	if in.Err == nil {
		t.Fatalf("Parse(%q): KindInvalid without Err", payload)
	}
	if in.Err.Code != want.Err.Code || in.Err.Message != want.Err.Message {
		t.Fatalf("Parse(%q).Err = %s %q, reference %s %q", payload, in.Err.Code, in.Err.Message, want.Err.Code, want.Err.Message)
	}
	if in.Fields != nil || in.Type != "" {
		t.Fatalf("Parse(%q): invalid frame with Type %q Fields %v", payload, in.Type, in.Fields)
	}
	for _, withDetails := range []bool{false, true} {
		frame := EncodeError(in.ID, in.Err, withDetails)
		if !json.Valid(frame) {
			t.Fatalf("error frame for %q is not valid JSON: %s", payload, frame)
		}
		obj := decodeObject(t, frame)
		if len(obj) != 4 {
			t.Fatalf("error frame for %q has %d keys: %s", payload, len(obj), frame)
		}
		idNum, ok := obj["id"].(json.Number)
		if !ok {
			t.Fatalf("error frame id is not a number: %s", frame)
		}
		if v, err := strconv.ParseFloat(string(idNum), 64); err != nil || math.IsInf(v, 0) {
			t.Fatalf("error frame id %s is not finite: %v", idNum, err)
		}
		if obj["type"] != "error" || obj["code"] != string(in.Err.Code) || obj["message"] != in.Err.Message {
			t.Fatalf("error frame for %q: %s", payload, frame)
		}
	}
}

func checkRequest(t *testing.T, payload []byte, in, want Inbound) {
	t.Helper()
	if in.Err != nil {
		t.Fatalf("Parse(%q): request with Err %v", payload, in.Err)
	}
	if in.Type == "" || in.Type == typePong || in.Type != want.Type {
		t.Fatalf("Parse(%q).Type = %q, reference %q", payload, in.Type, want.Type)
	}
	if _, ok := in.Fields["id"]; !ok {
		t.Fatalf("Parse(%q): Fields lacks id", payload)
	}
	if _, ok := in.Fields["type"]; !ok {
		t.Fatalf("Parse(%q): Fields lacks type", payload)
	}
	if len(in.Fields) != len(want.Fields) {
		t.Fatalf("Parse(%q): %d fields, reference %d", payload, len(in.Fields), len(want.Fields))
	}
	for k, raw := range in.Fields {
		if !json.Valid(raw) {
			t.Fatalf("Parse(%q): field %q is not valid JSON: %q", payload, k, raw)
		}
		if _, ok := want.Fields[k]; !ok {
			t.Fatalf("Parse(%q): field %q unknown to the reference", payload, k)
		}
	}
	for _, data := range []any{nil, Absent, in.Fields["type"], in.Fields} {
		frame, err := EncodeResult(in.ID, data)
		if err != nil {
			t.Fatalf("EncodeResult(%s, %T) for %q: %v", in.ID, data, payload, err)
		}
		if !json.Valid(frame) {
			t.Fatalf("result frame for %q is not valid JSON: %s", payload, frame)
		}
		obj := decodeObject(t, frame)
		if obj["type"] != "result" {
			t.Fatalf("result frame for %q: %s", payload, frame)
		}
		if _, has := obj["data"]; has == (data == Absent) {
			t.Fatalf("result frame for %q: data key presence wrong: %s", payload, frame)
		}
		idNum, ok := obj["id"].(json.Number)
		if !ok {
			t.Fatalf("result frame id is not a number: %s", frame)
		}
		echoed, err := strconv.ParseFloat(string(idNum), 64)
		if err != nil || math.IsInf(echoed, 0) || math.IsNaN(echoed) {
			t.Fatalf("result frame id %s is not finite: %v", idNum, err)
		}
		sent, _ := strconv.ParseFloat(string(in.Fields["id"]), 64)
		if echoed != sent {
			t.Fatalf("id %s echoed as %s (value %v != %v)", in.Fields["id"], idNum, echoed, sent)
		}
		if js := jsNumberString(sent); string(idNum) != js {
			t.Fatalf("id %s echoed as %s, JavaScript writes %s", in.Fields["id"], idNum, js)
		}
	}
	// The echo is a fixed point: a request carrying the echoed id echoes
	// the same text.
	again := Parse([]byte(`{"id":` + in.ID.String() + `,"type":"a"}`))
	if again.Kind != KindRequest || again.ID != in.ID {
		t.Fatalf("echoed id %s does not round-trip: %#v", in.ID, again.ID)
	}
}

func decodeObject(t *testing.T, frame []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(frame))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		t.Fatalf("frame %s is not a JSON object: %v", frame, err)
	}
	return obj
}

// referenceParse is a deliberately naive, independent reading of §1.10 and
// COMPATIBILITY.md P§11 #1, used as an oracle by FuzzParse.
func referenceParse(payload []byte) Inbound {
	bad := func(id ID, code Code, msg string) Inbound {
		return Inbound{Kind: KindInvalid, ID: id, Err: NewError(code, msg)}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return bad(ZeroID, CodeParseError, MsgInvalidJSON)
	}
	if _, err := dec.Token(); err != io.EOF {
		// Something follows the first value.
		return bad(ZeroID, CodeParseError, MsgInvalidJSON)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return bad(ZeroID, CodeParseError, MsgNotObject)
	}
	finite := func(x any) (float64, bool) {
		n, ok := x.(json.Number)
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
		return f, true
	}
	echo := ZeroID
	idVal, idOK := finite(obj["id"])
	if idOK && idVal != 0 {
		echo = ID{text: jsNumberString(idVal)}
	}
	typ, _ := obj["type"].(string)
	if typ == "" {
		return bad(echo, CodeInvalidRequest, MsgMissingType)
	}
	if typ == "pong" {
		ts, ok := finite(obj["timestamp"])
		if !ok {
			return bad(echo, CodeInvalidRequest, MsgBadPongTime)
		}
		return Inbound{Kind: KindPong, Timestamp: ts}
	}
	if !idOK {
		return bad(ZeroID, CodeInvalidRequest, MsgMissingID)
	}
	fields := make(map[string]json.RawMessage, len(obj))
	for k := range obj {
		fields[k] = nil
	}
	return Inbound{Kind: KindRequest, ID: echo, Type: typ, Fields: fields}
}

// jsNumberString is ECMAScript's Number::toString (ECMA-262 §6.1.6.1.20)
// for a finite double, written independently of formatNumber: k significant
// digits s, decimal exponent n.
func jsNumberString(v float64) string {
	if v == 0 {
		return "0"
	}
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	e := strconv.FormatFloat(v, 'e', -1, 64) // d.ddddde±xx
	mant, expPart, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expPart)
	k, n := len(digits), exp+1
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	expSign := "+"
	if n-1 < 0 {
		expSign = "-"
	}
	m := digits[:1]
	if k > 1 {
		m += "." + digits[1:]
	}
	return sign + m + "e" + expSign + strconv.Itoa(abs(n-1))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// FuzzEncodeRoundTrip checks that every outbound frame is valid JSON that
// decodes back to what was put in, whatever the strings and numbers.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add(7.0, "store.get", "Bucket \"nope\" is not defined", int64(5000), true)
	f.Add(0.1, "<script>&amp;</script>", "\u2028\u2029", int64(-1), false)
	f.Add(1e21, "", "", int64(0), true)
	f.Add(1e-7, "\xff\xfe", "a\x00b", int64(math.MaxInt64), false)
	f.Add(math.Copysign(0, -1), "\xed\xa0\x80", "\\\"", int64(math.MinInt64), true)
	f.Add(123456789012.0, "日本語", "😀", int64(1735689600000), false)
	f.Fuzz(func(t *testing.T, idv float64, s1, s2 string, n int64, flag bool) {
		id := NumberID(idv)
		finite := !math.IsNaN(idv) && !math.IsInf(idv, 0)
		wantID := "0"
		if finite {
			wantID = jsNumberString(idv)
		}
		if id.String() != wantID {
			t.Fatalf("NumberID(%v) = %s, JavaScript writes %s", idv, id, wantID)
		}
		if again := Parse([]byte(`{"id":` + id.String() + `,"type":"a"}`)); again.Kind != KindRequest || again.ID != id {
			t.Fatalf("id %s does not round-trip through Parse: %#v", id, again.ID)
		}
		same := func(got any, want string) bool {
			if !utf8.ValidString(want) {
				return true // encoding/json substitutes U+FFFD; only validity is checked
			}
			return got == want
		}
		checkID := func(frame []byte, obj map[string]any) {
			n, ok := obj["id"].(json.Number)
			if !ok || string(n) != wantID {
				t.Fatalf("frame %s: id %v, want %s", frame, obj["id"], wantID)
			}
		}

		res, err := EncodeResult(id, map[string]any{"s": s1, "n": n, "b": flag})
		if err != nil {
			t.Fatal(err)
		}
		obj := decodeFrame(t, res)
		checkID(res, obj)
		data, _ := obj["data"].(map[string]any)
		if data == nil || !same(data["s"], s1) || data["b"] != flag || data["n"].(json.Number).String() != strconv.FormatInt(n, 10) {
			t.Fatalf("result frame %s does not hold its data", res)
		}

		e := &Error{Code: Code(s1), Message: s2, Details: []string{s1, s2}}
		frame := EncodeError(id, e, flag)
		obj = decodeFrame(t, frame)
		checkID(frame, obj)
		if obj["type"] != "error" || !same(obj["code"], s1) || !same(obj["message"], s2) {
			t.Fatalf("error frame %s", frame)
		}
		if _, has := obj["details"]; has != flag {
			t.Fatalf("error frame %s: details present %v, want %v", frame, has, flag)
		}

		pushData, err := Marshal(s2)
		if err != nil {
			t.Fatal(err)
		}
		frame = EncodePush(s1, s2, pushData)
		obj = decodeFrame(t, frame)
		if obj["type"] != "push" || !same(obj["channel"], s1) || !same(obj["subscriptionId"], s2) || !same(obj["data"], s2) {
			t.Fatalf("push frame %s", frame)
		}

		for _, frame := range [][]byte{
			EncodeWelcome(n, flag), EncodePing(n), EncodeShutdown(n), EncodeEventsDropped(s1, n),
			EncodePush(s1, s2, nil),
		} {
			obj = decodeFrame(t, frame)
			if _, ok := obj["type"].(string); !ok {
				t.Fatalf("frame %s has no type", frame)
			}
		}
	})
}

func decodeFrame(t *testing.T, frame []byte) map[string]any {
	t.Helper()
	if !json.Valid(frame) {
		t.Fatalf("frame is not valid JSON: %q", frame)
	}
	if bytes.ContainsAny(frame, "\n\r\t") || bytes.HasSuffix(frame, []byte(" ")) {
		t.Fatalf("frame is not compact: %q", frame)
	}
	return decodeObject(t, frame)
}

func TestJSNumberString(t *testing.T) {
	// Known outputs of JavaScript's String(number).
	cases := map[float64]string{
		1: "1", -1: "-1", 0.1: "0.1", 1e21: "1e+21", 1e20: "100000000000000000000",
		1e-7: "1e-7", 1e-6: "0.000001", 123456789012: "123456789012", 1.5e-10: "1.5e-10",
		-2.5e300: "-2.5e+300", 5e-324: "5e-324", 0.000123: "0.000123", 123.456: "123.456",
		1.7976931348623157e308: "1.7976931348623157e+308", 1.2345e21: "1.2345e+21",
	}
	for v, want := range cases {
		if got := jsNumberString(v); got != want {
			t.Errorf("jsNumberString(%v) = %s, want %s", v, got, want)
		}
		if got := NumberID(v).String(); got != want {
			t.Errorf("NumberID(%v) = %s, want %s", v, got, want)
		}
	}
}
