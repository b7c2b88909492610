package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
)

type sampleRecord struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Score float64 `json:"score,omitempty"`
	Note  *string `json:"note,omitempty"`
}

func TestEncodeResult(t *testing.T) {
	var nilMap map[string]any
	var nilSlice []int
	var nilPtr *sampleRecord
	cases := []struct {
		name string
		id   ID
		data any
		want string
	}{
		{"absent omits data", NumberID(7), Absent, `{"id":7,"type":"result"}`},
		{"nil data is null", NumberID(7), nil, `{"id":7,"type":"result","data":null}`},
		{"zero id", ZeroID, true, `{"id":0,"type":"result","data":true}`},
		{"fractional id", NumberID(0.1), 1, `{"id":0.1,"type":"result","data":1}`},
		{"large id", NumberID(1e21), 0, `{"id":1e+21,"type":"result","data":0}`},
		{"small id", NumberID(1e-7), false, `{"id":1e-7,"type":"result","data":false}`},
		{"string", NumberID(1), "hi", `{"id":1,"type":"result","data":"hi"}`},
		{"html is not escaped", NumberID(1), "<a href=\"x\">&amp;</a>", `{"id":1,"type":"result","data":"<a href=\"x\">&amp;</a>"}`},
		{"control chars escaped", NumberID(1), "a\nb\t\x01", `{"id":1,"type":"result","data":"a\nb\t\u0001"}`},
		{"unicode kept", NumberID(1), "é☃😀", `{"id":1,"type":"result","data":"é☃😀"}`},
		{"map keys sorted", NumberID(2), map[string]any{"b": 1, "a": []any{nil, "x"}}, `{"id":2,"type":"result","data":{"a":[null,"x"],"b":1}}`},
		{"empty map", NumberID(2), map[string]any{}, `{"id":2,"type":"result","data":{}}`},
		{"nil map is null", NumberID(2), nilMap, `{"id":2,"type":"result","data":null}`},
		{"empty slice", NumberID(2), []int{}, `{"id":2,"type":"result","data":[]}`},
		{"nil slice is null", NumberID(2), nilSlice, `{"id":2,"type":"result","data":null}`},
		{"nil pointer is null", NumberID(2), nilPtr, `{"id":2,"type":"result","data":null}`},
		{"struct with omitempty", NumberID(3), sampleRecord{ID: "a", Name: "Ann"}, `{"id":3,"type":"result","data":{"id":"a","name":"Ann"}}`},
		{"raw message copied", NumberID(4), json.RawMessage(`{"x":[1,2]}`), `{"id":4,"type":"result","data":{"x":[1,2]}}`},
		{"raw message compacted", NumberID(4), json.RawMessage("\n{ \"x\" : [ 1 ,\t2 ] }\n"), `{"id":4,"type":"result","data":{"x":[1,2]}}`},
		{"nil raw message is null", NumberID(4), json.RawMessage(nil), `{"id":4,"type":"result","data":null}`},
		{"nested raw message", NumberID(4), map[string]any{"r": json.RawMessage(` [ 1 ] `)}, `{"id":4,"type":"result","data":{"r":[1]}}`},
		{"float formatting", NumberID(5), []float64{1e21, 1e-7, 0.1, 100, math.Copysign(0, -1)}, `{"id":5,"type":"result","data":[1e+21,1e-7,0.1,100,-0]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeResult(tc.id, tc.data)
			if err != nil {
				t.Fatalf("EncodeResult: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("EncodeResult:\n got %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("EncodeResult produced invalid JSON %s", got)
			}
		})
	}
}

func TestEncodeResultErrors(t *testing.T) {
	cases := []struct {
		name string
		data any
	}{
		{"NaN", math.NaN()},
		{"Inf", math.Inf(1)},
		{"channel", make(chan int)},
		{"func", func() {}},
		{"NaN inside", map[string]any{"x": []any{math.Inf(-1)}}},
		{"invalid raw message", json.RawMessage(`{"x":`)},
		{"empty raw message", json.RawMessage{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeResult(NumberID(1), tc.data)
			if err == nil {
				t.Errorf("EncodeResult(%v) = %s, want an error", tc.name, got)
			}
		})
	}
}

// Marshal must not hand back the pooled buffer: an earlier result stays
// intact after later calls.
func TestMarshalDoesNotShareBuffers(t *testing.T) {
	first, err := Marshal(map[string]string{"a": "first"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := Marshal(fmt.Sprintf("overwrite-%d-%0100d", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	if string(first) != `{"a":"first"}` {
		t.Errorf("first Marshal result changed to %s", first)
	}
}

func TestMarshal(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{nil, `null`},
		{"<&>", `"<&>"`},
		{"\u2028", `"\u2028"`}, // escaped by encoding/json; still the same string to a JSON parser
		{[]byte("hi"), `"aGk="`},
		{json.RawMessage(`[1, 2]`), `[1,2]`},
		{json.RawMessage(" {\"a\" :\n\"<b> \"} "), `{"a":"<b> "}`},
		{json.RawMessage(nil), `null`},
		{int64(1) << 60, `1152921504606846976`},
	}
	for _, tc := range cases {
		got, err := Marshal(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", tc.v, got, err, tc.want)
		}
	}
}

func TestEncodeError(t *testing.T) {
	details := map[string]any{"field": "name", "html": "<b>"}
	cases := []struct {
		name        string
		id          ID
		err         *Error
		withDetails bool
		want        string
	}{
		{"spec example", NumberID(8), NewError(CodeBucketNotDefined, `Bucket "nope" is not defined`), true,
			`{"id":8,"type":"error","code":"BUCKET_NOT_DEFINED","message":"Bucket \"nope\" is not defined"}`},
		{"no details, hidden", NumberID(8), NewError(CodeNotFound, "gone"), false,
			`{"id":8,"type":"error","code":"NOT_FOUND","message":"gone"}`},
		{"details shown", NumberID(9), &Error{Code: CodeValidation, Message: "bad", Details: details}, true,
			`{"id":9,"type":"error","code":"VALIDATION_ERROR","message":"bad","details":{"field":"name","html":"<b>"}}`},
		{"details hidden", NumberID(9), &Error{Code: CodeValidation, Message: "bad", Details: details}, false,
			`{"id":9,"type":"error","code":"VALIDATION_ERROR","message":"bad"}`},
		{"details array", NumberID(9), &Error{Code: CodeValidation, Message: "bad", Details: []string{"a", "b"}}, true,
			`{"id":9,"type":"error","code":"VALIDATION_ERROR","message":"bad","details":["a","b"]}`},
		{"details false is kept", NumberID(9), &Error{Code: CodeConflict, Message: "c", Details: false}, true,
			`{"id":9,"type":"error","code":"CONFLICT","message":"c","details":false}`},
		{"details raw", NumberID(9), &Error{Code: CodeConflict, Message: "c", Details: json.RawMessage(`{"k":1}`)}, true,
			`{"id":9,"type":"error","code":"CONFLICT","message":"c","details":{"k":1}}`},
		{"details nil raw is null", NumberID(9), &Error{Code: CodeConflict, Message: "c", Details: json.RawMessage(nil)}, true,
			`{"id":9,"type":"error","code":"CONFLICT","message":"c","details":null}`},
		{"unencodable details dropped", NumberID(9), &Error{Code: CodeConflict, Message: "c", Details: math.NaN()}, true,
			`{"id":9,"type":"error","code":"CONFLICT","message":"c"}`},
		{"invalid raw details dropped", NumberID(9), &Error{Code: CodeConflict, Message: "c", Details: json.RawMessage(`{`)}, true,
			`{"id":9,"type":"error","code":"CONFLICT","message":"c"}`},
		{"zero id", ZeroID, NewError(CodeParseError, MsgInvalidJSON), true,
			`{"id":0,"type":"error","code":"PARSE_ERROR","message":"Invalid JSON"}`},
		{"message escaping", NumberID(1e21), NewError(CodeInternal, "a\"b\\c\n<d>&e"), true,
			`{"id":1e+21,"type":"error","code":"INTERNAL_ERROR","message":"a\"b\\c\n<d>&e"}`},
		{"empty message", NumberID(1), NewError(CodeInternal, ""), true,
			`{"id":1,"type":"error","code":"INTERNAL_ERROR","message":""}`},
		{"rate limited", NumberID(3), Errorf(CodeRateLimited, "Rate limit exceeded. Retry after %dms", 250), true,
			`{"id":3,"type":"error","code":"RATE_LIMITED","message":"Rate limit exceeded. Retry after 250ms"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := EncodeError(tc.id, tc.err, tc.withDetails)
			if string(got) != tc.want {
				t.Errorf("EncodeError:\n got %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("EncodeError produced invalid JSON %s", got)
			}
		})
	}
}

func TestEncodeFixedFrames(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"welcome", EncodeWelcome(1735689600000, false),
			`{"type":"welcome","version":"1.0.0","serverTime":1735689600000,"requiresAuth":false}`},
		{"welcome auth", EncodeWelcome(0, true),
			`{"type":"welcome","version":"1.0.0","serverTime":0,"requiresAuth":true}`},
		{"ping", EncodePing(1735689630000),
			`{"type":"ping","timestamp":1735689630000}`},
		{"ping negative", EncodePing(-1),
			`{"type":"ping","timestamp":-1}`},
		{"shutdown", EncodeShutdown(5000),
			`{"type":"system","event":"shutdown","gracePeriodMs":5000}`},
		{"events dropped", EncodeEventsDropped("sub-4", 17),
			`{"type":"system","event":"events_dropped","subscriptionId":"sub-4","count":17}`},
		{"events dropped escaping", EncodeEventsDropped("s\"<&>", 1),
			`{"type":"system","event":"events_dropped","subscriptionId":"s\"<&>","count":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Errorf("\n got %s\nwant %s", tc.got, tc.want)
			}
			if !json.Valid(tc.got) {
				t.Errorf("invalid JSON %s", tc.got)
			}
		})
	}
}

func TestEncodePush(t *testing.T) {
	cases := []struct {
		name    string
		channel string
		sub     string
		data    []byte
		want    string
	}{
		{"spec subscription example", ChannelSubscription, "sub-3", []byte(`[{"id":"a","name":"Ann"}]`),
			`{"type":"push","channel":"subscription","subscriptionId":"sub-3","data":[{"id":"a","name":"Ann"}]}`},
		{"event channel", ChannelEvent, "sub-4", []byte(`{"topic":"order.created"}`),
			`{"type":"push","channel":"event","subscriptionId":"sub-4","data":{"topic":"order.created"}}`},
		{"nil data omits the key", ChannelSubscription, "sub-5", nil,
			`{"type":"push","channel":"subscription","subscriptionId":"sub-5"}`},
		{"empty data omits the key", ChannelSubscription, "sub-5", []byte{},
			`{"type":"push","channel":"subscription","subscriptionId":"sub-5"}`},
		{"null data kept", ChannelSubscription, "sub-6", []byte(`null`),
			`{"type":"push","channel":"subscription","subscriptionId":"sub-6","data":null}`},
		{"escaped id", ChannelSubscription, "a\"b<c>", []byte(`1`),
			`{"type":"push","channel":"subscription","subscriptionId":"a\"b<c>","data":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := EncodePush(tc.channel, tc.sub, tc.data)
			if string(got) != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("invalid JSON %s", got)
			}
		})
	}
}

// EncodePush builds around data without keeping the caller's slice.
func TestEncodePushCopiesData(t *testing.T) {
	data := []byte(`[1]`)
	got := EncodePush(ChannelEvent, "s", data)
	data[1] = '2'
	if string(got) != `{"type":"push","channel":"event","subscriptionId":"s","data":[1]}` {
		t.Errorf("push frame aliases its data: %s", got)
	}
}

type otherError struct{}

func (otherError) Error() string { return "secret internal detail" }

func TestAsError(t *testing.T) {
	coded := &Error{Code: CodeNotFound, Message: "Record not found", Details: map[string]any{"k": 1}}
	var typedNil *Error
	cases := []struct {
		name string
		err  error
		want *Error // nil: the fixed INTERNAL_ERROR
	}{
		{"coded error as is", coded, coded},
		{"wrapped once", fmt.Errorf("op: %w", coded), coded},
		{"wrapped twice", fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", coded)), coded},
		{"joined", errors.Join(errors.New("first"), coded), coded},
		{"plain error", errors.New("boom"), nil},
		{"custom error", otherError{}, nil},
		{"wrapped plain error", fmt.Errorf("ctx: %w", otherError{}), nil},
		{"nil error", nil, nil},
		{"typed nil *Error", typedNil, nil},
		{"wrapped typed nil *Error", fmt.Errorf("x: %w", typedNil), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := AsError(tc.err)
			if got == nil {
				t.Fatal("AsError returned nil")
			}
			if tc.want != nil {
				if got != tc.want {
					t.Errorf("AsError = %p %v, want the same *Error %p", got, got, tc.want)
				}
				return
			}
			if got.Code != CodeInternal || got.Message != InternalMessage || got.Details != nil {
				t.Errorf("AsError = %s %q %v, want INTERNAL_ERROR %q without details", got.Code, got.Message, got.Details, InternalMessage)
			}
			frame := EncodeError(NumberID(1), got, true)
			if want := `{"id":1,"type":"error","code":"INTERNAL_ERROR","message":"Internal server error"}`; string(frame) != want {
				t.Errorf("frame %s, want %s", frame, want)
			}
		})
	}
	// Each unexpected failure gets its own value, so a caller mutating one
	// cannot affect the next.
	if AsError(errors.New("a")) == AsError(errors.New("b")) {
		t.Error("AsError shares the INTERNAL_ERROR value between calls")
	}
}

func TestErrorConstructors(t *testing.T) {
	e := NewError(CodeForbidden, "No access")
	if e.Code != CodeForbidden || e.Message != "No access" || e.Details != nil {
		t.Errorf("NewError = %+v", e)
	}
	if e.Error() != "FORBIDDEN: No access" {
		t.Errorf("Error() = %q", e.Error())
	}
	f := Errorf(CodeUnknownOperation, "Unknown %s operation %q", "store", "store.nope")
	if f.Code != CodeUnknownOperation || f.Message != `Unknown store operation "store.nope"` {
		t.Errorf("Errorf = %+v", f)
	}
	// A literal percent in a fixed message is not a format verb.
	if g := NewError(CodeValidation, "100% wrong"); g.Message != "100% wrong" {
		t.Errorf("NewError mangled message: %q", g.Message)
	}
}
