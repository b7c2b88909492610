package procedures

import (
	"strings"

	"github.com/noex-go/noex/store"
)

// The failures of this package. The server maps each to its protocol
// error (PROTOCOL.md §7.2, "Error mapping"); messages are the protocol's.

// ValidationError is an invalid definition, with every problem found.
type ValidationError struct{ Issues []string }

func (e *ValidationError) Error() string {
	return "Procedure validation failed: " + strings.Join(e.Issues, "; ")
}

// InputError is a call whose input does not match the definition's input
// schema (§7.2.4).
type InputError struct{ Issues []string }

func (e *InputError) Error() string {
	return "Invalid procedure input: " + strings.Join(e.Issues, "; ")
}

// NotFoundError is an unknown procedure name.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return `Procedure "` + e.Name + `" not found` }

// AlreadyExistsError is a register of a name in use.
type AlreadyExistsError struct{ Name string }

func (e *AlreadyExistsError) Error() string { return `Procedure "` + e.Name + `" already exists` }

// TimeoutError is a call that did not finish within its timeout; it was
// cancelled.
type TimeoutError struct {
	Name      string
	TimeoutMs float64
}

func (e *TimeoutError) Error() string {
	return `Procedure "` + e.Name + `" timed out after ` + store.FormatNumber(e.TimeoutMs) + "ms"
}

// StepError is the failure of one step: Err is what failed (a store or
// rules error, a denial, or a message of this package such as
// `aggregate: source "x" is not an array`); Path ("steps[1].then[0]") and
// Action name the step. Its message is Err's.
type StepError struct {
	Path   string
	Action string
	Err    error
}

func (e *StepError) Error() string { return e.Err.Error() }

func (e *StepError) Unwrap() error { return e.Err }

// Failure is an error raised by a step itself (not by the store or the
// rules engine), with the reference's message.
type Failure struct{ Message string }

func (e *Failure) Error() string { return e.Message }

func failf(parts ...string) error { return &Failure{Message: strings.Join(parts, "")} }
