package unhidra

import (
	"errors"
	"fmt"
)

// Error codes shared by every transport. httpapi maps each to exactly one HTTP
// status; the gateway sends them verbatim in error frames.
const (
	EInvalid         = "invalid_argument"  // 400
	EUnauthenticated = "unauthenticated"   // 401
	EPermission      = "permission_denied" // 403
	ENotFound        = "not_found"         // 404
	EConflict        = "conflict"          // 409
	ETooLarge        = "payload_too_large" // 413
	ERateLimited     = "rate_limited"      // 429
	EInternal        = "internal"          // 500
	EUnavailable     = "unavailable"       // 503

	// EPasswordLoginDisabled refuses a password login or registration under
	// the "SSO only" policy (--password-login sso-only) for an account that
	// is not break-glass: sign in through SSO instead.
	EPasswordLoginDisabled = "password_login_disabled" // 403
)

// Error is an application error whose Message is safe to show to the caller.
// Anything else (a wrapped driver error, a file path) stays in Err and is only
// ever logged.
type Error struct {
	Code    string
	Message string
	// RetryAfterSeconds, when positive, tells a rate-limited caller when to retry.
	RetryAfterSeconds int
	// Err is internal detail, never shown to the caller.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a caller-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of err. Errors that are not
// *Error never leak their text: they read "internal error".
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// RetryAfter returns the retry hint in seconds carried by err, or 0.
func RetryAfter(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfterSeconds
	}
	return 0
}
