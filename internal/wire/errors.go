package wire

import (
	"errors"
	"fmt"
)

// Code is a protocol error code (PROTOCOL.md §10.1).
type Code string

// The error codes a client can receive.
const (
	CodeParseError        Code = "PARSE_ERROR"
	CodeInvalidRequest    Code = "INVALID_REQUEST"
	CodeUnknownOperation  Code = "UNKNOWN_OPERATION"
	CodeValidation        Code = "VALIDATION_ERROR"
	CodeNotFound          Code = "NOT_FOUND"
	CodeAlreadyExists     Code = "ALREADY_EXISTS"
	CodeConflict          Code = "CONFLICT"
	CodeUnauthorized      Code = "UNAUTHORIZED"
	CodeForbidden         Code = "FORBIDDEN"
	CodeRateLimited       Code = "RATE_LIMITED"
	CodeBackpressure      Code = "BACKPRESSURE"
	CodeInternal          Code = "INTERNAL_ERROR"
	CodeBucketNotDefined  Code = "BUCKET_NOT_DEFINED"
	CodeQueryNotDefined   Code = "QUERY_NOT_DEFINED"
	CodeRulesNotAvailable Code = "RULES_NOT_AVAILABLE"
	CodeSessionRevoked    Code = "SESSION_REVOKED"
)

// InternalMessage is the fixed text of an unexpected failure (§1.11).
const InternalMessage = "Internal server error"

// Error is a failure the client is told about: a code, a message and
// optional structured details. It is created where the failure is understood
// and turned into a frame in exactly one place (AppendError).
type Error struct {
	Code    Code
	Message string
	// Details is sent as the frame's "details" unless error details are
	// hidden by configuration. Nil means no details.
	Details any
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NewError builds an *Error with a fixed message.
func NewError(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// AsError finds the *Error in err's chain. Anything else is an unexpected
// failure and becomes INTERNAL_ERROR with the fixed message, so internal
// details never reach a client by accident. A nil *Error in the chain (a
// typed nil returned as error) counts as unexpected too: the result is never
// nil.
func AsError(err error) *Error {
	var we *Error
	if errors.As(err, &we) && we != nil {
		return we
	}
	return &Error{Code: CodeInternal, Message: InternalMessage}
}
