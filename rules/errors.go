package rules

import (
	"errors"
	"fmt"
)

// The engine's typed failures. Each carries what the wire layer needs to
// pick a protocol code (PROTOCOL.md §5.1); match them with errors.As.

// NotRunningError is a mutating call on a stopped engine
// (RULES_NOT_AVAILABLE on the wire).
type NotRunningError struct{ Name string }

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("RuleEngine %q is not running", e.Name)
}

// NotFoundError is an unknown rule, group or other named object
// (NOT_FOUND on the wire, COMPATIBILITY.md P§11 #15 for updateRule).
type NotFoundError struct {
	// Kind is "rule" or "group".
	Kind string
	ID   string
	msg  string
}

func (e *NotFoundError) Error() string { return e.msg }

func ruleNotFound(id string) *NotFoundError {
	return &NotFoundError{Kind: "rule", ID: id, msg: fmt.Sprintf("Rule %q not found", id)}
}

// ruleNotFoundForUpdate keeps the reference's single-quoted message of
// updateRule (PROTOCOL.md §10 message list).
func ruleNotFoundForUpdate(id string) *NotFoundError {
	return &NotFoundError{Kind: "rule", ID: id, msg: fmt.Sprintf("Rule '%s' not found", id)}
}

func groupNotFound(id string) *NotFoundError {
	return &NotFoundError{Kind: "group", ID: id, msg: fmt.Sprintf("Group %q not found", id)}
}

// AlreadyExistsError is a registration of a rule id that is already in use
// (ALREADY_EXISTS on the wire).
type AlreadyExistsError struct {
	Kind string
	ID   string
}

func (e *AlreadyExistsError) Error() string {
	if e.Kind == "group" {
		return fmt.Sprintf("Group %q already exists", e.ID)
	}
	return fmt.Sprintf("Rule %q already exists", e.ID)
}

// ValidationError is a rule definition that failed validation
// (VALIDATION_ERROR on the wire, with Issues as the details). Message is
// "Rule validation failed", or the group message of RULES.md §10.2.
type ValidationError struct {
	Message string
	Issues  []Issue
}

func (e *ValidationError) Error() string { return e.Message }

// ValidationFailed is the message of a ValidationError built from
// validation issues (RULES.md §10.1).
const ValidationFailed = "Rule validation failed"

// ErrInvalidDuration is wrapped by every duration parse failure.
var ErrInvalidDuration = errors.New("invalid duration")

type durationError struct{ text string }

func (e *durationError) Error() string { return "Invalid duration: " + e.text }
func (e *durationError) Unwrap() error { return ErrInvalidDuration }
