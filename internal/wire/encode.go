package wire

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
)

// ProtocolVersion is sent in the welcome frame.
const ProtocolVersion = "1.0.0"

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Marshal encodes v as compact JSON the way the reference's JSON.stringify
// would: no HTML escaping, no trailing newline. A json.RawMessage is copied
// with insignificant whitespace removed; a nil one is null and one that is
// not valid JSON is an error, as with encoding/json, so a frame built from
// the result is always valid JSON.
func Marshal(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if raw == nil {
			return []byte("null"), nil
		}
		out := make([]byte, 0, len(raw))
		buf := bytes.NewBuffer(out)
		if err := json.Compact(buf, raw); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	return append([]byte(nil), out...), nil
}

// JSONAppender is a result that writes itself as compact JSON, exactly as
// Marshal would, straight into the frame (no reflection, no copy, no
// re-validation). Store records, which are encoded once when written,
// implement it.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
	// JSONSizeHint is the expected encoded size (for the frame buffer).
	JSONSizeHint() int
}

// Compact is JSON text known to be valid and compact (a constant result):
// it is written as is.
type Compact []byte

// AppendJSON appends c.
func (c Compact) AppendJSON(b []byte) ([]byte, error) { return append(b, c...), nil }

// JSONSizeHint is len(c).
func (c Compact) JSONSizeHint() int { return len(c) }

// Absent is the value of an operation that produced nothing: the "data" key
// is omitted from the result frame (§0.3).
type absent struct{}

// Absent marks a result whose "data" key is omitted.
var Absent any = absent{}

// EncodeResult builds a result frame. data == Absent omits the key.
func EncodeResult(id ID, data any) ([]byte, error) {
	if a, ok := data.(JSONAppender); ok {
		out := make([]byte, 0, 64+a.JSONSizeHint())
		out = append(out, `{"id":`...)
		out = append(out, id.String()...)
		out = append(out, `,"type":"result","data":`...)
		out, err := a.AppendJSON(out)
		if err != nil {
			return nil, err
		}
		return append(out, '}'), nil
	}
	var body []byte
	if data != Absent {
		var err error
		body, err = Marshal(data)
		if err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, len(body)+40)
	out = append(out, `{"id":`...)
	out = append(out, id.String()...)
	out = append(out, `,"type":"result"`...)
	if data != Absent {
		out = append(out, `,"data":`...)
		out = append(out, body...)
	}
	return append(out, '}'), nil
}

// EncodeError builds an error frame; details are left out when withDetails
// is false (exposeErrorDetails, §8.7) or when there are none.
func EncodeError(id ID, e *Error, withDetails bool) []byte {
	out := make([]byte, 0, 96+len(e.Message))
	out = append(out, `{"id":`...)
	out = append(out, id.String()...)
	out = append(out, `,"type":"error","code":`...)
	out = appendString(out, string(e.Code))
	out = append(out, `,"message":`...)
	out = appendString(out, e.Message)
	if withDetails && e.Details != nil {
		if d, err := Marshal(e.Details); err == nil {
			out = append(out, `,"details":`...)
			out = append(out, d...)
		}
	}
	return append(out, '}')
}

// EncodeWelcome builds the first frame of every accepted connection (§1.4).
func EncodeWelcome(serverTime int64, requiresAuth bool) []byte {
	out := make([]byte, 0, 96)
	out = append(out, `{"type":"welcome","version":"`+ProtocolVersion+`","serverTime":`...)
	out = strconv.AppendInt(out, serverTime, 10)
	out = append(out, `,"requiresAuth":`...)
	out = strconv.AppendBool(out, requiresAuth)
	return append(out, '}')
}

// EncodePing builds a heartbeat probe (§1.8).
func EncodePing(timestamp int64) []byte {
	out := make([]byte, 0, 48)
	out = append(out, `{"type":"ping","timestamp":`...)
	out = strconv.AppendInt(out, timestamp, 10)
	return append(out, '}')
}

// EncodeShutdown builds the system frame sent when a graceful stop begins.
func EncodeShutdown(gracePeriodMs int64) []byte {
	out := make([]byte, 0, 64)
	out = append(out, `{"type":"system","event":"shutdown","gracePeriodMs":`...)
	out = strconv.AppendInt(out, gracePeriodMs, 10)
	return append(out, '}')
}

// EncodeEventsDropped tells a client how many rules events one of its
// subscriptions lost while its connection was congested (COMPATIBILITY.md,
// "Backpressure").
func EncodeEventsDropped(subscriptionID string, count int64) []byte {
	out := make([]byte, 0, 96)
	out = append(out, `{"type":"system","event":"events_dropped","subscriptionId":`...)
	out = appendString(out, subscriptionID)
	out = append(out, `,"count":`...)
	out = strconv.AppendInt(out, count, 10)
	return append(out, '}')
}

// Push channels (§1.7).
const (
	ChannelSubscription = "subscription"
	ChannelEvent        = "event"
)

// PushHead is the start of a push frame, up to and including the
// subscription id: {"type":"push","channel":<channel>,"subscriptionId":<id>
// A push is its head, then `,"data":<data>` unless the data is absent, then
// `}`; fan-out keeps one head per subscriber and shares the rest.
func PushHead(channel, subscriptionID string) []byte {
	out := make([]byte, 0, 64+len(subscriptionID))
	out = append(out, `{"type":"push","channel":`...)
	out = appendString(out, channel)
	out = append(out, `,"subscriptionId":`...)
	return appendString(out, subscriptionID)
}

// EncodePush builds a push frame around already encoded data. A nil (or
// empty) data omits the key (§0.3).
func EncodePush(channel, subscriptionID string, data []byte) []byte {
	out := PushHead(channel, subscriptionID)
	if len(data) != 0 {
		out = append(out, `,"data":`...)
		out = append(out, data...)
	}
	return append(out, '}')
}

func appendString(out []byte, s string) []byte {
	b, err := Marshal(s)
	if err != nil {
		return append(out, `""`...)
	}
	return append(out, b...)
}
