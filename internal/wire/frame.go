// Package wire holds the JSON envelope of the noex protocol: parsing and
// validating inbound frames (PROTOCOL.md §1.10), the error codes of §10 and
// the encoding of every outbound frame kind. It knows nothing of WebSocket.
package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
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
func Parse(payload []byte) Inbound {
	if !json.Valid(payload) {
		return invalid(ZeroID, CodeParseError, MsgInvalidJSON)
	}
	if first := firstByte(payload); first != '{' {
		return invalid(ZeroID, CodeParseError, MsgNotObject)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		// json.Valid accepted it, so this is an object the decoder cannot
		// hold (for example nesting deeper than it allows).
		return invalid(ZeroID, CodeParseError, MsgInvalidJSON)
	}
	id, idOK := finiteNumber(fields["id"])
	var echo ID
	if idOK {
		echo = ID{text: formatNumber(id)}
	}
	typ, ok := nonEmptyString(fields["type"])
	if !ok {
		return invalid(echo, CodeInvalidRequest, MsgMissingType)
	}
	if typ == typePong {
		ts, ok := finiteNumber(fields["timestamp"])
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
	if v == 0 {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > maxEchoedIDBytes {
		return ""
	}
	return string(b)
}
