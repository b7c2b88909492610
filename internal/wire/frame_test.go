package wire

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// parseCase is one row of the §1.10 tables. For KindInvalid, code/msg/id
// describe the error frame; for KindRequest, id/typ the request; for
// KindPong, ts the timestamp.
type parseCase struct {
	name string
	in   string
	kind Kind
	code Code
	msg  string
	id   string // expected ID.String()
	typ  string
	ts   float64
}

func parseErr(name, in string, code Code, msg, id string) parseCase {
	return parseCase{name: name, in: in, kind: KindInvalid, code: code, msg: msg, id: id}
}

func parseReq(name, in, id, typ string) parseCase {
	return parseCase{name: name, in: in, kind: KindRequest, id: id, typ: typ}
}

func parsePong(name, in string, ts float64) parseCase {
	return parseCase{name: name, in: in, kind: KindPong, id: "0", ts: ts}
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse([]byte(tc.in))
			if got.Kind != tc.kind {
				t.Fatalf("Parse(%q).Kind = %v, want %v (err=%v)", tc.in, got.Kind, tc.kind, got.Err)
			}
			if s := got.ID.String(); s != tc.id {
				t.Errorf("Parse(%q).ID = %s, want %s", tc.in, s, tc.id)
			}
			switch tc.kind {
			case KindInvalid:
				if got.Err == nil {
					t.Fatalf("Parse(%q): KindInvalid without Err", tc.in)
				}
				if got.Err.Code != tc.code || got.Err.Message != tc.msg {
					t.Errorf("Parse(%q).Err = %s / %q, want %s / %q", tc.in, got.Err.Code, got.Err.Message, tc.code, tc.msg)
				}
				if got.Err.Details != nil {
					t.Errorf("Parse(%q): shape error has details %v", tc.in, got.Err.Details)
				}
				if got.Fields != nil || got.Type != "" {
					t.Errorf("Parse(%q): invalid frame carries Type %q / Fields %v", tc.in, got.Type, got.Fields)
				}
			case KindRequest:
				if got.Err != nil {
					t.Errorf("Parse(%q): request with Err %v", tc.in, got.Err)
				}
				if got.Type != tc.typ {
					t.Errorf("Parse(%q).Type = %q, want %q", tc.in, got.Type, tc.typ)
				}
				if got.Fields == nil {
					t.Errorf("Parse(%q): request without Fields", tc.in)
				}
			case KindPong:
				if got.Err != nil {
					t.Errorf("Parse(%q): pong with Err %v", tc.in, got.Err)
				}
				if got.Timestamp != tc.ts || math.Signbit(got.Timestamp) != math.Signbit(tc.ts) {
					t.Errorf("Parse(%q).Timestamp = %v, want %v", tc.in, got.Timestamp, tc.ts)
				}
				if got.Fields != nil {
					t.Errorf("Parse(%q): pong carries Fields", tc.in)
				}
			}
		})
	}
}

// Step 1: the payload parses as JSON.
func TestParseStep1InvalidJSON(t *testing.T) {
	const c, m = CodeParseError, MsgInvalidJSON
	runParseCases(t, []parseCase{
		parseErr("spec example", "not json", c, m, "0"),
		parseErr("empty payload", "", c, m, "0"),
		parseErr("only whitespace", " \t\r\n", c, m, "0"),
		parseErr("unterminated object", `{"id":1,"type":"a"`, c, m, "0"),
		parseErr("extra closing brace", `{"id":1,"type":"a"}}`, c, m, "0"),
		parseErr("two values", `{"id":1,"type":"a"} {"id":2,"type":"b"}`, c, m, "0"),
		parseErr("two values without space", `{"id":1,"type":"a"}{}`, c, m, "0"),
		parseErr("trailing comma", `{"id":1,"type":"a",}`, c, m, "0"),
		parseErr("single quotes", `{'id':1,'type':'a'}`, c, m, "0"),
		parseErr("unquoted keys", `{id:1,type:"a"}`, c, m, "0"),
		parseErr("leading zero", `{"id":01,"type":"a"}`, c, m, "0"),
		parseErr("negative leading zero", `{"id":-01,"type":"a"}`, c, m, "0"),
		parseErr("plus sign", `{"id":+1,"type":"a"}`, c, m, "0"),
		parseErr("leading dot", `{"id":.5,"type":"a"}`, c, m, "0"),
		parseErr("trailing dot", `{"id":1.,"type":"a"}`, c, m, "0"),
		parseErr("empty exponent", `{"id":1e,"type":"a"}`, c, m, "0"),
		parseErr("hex number", `{"id":0x10,"type":"a"}`, c, m, "0"),
		parseErr("lone minus", `{"id":-,"type":"a"}`, c, m, "0"),
		parseErr("NaN literal", `{"id":NaN,"type":"a"}`, c, m, "0"),
		parseErr("Infinity literal", `{"id":Infinity,"type":"a"}`, c, m, "0"),
		parseErr("-Infinity literal", `{"id":-Infinity,"type":"a"}`, c, m, "0"),
		parseErr("pong NaN timestamp", `{"type":"pong","timestamp":NaN}`, c, m, "0"),
		parseErr("undefined literal", `{"id":1,"type":"a","x":undefined}`, c, m, "0"),
		parseErr("capitalised literal", `{"id":1,"type":"a","x":True}`, c, m, "0"),
		parseErr("line comment", "{\"id\":1,\"type\":\"a\"} // hi", c, m, "0"),
		parseErr("block comment", `{/* c */"id":1,"type":"a"}`, c, m, "0"),
		parseErr("raw control char in string", "{\"id\":1,\"type\":\"a\tb\"}", c, m, "0"),
		parseErr("bad escape", `{"id":1,"type":"\x"}`, c, m, "0"),
		parseErr("short unicode escape", `{"id":1,"type":"\u12"}`, c, m, "0"),
		parseErr("byte order mark", "\ufeff{\"id\":1,\"type\":\"a\"}", c, m, "0"),
		parseErr("NUL byte", "\x00", c, m, "0"),
		parseErr("non-breaking space is not whitespace", "\u00a0{\"id\":1,\"type\":\"a\"}", c, m, "0"),
		parseErr("vertical tab is not whitespace", "\v{\"id\":1,\"type\":\"a\"}", c, m, "0"),
		parseErr("form feed is not whitespace", "\f{\"id\":1,\"type\":\"a\"}", c, m, "0"),
		// A parse failure never echoes an id, even one that looks usable.
		parseErr("usable id but broken", `{"id":7,"type":"a",`, c, m, "0"),
	})
}

// Step 2: the parsed value is an object.
func TestParseStep2NotObject(t *testing.T) {
	const c, m = CodeParseError, MsgNotObject
	runParseCases(t, []parseCase{
		parseErr("spec example array", `[1,2]`, c, m, "0"),
		parseErr("empty array", `[]`, c, m, "0"),
		parseErr("array holding a request", `[{"id":1,"type":"a"}]`, c, m, "0"),
		parseErr("null", `null`, c, m, "0"),
		parseErr("string", `"hello"`, c, m, "0"),
		parseErr("string that looks like an object", `"{\"id\":1,\"type\":\"a\"}"`, c, m, "0"),
		parseErr("integer", `42`, c, m, "0"),
		parseErr("negative number", `-1.5e3`, c, m, "0"),
		parseErr("true", `true`, c, m, "0"),
		parseErr("false", `false`, c, m, "0"),
		parseErr("whitespace around array", " \n[ ] \t", c, m, "0"),
		parseErr("whitespace around null", "\r\nnull\r\n", c, m, "0"),
	})
}

// Step 3: "type" is a non-empty string. The error echoes a finite id
// (COMPATIBILITY.md P§11 #1) and otherwise carries 0.
func TestParseStep3Type(t *testing.T) {
	const c, m = CodeInvalidRequest, MsgMissingType
	runParseCases(t, []parseCase{
		parseErr("spec example: id only", `{"id":5}`, c, m, "5"),
		parseErr("empty object", `{}`, c, m, "0"),
		parseErr("empty object with whitespace", " { } ", c, m, "0"),
		parseErr("bad id checked after type", `{"id":"x"}`, c, m, "0"),
		parseErr("null id, no type", `{"id":null}`, c, m, "0"),
		parseErr("overflowing id, no type", `{"id":1e400}`, c, m, "0"),
		parseErr("empty type", `{"id":1,"type":""}`, c, m, "1"),
		parseErr("null type", `{"id":2,"type":null}`, c, m, "2"),
		parseErr("number type", `{"id":3,"type":1}`, c, m, "3"),
		parseErr("boolean type", `{"id":4,"type":true}`, c, m, "4"),
		parseErr("array type", `{"id":5,"type":["store.get"]}`, c, m, "5"),
		parseErr("object type", `{"id":6,"type":{"name":"store.get"}}`, c, m, "6"),
		parseErr("fractional id echoed", `{"id":1.5,"type":""}`, c, m, "1.5"),
		parseErr("negative id echoed", `{"id":-3}`, c, m, "-3"),
		parseErr("uppercase keys are other keys", `{"ID":1,"TYPE":"a"}`, c, m, "0"),
		parseErr("uppercase TYPE with usable id", `{"id":1,"TYPE":"a"}`, c, m, "1"),
		parseErr("capitalised Type", `{"id":1,"Type":"store.get"}`, c, m, "1"),
		parseErr("key with trailing space", `{"id":1,"type ":"store.get"}`, c, m, "1"),
		parseErr("duplicate type, last empty wins", `{"id":1,"type":"store.get","type":""}`, c, m, "1"),
		parseErr("duplicate type, last non-string wins", `{"id":1,"type":"store.get","type":5}`, c, m, "1"),
		parseErr("type nested, not top level", `{"id":1,"params":{"type":"store.get"}}`, c, m, "1"),
		parseErr("pong with empty type is not a pong", `{"type":"","timestamp":1}`, c, m, "0"),
	})
}

// Step 4: a pong needs a finite timestamp; it needs no id and any id is
// ignored on success.
func TestParseStep4Pong(t *testing.T) {
	const c, m = CodeInvalidRequest, MsgBadPongTime
	runParseCases(t, []parseCase{
		parsePong("spec example", `{ "type": "pong", "timestamp": 1735689630000 }`, 1735689630000),
		parsePong("zero timestamp", `{"type":"pong","timestamp":0}`, 0),
		parsePong("negative zero timestamp", `{"type":"pong","timestamp":-0}`, math.Copysign(0, -1)),
		parsePong("negative timestamp", `{"type":"pong","timestamp":-5}`, -5),
		parsePong("fractional timestamp", `{"type":"pong","timestamp":12.75}`, 12.75),
		parsePong("exponent timestamp", `{"type":"pong","timestamp":1.5E3}`, 1500),
		parsePong("underflow is zero", `{"type":"pong","timestamp":1e-400}`, 0),
		parsePong("largest double", `{"type":"pong","timestamp":1.7976931348623157e308}`, math.MaxFloat64),
		parsePong("id ignored", `{"id":9,"type":"pong","timestamp":1}`, 1),
		parsePong("bad id ignored", `{"id":"x","type":"pong","timestamp":1}`, 1),
		parsePong("infinite id ignored", `{"id":1e400,"type":"pong","timestamp":1}`, 1),
		parsePong("extra keys ignored", `{"type":"pong","timestamp":2,"foo":[1,{"a":null}]}`, 2),
		parsePong("duplicate timestamp, last wins", `{"type":"pong","timestamp":"x","timestamp":3}`, 3),
		parsePong("escaped type", `{"type":"\u0070ong","timestamp":4}`, 4),

		parseErr("missing timestamp", `{"type":"pong"}`, c, m, "0"),
		parseErr("missing timestamp keeps id", `{"id":3,"type":"pong"}`, c, m, "3"),
		parseErr("missing timestamp, bad id", `{"id":"3","type":"pong"}`, c, m, "0"),
		parseErr("string timestamp", `{"type":"pong","timestamp":"1735689630000"}`, c, m, "0"),
		parseErr("null timestamp", `{"type":"pong","timestamp":null}`, c, m, "0"),
		parseErr("boolean timestamp", `{"type":"pong","timestamp":true}`, c, m, "0"),
		parseErr("array timestamp", `{"type":"pong","timestamp":[1]}`, c, m, "0"),
		parseErr("object timestamp", `{"type":"pong","timestamp":{"t":1}}`, c, m, "0"),
		parseErr("overflowing timestamp", `{"type":"pong","timestamp":1e400}`, c, m, "0"),
		parseErr("overflowing negative timestamp", `{"type":"pong","timestamp":-1e400}`, c, m, "0"),
		parseErr("just past the largest double", `{"type":"pong","timestamp":1.7976931348623159e308}`, c, m, "0"),
		parseErr("duplicate timestamp, last bad wins", `{"type":"pong","timestamp":3,"timestamp":"x"}`, c, m, "0"),
		parseErr("uppercase TIMESTAMP", `{"type":"pong","TIMESTAMP":1}`, c, m, "0"),
	})
}

// Step 5: "id" is a finite number. Its error never echoes an id.
func TestParseStep5ID(t *testing.T) {
	const c, m = CodeInvalidRequest, MsgMissingID
	runParseCases(t, []parseCase{
		parseErr("spec example", `{"id":"x","type":"store.all"}`, c, m, "0"),
		parseErr("missing id", `{"type":"store.all"}`, c, m, "0"),
		parseErr("numeric string id", `{"id":"1","type":"a"}`, c, m, "0"),
		parseErr("null id", `{"id":null,"type":"a"}`, c, m, "0"),
		parseErr("boolean id", `{"id":true,"type":"a"}`, c, m, "0"),
		parseErr("array id", `{"id":[1],"type":"a"}`, c, m, "0"),
		parseErr("object id", `{"id":{},"type":"a"}`, c, m, "0"),
		parseErr("overflowing id", `{"id":1e400,"type":"a"}`, c, m, "0"),
		parseErr("overflowing negative id", `{"id":-1e400,"type":"a"}`, c, m, "0"),
		parseErr("huge integer id", `{"id":`+strings.Repeat("9", 400)+`,"type":"a"}`, c, m, "0"),
		parseErr("uppercase ID", `{"ID":1,"type":"a"}`, c, m, "0"),
		parseErr("capitalised Id", `{"Id":1,"type":"a"}`, c, m, "0"),
		parseErr("duplicate id, last bad wins", `{"id":1,"type":"a","id":"x"}`, c, m, "0"),
		parseErr("id nested, not top level", `{"type":"a","params":{"id":1}}`, c, m, "0"),
		parseErr("ping is an ordinary request", `{"type":"ping"}`, c, m, "0"),
		parseErr("Pong is not pong", `{"type":"Pong","timestamp":1}`, c, m, "0"),
		parseErr("pong with space is not pong", `{"type":"pong ","timestamp":1}`, c, m, "0"),
	})
}

// Frames that pass every check.
func TestParseRequests(t *testing.T) {
	runParseCases(t, []parseCase{
		parseReq("spec example", `{ "id": 7, "type": "store.get", "bucket": "users", "key": "u-1" }`, "7", "store.get"),
		parseReq("minimal", `{"id":1,"type":"a"}`, "1", "a"),
		parseReq("keys in any order", `{"type":"store.all","id":2}`, "2", "store.all"),
		parseReq("zero id", `{"id":0,"type":"a"}`, "0", "a"),
		parseReq("negative id", `{"id":-12,"type":"a"}`, "-12", "a"),
		parseReq("fractional id", `{"id":0.1,"type":"a"}`, "0.1", "a"),
		parseReq("whitespace around the object", " \t\r\n{\"id\":1,\"type\":\"a\"}\n\t \r", "1", "a"),
		parseReq("whitespace inside the object", "{ \"id\" :\n1 ,\t\"type\" : \"a\" }", "1", "a"),
		parseReq("duplicate id, last wins", `{"id":1,"type":"a","id":2}`, "2", "a"),
		parseReq("duplicate id, bad then good", `{"id":"x","type":"a","id":3}`, "3", "a"),
		parseReq("duplicate type, last wins", `{"id":1,"type":"first","type":"second"}`, "1", "second"),
		parseReq("duplicate type, empty then good", `{"id":1,"type":"","type":"b"}`, "1", "b"),
		parseReq("escaped key", `{"\u0069d":4,"\u0074ype":"a"}`, "4", "a"),
		parseReq("escaped type value", `{"id":1,"type":"store.\u0067et"}`, "1", "store.get"),
		parseReq("type with quote", `{"id":1,"type":"a\"b"}`, "1", `a"b`),
		parseReq("unicode type", `{"id":1,"type":"ストア.取得"}`, "1", "ストア.取得"),
		parseReq("whitespace-only type is non-empty", `{"id":1,"type":" "}`, "1", " "),
		parseReq("ping as a request", `{"id":1,"type":"ping"}`, "1", "ping"),
		parseReq("Pong as a request", `{"id":1,"type":"Pong"}`, "1", "Pong"),
		parseReq("welcome as a request", `{"id":1,"type":"welcome"}`, "1", "welcome"),
		parseReq("unknown keys kept", `{"id":1,"type":"a","x":{"y":[1,2,{"z":null}]},"n":null}`, "1", "a"),
		parseReq("params key", `{"id":1,"type":"procedures.call","params":{"a":1}}`, "1", "procedures.call"),
		parseReq("nested data with id and type keys", `{"id":1,"type":"store.insert","data":{"id":"u","type":"x"}}`, "1", "store.insert"),
		parseReq("deep nesting", `{"id":1,"type":"a","deep":`+strings.Repeat("[", 1000)+strings.Repeat("]", 1000)+`}`, "1", "a"),
		parseReq("deep object nesting", `{"id":1,"type":"a","deep":`+strings.Repeat(`{"a":`, 500)+"1"+strings.Repeat("}", 500)+`}`, "1", "a"),
	})
}

// Nesting beyond what encoding/json accepts (10000 levels) is reported as
// invalid JSON rather than crashing or recursing without bound.
func TestParseExcessiveNesting(t *testing.T) {
	for _, payload := range []string{
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		`{"id":1,"type":"a","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		`{"id":1,"type":"a","x":` + strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000) + `}`,
		strings.Repeat("[", 200000), // unterminated
	} {
		got := Parse([]byte(payload))
		if got.Kind != KindInvalid || got.Err.Code != CodeParseError || got.Err.Message != MsgInvalidJSON || got.ID != ZeroID {
			t.Errorf("Parse(<%d bytes deep>) = %v %v %s, want PARSE_ERROR %q id 0", len(payload), got.Kind, got.Err, got.ID, MsgInvalidJSON)
		}
	}
}

// The first failing check wins: each row fails several checks.
func TestParseCheckOrder(t *testing.T) {
	runParseCases(t, []parseCase{
		parseErr("invalid JSON before object check", `[1,2`, CodeParseError, MsgInvalidJSON, "0"),
		parseErr("object check before type", `[{"id":1}]`, CodeParseError, MsgNotObject, "0"),
		parseErr("type before id", `{"id":"x"}`, CodeInvalidRequest, MsgMissingType, "0"),
		parseErr("type before id, nothing at all", `{"foo":1}`, CodeInvalidRequest, MsgMissingType, "0"),
		parseErr("pong timestamp before id", `{"type":"pong"}`, CodeInvalidRequest, MsgBadPongTime, "0"),
		parseErr("pong timestamp before bad id", `{"type":"pong","id":"x","timestamp":"y"}`, CodeInvalidRequest, MsgBadPongTime, "0"),
		parseErr("type before pong timestamp", `{"timestamp":"y"}`, CodeInvalidRequest, MsgMissingType, "0"),
		parsePong("pong needs no id", `{"type":"pong","timestamp":1}`, 1),
		parseErr("id last", `{"type":"store.get","timestamp":"y"}`, CodeInvalidRequest, MsgMissingID, "0"),
	})
}

// The id is echoed as JavaScript's JSON.stringify writes the parsed number.
func TestParseIDEcho(t *testing.T) {
	cases := []struct{ in, want string }{
		{"1", "1"},
		{"1.0", "1"},
		{"1.50", "1.5"},
		{"-0", "0"},
		{"-0.0", "0"},
		{"0e10", "0"},
		{"-0e-5", "0"},
		{"0.1", "0.1"},
		{"-0.1", "-0.1"},
		{"0.30000000000000004", "0.30000000000000004"},
		{"123e-2", "1.23"},
		{"1E2", "100"},
		{"1.5E+3", "1500"},
		{"123456789012", "123456789012"},
		{"9007199254740991", "9007199254740991"},
		{"9007199254740993", "9007199254740992"}, // loses precision as a double does
		{"1e20", "100000000000000000000"},
		{"123456789012345678901", "123456789012345680000"},
		{"1e21", "1e+21"},
		{"1E21", "1e+21"},
		{"-1e21", "-1e+21"},
		{"1.5e300", "1.5e+300"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"0.000001", "0.000001"},
		{"1e-6", "0.000001"},
		{"1e-7", "1e-7"},
		{"0.0000001", "1e-7"},
		{"-2.5e-8", "-2.5e-8"},
		{"1.2345e-10", "1.2345e-10"},
		{"5e-324", "5e-324"},
		{"1e-400", "0"},
		{"-1e-400", "0"},
		{"3.14159265358979323846", "3.141592653589793"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			req := Parse([]byte(`{"id":` + tc.in + `,"type":"a"}`))
			if req.Kind != KindRequest {
				t.Fatalf("request with id %s: Kind %v, Err %v", tc.in, req.Kind, req.Err)
			}
			if got := req.ID.String(); got != tc.want {
				t.Errorf("request id %s echoed as %s, want %s", tc.in, got, tc.want)
			}
			// The shape-error path echoes the same rendering.
			bad := Parse([]byte(`{"id":` + tc.in + `}`))
			if bad.Kind != KindInvalid || bad.ID.String() != tc.want {
				t.Errorf("type error with id %s: Kind %v id %s, want id %s", tc.in, bad.Kind, bad.ID, tc.want)
			}
			frame, err := EncodeResult(req.ID, Absent)
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"id":` + tc.want + `,"type":"result"}`; string(frame) != want {
				t.Errorf("EncodeResult = %s, want %s", frame, want)
			}
		})
	}
}

// The encoded error frames of the §1.10 examples, with the project's id
// rule (COMPATIBILITY.md P§11 #1) applied to {"id":5}.
func TestParseErrorFrames(t *testing.T) {
	cases := []struct{ in, want string }{
		{`not json`, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Invalid JSON"}`},
		{`[1,2]`, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Message must be a JSON object"}`},
		{`{"id":5}`, `{"id":5,"type":"error","code":"INVALID_REQUEST","message":"Message must include non-empty string \"type\""}`},
		{`{"id":"x"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Message must include non-empty string \"type\""}`},
		{`{"id":"x","type":"store.all"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Request must include finite numeric \"id\""}`},
		{`{"id":1e400,"type":"store.all"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Request must include finite numeric \"id\""}`},
		{`{"type":"pong"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Pong must include finite numeric \"timestamp\""}`},
		{`{"id":-0.5,"type":"pong","timestamp":1e400}`, `{"id":-0.5,"type":"error","code":"INVALID_REQUEST","message":"Pong must include finite numeric \"timestamp\""}`},
	}
	for _, tc := range cases {
		in := Parse([]byte(tc.in))
		if in.Kind != KindInvalid {
			t.Fatalf("Parse(%q).Kind = %v, want KindInvalid", tc.in, in.Kind)
		}
		for _, withDetails := range []bool{true, false} {
			if got := string(EncodeError(in.ID, in.Err, withDetails)); got != tc.want {
				t.Errorf("error frame for %q (details %v):\n got %s\nwant %s", tc.in, withDetails, got, tc.want)
			}
		}
	}
}

func TestParseRequestFields(t *testing.T) {
	in := Parse([]byte(`{ "id" : 7 , "type" : "store.get" , "bucket" : "users" , "key" : "u-1" , "opts" : { "a" : [ 1 , 2 ] } , "n" : null }`))
	if in.Kind != KindRequest {
		t.Fatalf("Kind = %v, Err %v", in.Kind, in.Err)
	}
	want := map[string]string{
		"id":     `7`,
		"type":   `"store.get"`,
		"bucket": `"users"`,
		"key":    `"u-1"`,
		"opts":   `{ "a" : [ 1 , 2 ] }`,
		"n":      `null`,
	}
	if len(in.Fields) != len(want) {
		t.Errorf("Fields has %d keys, want %d: %v", len(in.Fields), len(want), in.Fields)
	}
	for k, v := range want {
		if got, ok := in.Fields[k]; !ok || string(got) != v {
			t.Errorf("Fields[%q] = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if s, ok := NonEmptyString(in.Fields["bucket"]); !ok || s != "users" {
		t.Errorf("bucket = %q %v", s, ok)
	}
	if _, ok := in.Fields["missing"]; ok {
		t.Error("absent key present in Fields")
	}
	if !IsNull(in.Fields["n"]) || !IsNull(in.Fields["missing"]) {
		t.Error("IsNull: null and absent keys should be null")
	}
	if !IsObject(in.Fields["opts"]) {
		t.Error("IsObject(opts) = false")
	}
}

// Payloads are never retained: mutating the input after Parse must not
// change what was parsed.
func TestParseDoesNotAliasPayload(t *testing.T) {
	payload := []byte(`{"id":1,"type":"store.get","bucket":"users"}`)
	in := Parse(payload)
	for i := range payload {
		payload[i] = 'x'
	}
	if in.Type != "store.get" || string(in.Fields["bucket"]) != `"users"` || in.ID.String() != "1" {
		t.Errorf("parsed request changed with its payload: %+v", in)
	}
}

func TestNumberID(t *testing.T) {
	cases := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-7, "-7"},
		{0.1, "0.1"},
		{1e21, "1e+21"},
		{1e-7, "1e-7"},
		{123456789012, "123456789012"},
		{math.NaN(), "0"},
		{math.Inf(1), "0"},
		{math.Inf(-1), "0"},
	}
	for _, tc := range cases {
		if got := NumberID(tc.v).String(); got != tc.want {
			t.Errorf("NumberID(%v) = %s, want %s", tc.v, got, tc.want)
		}
	}
	if ZeroID.String() != "0" || (ID{}).String() != "0" {
		t.Error("zero id does not render as 0")
	}
	// Ids compare by the number they echo.
	if NumberID(0) != ZeroID || NumberID(math.Copysign(0, -1)) != ZeroID || NumberID(math.NaN()) != ZeroID {
		t.Error("a zero NumberID != ZeroID")
	}
	for _, lit := range []string{"0", "-0", "0.0", "-0e3", "1e-400"} {
		if in := Parse([]byte(`{"id":` + lit + `,"type":"a"}`)); in.Kind != KindRequest || in.ID != ZeroID {
			t.Errorf("id %s: Kind %v, ID %#v, want ZeroID", lit, in.Kind, in.ID)
		}
	}
	for lit, v := range map[string]float64{"1.0": 1, "1e21": 1e21, "-2.50": -2.5, "1E-7": 1e-7} {
		if in := Parse([]byte(`{"id":` + lit + `,"type":"a"}`)); in.ID != NumberID(v) {
			t.Errorf("id %s parsed as %#v, want %#v", lit, in.ID, NumberID(v))
		}
	}
}

func TestFiniteNumber(t *testing.T) {
	cases := []struct {
		raw  string
		want float64
		ok   bool
	}{
		{``, 0, false},
		{`0`, 0, true},
		{`-1.5`, -1.5, true},
		{`1e3`, 1000, true},
		{`1e400`, 0, false},
		{`-1e400`, 0, false},
		{`"1"`, 0, false},
		{`null`, 0, false},
		{`true`, 0, false},
		{`[1]`, 0, false},
		{`{}`, 0, false},
	}
	for _, tc := range cases {
		got, ok := FiniteNumber(json.RawMessage(tc.raw))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("FiniteNumber(%q) = %v, %v; want %v, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNonEmptyString(t *testing.T) {
	cases := []struct {
		raw  string
		want string
		ok   bool
	}{
		{``, "", false},
		{`""`, "", false},
		{`"a"`, "a", true},
		{`" "`, " ", true},
		{`"\u00e9\n"`, "é\n", true},
		{`1`, "", false},
		{`null`, "", false},
		{`["a"]`, "", false},
		{`{"a":"b"}`, "", false},
		{`"`, "", false},
	}
	for _, tc := range cases {
		got, ok := NonEmptyString(json.RawMessage(tc.raw))
		if ok != tc.ok || got != tc.want {
			t.Errorf("NonEmptyString(%q) = %q, %v; want %q, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}
