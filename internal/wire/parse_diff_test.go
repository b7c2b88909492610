package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

// parseEncodingJSON is Parse as it was before the single-pass scanner:
// json.Valid, then json.Unmarshal into a map, then json.Unmarshal again for
// the type and json.Marshal for the id echo. It is the oracle of
// FuzzParseMatchesEncodingJSON: Parse must answer exactly as it does.
func parseEncodingJSON(payload []byte) Inbound {
	if !json.Valid(payload) {
		return invalid(ZeroID, CodeParseError, MsgInvalidJSON)
	}
	if first := firstByte(payload); first != '{' {
		return invalid(ZeroID, CodeParseError, MsgNotObject)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return invalid(ZeroID, CodeParseError, MsgInvalidJSON)
	}
	id, idOK := refFiniteNumber(fields["id"])
	var echo ID
	if idOK {
		echo = ID{text: refFormatNumber(id)}
	}
	typ, ok := refNonEmptyString(fields["type"])
	if !ok {
		return invalid(echo, CodeInvalidRequest, MsgMissingType)
	}
	if typ == typePong {
		ts, ok := refFiniteNumber(fields["timestamp"])
		if !ok {
			return invalid(echo, CodeInvalidRequest, MsgBadPongTime)
		}
		return Inbound{Kind: KindPong, Timestamp: ts}
	}
	if !idOK {
		return invalid(ZeroID, CodeInvalidRequest, MsgMissingID)
	}
	return Inbound{Kind: KindRequest, ID: echo, Type: typ, Fields: fields}
}

func refFiniteNumber(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	c := raw[0]
	if c != '-' && (c < '0' || c > '9') {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

func refNonEmptyString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", false
	}
	return s, true
}

func refFormatNumber(v float64) string {
	if v == 0 {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > maxEchoedIDBytes {
		return ""
	}
	return string(b)
}

// diffSeeds are inputs where a hand-written JSON reader most easily parts
// from encoding/json.
var diffSeeds = []string{
	// Requests as clients send them.
	`{"id":7,"type":"store.get","bucket":"users","key":"u-1"}`,
	`{"id":12,"type":"store.insert","bucket":"users","data":{"name":"Ann","email":"ann@example.com","age":42,"tags":["admin","ops"],"address":{"city":"Prague","zip":"110 00"},"active":true,"score":97.5}}`,
	`{"id":3,"type":"store.subscribe","query":"byAge","params":{"min":18,"max":null}}`,
	`{"id":4,"type":"store.update","bucket":"b","key":1,"data":{"n":-0.5e-3,"s":"x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00"}}`,
	`{"type":"pong","timestamp":1735689630000}`,
	// Numbers.
	`{"id":1e400,"type":"a"}`, `{"id":-1e400,"type":"a"}`, `{"id":-0,"type":"a"}`, `{"id":1E2,"type":"a"}`,
	`{"id":1E+2,"type":"a"}`, `{"id":1e-2,"type":"a"}`, `{"id":0.0e0,"type":"a"}`, `{"id":-0.0E-0,"type":"a"}`,
	`{"id":1.5e-7,"type":"a"}`, `{"id":1e-7,"type":"a"}`, `{"id":1e-6,"type":"a"}`, `{"id":999999999999999999999,"type":"a"}`,
	`{"id":1e21,"type":"a"}`, `{"id":4.9e-324,"type":"a"}`, `{"id":2.5e-324,"type":"a"}`, `{"id":1e308,"type":"a"}`,
	`{"id":1.7976931348623158e308,"type":"a"}`, `{"id":100e-2,"type":"a"}`, `{"id":12345678901234567890123,"type":"a"}`,
	`{"id":-,"type":"a"}`, `{"id":-a,"type":"a"}`, `{"id":1.e1,"type":"a"}`, `{"id":1e+,"type":"a"}`, `{"id":00,"type":"a"}`,
	`{"id":-01,"type":"a"}`, `{"id":1.0.0,"type":"a"}`, `{"id":1e1e1,"type":"a"}`, `{"id":1ee1,"type":"a"}`, `{"id":1-1,"type":"a"}`,
	`{"type":"pong","timestamp":-0}`, `{"type":"pong","timestamp":1e-400}`, `{"type":"pong","timestamp":-1e400}`,
	`{"type":"pong","timestamp":1e}`, `1`, `-`, `-0`, `1.`, `0.5`, `1e5`, `1E`, `01`,
	// Escaped, duplicate and odd keys.
	`{"\u0069\u0064":1,"\u0074\u0079\u0070\u0065":"a"}`,
	`{"\u0049D":1,"type":"a"}`, `{"i\u0064":1,"type":"a","id":2}`, `{"id":1,"type":"a","i\u0064":"x"}`,
	`{"id":1,"type":"a","\ud800":1,"\udc00":2,"\ud800\udc00":3,"\ud800\u0041":4,"\ud800\ud800\udc00":5,"\uDBFF\uDFFF":6}`,
	`{"id":1,"type":"a","\uFFFD":1,"\ufffd":2,"` + "\xff" + `":3,"` + "\xed\xa0\x80" + `":4}`,
	`{"id":1,"type":"a","\u0000":1,"\"":2,"\\":3,"\/":4,"/":5,"":6,"":7}`,
	`{"id":1,"type":"a","ä":1,"a\u0308":2,"日本":3,"` + "\xe6\x97" + `":4,"` + "\xf0\x9f\x98\x80" + `":5}`,
	`{"id":1,"type":"\u0000"}`, `{"id":1,"type":"\ud800"}`, `{"id":1,"type":"` + "\xff" + `"}`, `{"id":1,"type":"\u0070ong"}`,
	`{"type":"p\u006fng","timestamp":1}`, `{"type":"pong","t\u0069mestamp":2}`, `{"type":"pong","timestamp":1,"timestamp":null}`,
	`{"id":1,"type":"a","type":"pong"}`, `{"type":"pong","type":"a","id":1}`, `{"id":1,"type":"a","id":1e400}`,
	`{"id":1,"type":"a","x":1,"x":[2],"x":{"3":3}}`,
	`{"Id":1,"Type":"a"}`, `{"id ":1,"type":"a"}`, `{" id":1,"type":"a"}`,
	// Escapes that are not JSON.
	`{"id":1,"type":"\'"}`, `{"id":1,"type":"\x41"}`, `{"id":1,"type":"\U0041"}`, `{"id":1,"type":"\u00g0"}`,
	`{"id":1,"type":"\u00"}`, `{"id":1,"type":"\`, `{"id":1,"type":"\"`, `{"id":1,"type":"a\` + "\n" + `"}`,
	`{"\q":1}`, `{"a` + "\t" + `":1}`,
	// Space, BOM, NUL, trailing garbage.
	"{\"id\":1,\"type\":\"a\"}\x00", "\x00{\"id\":1,\"type\":\"a\"}", "{\"id\":1,\"type\":\"a\x00\"}",
	"\xef\xbb\xbf{\"id\":1,\"type\":\"a\"}", "{\"id\":1,\"type\":\"a\"}\xef\xbb\xbf",
	"{\"id\":1,\"type\":\"a\"}\f", "{\f\"id\":1,\"type\":\"a\"}", "{\"id\"\v:1,\"type\":\"a\"}",
	" \t\n\r{ \t\n\r\"id\" \t\n\r: \t\n\r1 \t\n\r, \t\n\r\"type\" \t\n\r: \t\n\r\"a\" \t\n\r} \t\n\r",
	`{"id":1,"type":"a"}x`, `{"id":1,"type":"a"}}`, `{"id":1,"type":"a"}]`, `{"id":1,"type":"a"},`,
	`{"id":1,"type":"a"} 1`, `{"id":1,"type":"a"}null`, `{"id":1 "type":"a"}`, `{"id":1,,"type":"a"}`,
	`{,"id":1,"type":"a"}`, `{"id"1,"type":"a"}`, `{"id"::1,"type":"a"}`, `{"id":,"type":"a"}`, `{"id":1,"type":"a"`,
	`{"id":1,"type":"a","x":[1,]}`, `{"id":1,"type":"a","x":[,1]}`, `{"id":1,"type":"a","x":[1 2]}`,
	`{"id":1,"type":"a","x":{"a"}}`, `{"id":1,"type":"a","x":{"a":}}`, `{"id":1,"type":"a","x":{1:2}}`,
	`{"id":1,"type":"a","x":{"a":1,}}`, `{"id":1,"type":"a","x":[}`, `{"id":1,"type":"a","x":{]}`,
	`{"id":1,"type":"a","x":tru}`, `{"id":1,"type":"a","x":truee}`, `{"id":1,"type":"a","x":nul}`, `{"id":1,"type":"a","x":fals}`,
	`{"id":1,"type":"a","x":[true,false,null,{},[],"",0,{"":[{}]}]}`,
	`{`, `}`, `{}`, `{ }`, `[`, `]`, `[]`, `[ ]`, `""`, `"`, `"\u0000"`, `true`, `false`, `null`, `nul`, `truex`,
	"\xff", "\"\xff\"", "{\"id\":1,\"type\":\"a\",\"\xc0\x80\":1}", "{\"id\":1,\"type\":\"\xf4\x90\x80\x80\"}",
}

// diffDeepSeeds are at and just past encoding/json's nesting limit.
func diffDeepSeeds() []string {
	open := func(n int, s string) string { return strings.Repeat(s, n) }
	return []string{
		open(10000, "[") + open(10000, "]"),
		open(10001, "[") + open(10001, "]"),
		`{"id":1,"type":"a","x":` + open(9999, "[") + open(9999, "]") + `}`,
		`{"id":1,"type":"a","x":` + open(10000, "[") + open(10000, "]") + `}`,
		`{"id":1,"type":"a","x":` + open(9999, `{"":`) + "0" + open(9999, "}") + `}`,
		`{"id":1,"type":"a","x":` + open(10000, `{"":`) + "0" + open(10000, "}") + `}`,
		`{"id":1,"type":"a","x":` + open(5000, `[{"a":`) + "0" + open(5000, "}]") + `}`,
		`{"id":1,"type":"a","x":` + open(130, "[") + "1" + open(130, "]") + `}`,
		`{"id":1,"type":"a","x":` + open(130, "[") + open(129, "]") + "}}",
		open(20000, "["),
	}
}

// diffWrappers embed an arbitrary input in a valid request at the places
// Parse reads: a value, a key, the id, the type, the pong timestamp.
var diffWrappers = []func(p []byte) []byte{
	func(p []byte) []byte { return concat(`{"id":1,"type":"a","x":`, p, `}`) },
	func(p []byte) []byte { return concat(`{"id":1,"type":"a","`, p, `":1}`) },
	func(p []byte) []byte { return concat(`{"id":`, p, `,"type":"store.get"}`) },
	func(p []byte) []byte { return concat(`{"id":1,"type":"`, p, `"}`) },
	func(p []byte) []byte { return concat(`{"type":"pong","timestamp":`, p, `}`) },
}

func concat(a string, p []byte, b string) []byte {
	return append(append([]byte(a), p...), b...)
}

// checkParseMatches parses payload with Parse and with the encoding/json
// reference and fails on any difference in what they return. It also holds
// Parse to the promises of Inbound.Fields: nothing aliases the payload, and
// no value has spare capacity an append could write into.
func checkParseMatches(t *testing.T, payload []byte) {
	t.Helper()
	buf := append([]byte(nil), payload...)
	got := Parse(buf)
	if !bytes.Equal(buf, payload) {
		t.Fatalf("Parse modified its input %q", payload)
	}
	for i := range buf {
		buf[i] = '#' // the caller reuses its buffer
	}
	want := parseEncodingJSON(payload)
	if got.Kind != want.Kind || got.ID != want.ID || got.Type != want.Type ||
		math.Float64bits(got.Timestamp) != math.Float64bits(want.Timestamp) {
		t.Fatalf("Parse(%q)\n got  kind %v id %q type %q ts %v err %v\n want kind %v id %q type %q ts %v err %v",
			trim(payload), got.Kind, got.ID.text, got.Type, got.Timestamp, got.Err, want.Kind, want.ID.text, want.Type, want.Timestamp, want.Err)
	}
	if (got.Err == nil) != (want.Err == nil) || got.Err != nil && (got.Err.Code != want.Err.Code || got.Err.Message != want.Err.Message || got.Err.Details != nil) {
		t.Fatalf("Parse(%q).Err = %v, encoding/json %v", trim(payload), got.Err, want.Err)
	}
	if (got.Fields == nil) != (want.Fields == nil) || len(got.Fields) != len(want.Fields) {
		t.Fatalf("Parse(%q).Fields has %d keys (nil %v), encoding/json %d (nil %v)",
			trim(payload), len(got.Fields), got.Fields == nil, len(want.Fields), want.Fields == nil)
	}
	for k, w := range want.Fields {
		g, ok := got.Fields[k]
		if !ok || !bytes.Equal(g, w) {
			t.Fatalf("Parse(%q).Fields[%q] = %q (present %v), encoding/json %q", trim(payload), k, trim(g), ok, trim(w))
		}
		if cap(g) != len(g) {
			t.Fatalf("Parse(%q).Fields[%q] has spare capacity %d", trim(payload), k, cap(g)-len(g))
		}
	}
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:150]) + "…" + string(b[len(b)-150:])
	}
	return string(b)
}

// TestParseMatchesEncodingJSON runs the differential check on every seed,
// alone and in each wrapper, so `go test` covers it without fuzzing.
func TestParseMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	seeds := append(append(append([]string(nil), parseSeeds...), diffSeeds...), diffDeepSeeds()...)
	for _, s := range seeds {
		checkParseMatches(t, []byte(s))
		for _, wrap := range diffWrappers {
			checkParseMatches(t, wrap([]byte(s)))
		}
	}
	// Every single byte, alone and as a request's key, type, id and value.
	for c := range 256 {
		b := []byte{byte(c)}
		checkParseMatches(t, b)
		for _, wrap := range diffWrappers {
			checkParseMatches(t, wrap(b))
			checkParseMatches(t, wrap(append([]byte(`"`), b...)))
			checkParseMatches(t, wrap([]byte(`"\`+string(rune(c))+`"`)))
		}
	}
}

// FuzzParseMatchesEncodingJSON checks that Parse answers every input, and
// every input embedded in a valid request, exactly as the encoding/json
// implementation it replaced.
func FuzzParseMatchesEncodingJSON(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	for _, s := range diffSeeds {
		f.Add([]byte(s))
	}
	for _, s := range diffDeepSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkParseMatches(t, payload)
		for _, wrap := range diffWrappers {
			checkParseMatches(t, wrap(payload))
		}
	})
}

// The single-pass scanner has to agree with json.Valid alone too, for
// every kind of top-level value, not only objects.
func TestScanFrameMatchesValid(t *testing.T) {
	t.Parallel()
	for _, s := range append(append(append([]string(nil), parseSeeds...), diffSeeds...), diffDeepSeeds()...) {
		_, _, ok := scanFrame([]byte(s), nil)
		if want := json.Valid([]byte(s)); ok != want {
			t.Errorf("scanFrame(%q) valid = %v, json.Valid %v", trim([]byte(s)), ok, want)
		}
	}
}

func TestAppendUnquotedMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		``, `a`, `\"\\\/\b\f\n\r\t`, `\u0041\u00e9\u20ac`, `\ud83d\ude00`, `\ud83d`, `\ude00`, `\ud83dx`,
		`\ud83d\u0041`, `\ud83d\ud83d\ude00`, `\ude00\ud83d`, `\uDBFF\uDFFF`, `\u0000`, `\uFFFD`,
		"\xff", "a\xffb", "\xed\xa0\x80", "\xc0\x80", "\xf4\x90\x80\x80", "\xe6\x97", "日本\xe6\x97", "\xe6\x97\\n",
	} {
		raw := []byte(`"` + s + `"`)
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", raw, err)
		}
		if got := string(appendUnquoted(nil, raw[1:len(raw)-1])); got != want {
			t.Errorf("appendUnquoted(%q) = %q, encoding/json %q", s, got, want)
		}
		text, ok := stringText(raw)
		if !ok || string(text) != want {
			t.Errorf("stringText(%q) = %q %v, encoding/json %q", raw, text, ok, want)
		}
		if got, ok := NonEmptyString(raw); got != want || ok != (want != "") {
			t.Errorf("NonEmptyString(%q) = %q %v, encoding/json %q", raw, got, ok, want)
		}
	}
}

// Appending to one value of Fields must not change another.
func TestParseFieldsDoNotShareCapacity(t *testing.T) {
	in := Parse([]byte(`{"id":1,"type":"a","x":[1],"y":"yy"}`))
	x := append(in.Fields["x"], "!!!!"...)
	if string(in.Fields["y"]) != `"yy"` || string(x) != `[1]!!!!` || string(in.Fields["type"]) != `"a"` {
		t.Errorf("append to one field changed another: %q %q", in.Fields["y"], x)
	}
}

// BenchmarkParseEncodingJSON measures the encoding/json implementation on
// the frames of BenchmarkParse, for a before/after taken in one run.
func BenchmarkParseEncodingJSON(b *testing.B) {
	for _, fr := range parseBenchFrames {
		b.Run(fr.name, func(b *testing.B) {
			payload := []byte(fr.payload)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				benchInbound = parseEncodingJSON(payload)
			}
			if benchInbound.Kind != fr.kind {
				b.Fatalf("Kind %v, want %v (err %v)", benchInbound.Kind, fr.kind, benchInbound.Err)
			}
		})
	}
}
