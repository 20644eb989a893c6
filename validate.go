package unhidra

import (
	"unicode"
	"unicode/utf8"
)

// MaxIDLength is the longest opaque id any request may carry.
const MaxIDLength = 128

// CheckID accepts an opaque id: 1 to MaxIDLength bytes of valid UTF-8
// without NUL or other control characters. Every transport checks ids with
// it before they reach a service or the database, so that a malformed id is
// a clear invalid_argument, never a driver error.
func CheckID(field, v string) error {
	if v == "" || len(v) > MaxIDLength || !utf8.ValidString(v) || hasControl(v) {
		return Errorf(EInvalid, "%s is not a valid id", field)
	}
	return nil
}

// CheckText accepts user text on one line: valid UTF-8, at most maxRunes
// code points, no NUL or other control characters.
func CheckText(field, v string, maxRunes int) error {
	if !utf8.ValidString(v) {
		return Errorf(EInvalid, "%s must be valid UTF-8", field)
	}
	if utf8.RuneCountInString(v) > maxRunes {
		return Errorf(EInvalid, "%s must be at most %d characters", field, maxRunes)
	}
	if hasControl(v) {
		return Errorf(EInvalid, "%s must not contain control characters", field)
	}
	return nil
}

// CheckParam accepts a free-form string that reaches the database (a query
// parameter, a cursor): valid UTF-8 without NUL, at most maxBytes.
func CheckParam(field, v string, maxBytes int) error {
	if len(v) > maxBytes {
		return Errorf(EInvalid, "%s must be at most %d bytes", field, maxBytes)
	}
	if !utf8.ValidString(v) {
		return Errorf(EInvalid, "%s must be valid UTF-8", field)
	}
	for i := 0; i < len(v); i++ {
		if v[i] == 0 {
			return Errorf(EInvalid, "%s must not contain NUL", field)
		}
	}
	return nil
}

func hasControl(v string) bool {
	for _, r := range v {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
