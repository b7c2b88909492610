// Package wire holds the JSON envelope of the noex protocol: parsing and
// validating inbound frames (PROTOCOL.md §1.10), the error codes of §10 and
// the encoding of every outbound frame kind. It knows nothing of WebSocket.
package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Frame validation messages of PROTOCOL.md §1.10, in check order.
const (
	MsgInvalidJSON   = "Invalid JSON"
	MsgNotObject     = "Message must be a JSON object"
	MsgMissingType   = `Message must include non-empty string "type"`
	MsgBadPongTime   = `Pong must include finite numeric "timestamp"`
	MsgMissingID     = `Request must include finite numeric "id"`
	typePong         = "pong"
	maxEchoedIDBytes = 64
)

// Kind tells what an inbound frame turned out to be.
type Kind uint8

const (
	// KindRequest is a frame with a valid id and type: dispatch it.
	KindRequest Kind = iota + 1
	// KindPong is a heartbeat answer with a finite timestamp.
	KindPong
	// KindInvalid failed a §1.10 check: answer Err with ID.
	KindInvalid
)

// Inbound is one parsed client frame.
type Inbound struct {
	Kind Kind
	// ID is the request id to echo. For KindInvalid it is the id the error
	// frame carries: the frame's own id when it was a finite number
	// (COMPATIBILITY.md, P§11 #1), otherwise 0.
	ID ID
	// Type is the operation name of a request.
	Type string
	// Timestamp is a pong's timestamp.
	Timestamp float64
	// Fields holds every top-level key of a request, undecoded, so each
	// operation checks its own parameters with JavaScript-like typing.
	//
	// Nothing in it aliases the payload given to Parse, which the caller
	// may reuse as soon as Parse returns: the values are copies, made in
	// one allocation per frame and each capped at its own length (append
	// to one reallocates, it never writes into its neighbour), so a value
	// kept after the request keeps the frame's other values alive too,
	// never the payload. The keys likewise share one string.
	Fields map[string]json.RawMessage
	// Err is set for KindInvalid.
	Err *Error
}

// ID is a request id: any finite JSON number, echoed back unchanged in
// value. It keeps its JavaScript rendering so the echo matches what the
// reference server would write.
//
// IDs are comparable with ==: two ids are equal when they echo the same
// number (the rendering is canonical, and every zero is ZeroID).
type ID struct {
	text string // canonical JSON rendering; empty means 0
}

// ZeroID is the id of errors that answer an unparseable frame.
var ZeroID = ID{}

// NumberID builds an id from a number (for tests and clients).
func NumberID(v float64) ID {
	return ID{text: formatNumber(v)}
}

// String returns the id's JSON text.
func (id ID) String() string {
	if id.text == "" {
		return "0"
	}
	return id.text
}

// Parse validates one text frame in the order of PROTOCOL.md §1.10.
//
// It reads the frame in one pass (scan.go) and answers exactly as
// json.Valid followed by json.Unmarshal into a map[string]json.RawMessage
// would: the same frames are invalid JSON, a duplicate key's last value
// wins, keys are matched case-sensitively after decoding their escapes.
func Parse(payload []byte) Inbound {
	var inline [8]member // a request rarely has more top-level keys
	members, object, ok := scanFrame(payload, inline[:0])
	if !ok {
		return invalid(ZeroID, CodeParseError, MsgInvalidJSON)
	}
	if !object {
		return invalid(ZeroID, CodeParseError, MsgNotObject)
	}
	obj := newFrameObject(payload, members)
	id, idOK := finiteNumber(obj.value("id"))
	typ, ok := stringText(obj.value("type"))
	if !ok || len(typ) == 0 {
		return invalid(echoID(id, idOK), CodeInvalidRequest, MsgMissingType)
	}
	if string(typ) == typePong {
		ts, ok := finiteNumber(obj.value("timestamp"))
		if !ok {
			return invalid(echoID(id, idOK), CodeInvalidRequest, MsgBadPongTime)
		}
		return Inbound{Kind: KindPong, Timestamp: ts}
	}
	if !idOK {
		return invalid(ZeroID, CodeInvalidRequest, MsgMissingID)
	}
	return Inbound{Kind: KindRequest, ID: echoID(id, true), Type: string(typ), Fields: obj.fields()}
}

// echoID is the id an answer to the frame carries: its own when finite.
func echoID(v float64, finite bool) ID {
	if !finite {
		return ZeroID
	}
	return ID{text: formatNumber(v)}
}

// frameObject is a frame that scanFrame found to be a valid JSON object.
type frameObject struct {
	payload []byte
	members []member
	// decoded holds, by member index, the keys whose text is not the key
	// itself (see member.plain); nil when every key is plain.
	decoded []string
}

func newFrameObject(payload []byte, members []member) frameObject {
	obj := frameObject{payload: payload, members: members}
	for i, m := range members {
		if m.plain {
			continue
		}
		if obj.decoded == nil {
			obj.decoded = make([]string, len(members))
		}
		obj.decoded[i] = string(appendUnquoted(nil, payload[m.keyStart:m.keyEnd]))
	}
	return obj
}

// value returns the raw value of the last member named name, nil when
// there is none: as with encoding/json, a later duplicate wins.
func (obj *frameObject) value(name string) []byte {
	for i := len(obj.members) - 1; i >= 0; i-- {
		m := &obj.members[i]
		if m.plain && string(obj.payload[m.keyStart:m.keyEnd]) == name || !m.plain && obj.decoded[i] == name {
			return obj.payload[m.valStart:m.valEnd]
		}
	}
	return nil
}

// fields copies the members out of the payload: every value into one
// byte slice, every plain key into one string (see Inbound.Fields).
func (obj *frameObject) fields() map[string]json.RawMessage {
	keyBytes, valueBytes := 0, 0
	for _, m := range obj.members {
		if m.plain {
			keyBytes += m.keyEnd - m.keyStart
		}
		valueBytes += m.valEnd - m.valStart
	}
	var kb strings.Builder
	kb.Grow(keyBytes)
	for _, m := range obj.members {
		if m.plain {
			kb.Write(obj.payload[m.keyStart:m.keyEnd])
		}
	}
	keys := kb.String()
	values := make([]byte, 0, valueBytes)
	fields := make(map[string]json.RawMessage, len(obj.members))
	for i, m := range obj.members {
		var key string
		if m.plain {
			key, keys = keys[:m.keyEnd-m.keyStart], keys[m.keyEnd-m.keyStart:]
		} else {
			key = obj.decoded[i]
		}
		start := len(values)
		values = append(values, obj.payload[m.valStart:m.valEnd]...)
		fields[key] = values[start:len(values):len(values)]
	}
	return fields
}

// stringText returns the decoded text of raw when it is a JSON string;
// raw must be valid JSON.
func stringText(raw []byte) ([]byte, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return nil, false
	}
	if text, ok := plainString(raw); ok {
		return text, true
	}
	return appendUnquoted(nil, raw[1:len(raw)-1]), true
}

func invalid(id ID, code Code, msg string) Inbound {
	return Inbound{Kind: KindInvalid, ID: id, Err: NewError(code, msg)}
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// finiteNumber reports whether raw is a JSON number that fits a double.
func finiteNumber(raw json.RawMessage) (float64, bool) {
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

// FiniteNumber reports whether raw is a JSON number that fits a double.
func FiniteNumber(raw json.RawMessage) (float64, bool) { return finiteNumber(raw) }

func nonEmptyString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if text, ok := plainString(raw); ok {
		// What json.Unmarshal would decode, without its reflection.
		return string(text), len(text) > 0
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", false
	}
	return s, true
}

// NonEmptyString decodes raw when it is a non-empty JSON string.
func NonEmptyString(raw json.RawMessage) (string, bool) { return nonEmptyString(raw) }

// formatNumber renders v as JavaScript's JSON.stringify would: the shortest
// round-trip form, exponents from 1e21, and -0 written as 0. Zero (and any
// value that cannot be echoed) is returned as "", the text of ZeroID, so
// that every id equal to 0 is == ZeroID.
func formatNumber(v float64) string {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return ""
	}
	// What json.Marshal(v) writes (ECMAScript's number to string
	// conversion), without its reflection.
	format := byte('f')
	if abs := math.Abs(v); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], v, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 → e-7
		b = b[:n-1]
	}
	if len(b) > maxEchoedIDBytes {
		return ""
	}
	return string(b)
}
