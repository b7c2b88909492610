package client

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// Error codes the server sends (PROTOCOL.md §10.1).
const (
	CodeParseError        = "PARSE_ERROR"
	CodeInvalidRequest    = "INVALID_REQUEST"
	CodeUnknownOperation  = "UNKNOWN_OPERATION"
	CodeValidation        = "VALIDATION_ERROR"
	CodeNotFound          = "NOT_FOUND"
	CodeAlreadyExists     = "ALREADY_EXISTS"
	CodeConflict          = "CONFLICT"
	CodeUnauthorized      = "UNAUTHORIZED"
	CodeForbidden         = "FORBIDDEN"
	CodeRateLimited       = "RATE_LIMITED"
	CodeBackpressure      = "BACKPRESSURE"
	CodeInternal          = "INTERNAL_ERROR"
	CodeBucketNotDefined  = "BUCKET_NOT_DEFINED"
	CodeQueryNotDefined   = "QUERY_NOT_DEFINED"
	CodeRulesNotAvailable = "RULES_NOT_AVAILABLE"
	CodeSessionRevoked    = "SESSION_REVOKED"
)

// WebSocket close codes the server uses (PROTOCOL.md §1.13,
// COMPATIBILITY.md).
const (
	CloseNormal             = 1000
	CloseGoingAway          = 1001
	CloseUnsupportedData    = 1003
	CloseInvalidPayload     = 1007
	CloseMessageTooBig      = 1009
	CloseHeartbeatTimeout   = 4001
	CloseSessionRevoked     = 4002
	CloseTooManyConnections = 4003
	CloseSlowConsumer       = 4008
)

var (
	// ErrDisconnected matches the error of every request that was waiting
	// for its answer when the connection dropped. Such requests are never
	// sent again: the caller decides whether a retry is safe. The error
	// also wraps the cause, e.g. a *CloseError.
	ErrDisconnected = errors.New("noex client: disconnected")
	// ErrClosed matches the error of requests made after the client was
	// closed, by Close or because it gave up reconnecting (then the error
	// also wraps the cause).
	ErrClosed = errors.New("noex client: closed")
)

// Error is a request the server answered with an error frame
// (PROTOCOL.md §1.6). Use errors.As to get it, or IsCode.
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Message is the server's text.
	Message string
	// Details is the optional structured data (nil when absent).
	Details json.RawMessage
}

func (e *Error) Error() string { return "noex: " + e.Code + ": " + e.Message }

// Is makes errors.Is(err, &Error{Code: c}) match any error with code c;
// a target with a Message must match it too.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// DecodeDetails unmarshals Details into v.
func (e *Error) DecodeDetails(v any) error {
	if len(e.Details) == 0 {
		return errors.New("noex client: error has no details")
	}
	return json.Unmarshal(e.Details, v)
}

// RetryAfter returns details.retryAfterMs of a RATE_LIMITED error.
func (e *Error) RetryAfter() (time.Duration, bool) {
	var d struct {
		RetryAfterMs *float64 `json:"retryAfterMs"`
	}
	if len(e.Details) == 0 || json.Unmarshal(e.Details, &d) != nil || d.RetryAfterMs == nil {
		return 0, false
	}
	return time.Duration(*d.RetryAfterMs * float64(time.Millisecond)), true
}

// IsCode reports whether err is (or wraps) an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// CloseError is the close frame the server ended a connection with.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	s := "noex: connection closed with " + strconv.Itoa(e.Code)
	if e.Reason != "" {
		s += " " + e.Reason
	}
	return s
}

// CloseCode returns the WebSocket close code carried by err, if any.
func CloseCode(err error) (int, bool) {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code, true
	}
	return 0, false
}
