package protocol

import (
	"errors"
	"fmt"
)

// Code is the machine-readable kind of an error; Message says it to a human.
type Code string

// Error codes. Clients switch on these; new codes may appear, so treat unknown ones as
// Internal.
const (
	BadInput     Code = "bad_input"    // the request is malformed or breaks a rule
	TooLarge     Code = "too_large"    // a frame, params or payload over its limit
	Busy         Code = "busy"         // a queue is full; try again later
	RateLimited  Code = "rate_limited" // too many messages per second on this connection
	Engine       Code = "engine"       // the engine failed while running the work
	NotFound     Code = "not_found"    // no such project, job or kind
	Unauthorized Code = "unauthorized" // missing or wrong token
	UnknownType  Code = "unknown_type" // a message type this side does not know
	VersionCode  Code = "version"      // the hello's protocol version is not spoken here
	Superseded   Code = "superseded"   // a newer live request replaced this one
	CancelledErr Code = "cancelled"    // the work was cancelled before it finished
	Internal     Code = "internal"     // a bug or an I/O failure on the server
)

// Error is a typed protocol error. It travels as the body of an "error" frame whose seq is
// the seq of the request it answers (0 when the request's seq could not be read).
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Seq     uint64 `json:"-"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Validate accepts any code so that newer servers can add codes.
func (e *Error) Validate() error {
	if e.Code == "" {
		return &Error{Code: BadInput, Message: "error frame without a code"}
	}
	return nil
}

// Is makes errors.Is(err, &Error{Code: X}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Errorf builds a typed error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of a typed error anywhere in err's chain, or Internal.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return Internal
}

// AsError turns any error into a typed one (Internal when it carries no code).
func AsError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Code: Internal, Message: err.Error()}
}
