package unhidra

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIDLength is the longest opaque id, in bytes, any transport accepts.
// Ids this server makes are UUIDs (36 bytes) and tokens (about 50); the
// margin leaves room for other id schemes without letting a path segment or
// a JSON field carry kilobytes into a query.
const MaxIDLength = 128

// The checks below are the one gate between what a client sends and what
// reaches the database or a log: PostgreSQL refuses NUL and invalid UTF-8 in
// text (SQLSTATE 22021), so anything that could carry them is checked here,
// at the edge, by every transport alike, and refused with EInvalid and a
// message naming the field.

// CheckID checks an opaque id: non-empty, at most MaxIDLength bytes, valid
// UTF-8, without NUL or other control characters.
func CheckID(field, v string) error {
	if v == "" || len(v) > MaxIDLength || !utf8.ValidString(v) || hasControl(v) {
		return Errorf(EInvalid, "%s is not a valid id", field)
	}
	return nil
}

// CheckText checks user text (a display name, a topic, a status): valid
// UTF-8, at most maxRunes code points, no NUL and no other control
// character. Newlines and tabs are refused too: this is for one-line text;
// message bodies have their own rules.
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

// CheckParam checks a query parameter or other free-form string on its way
// to the database: valid UTF-8, no NUL, at most maxBytes bytes.
func CheckParam(field, v string, maxBytes int) error {
	if len(v) > maxBytes {
		return Errorf(EInvalid, "%s must be at most %d bytes", field, maxBytes)
	}
	if !utf8.ValidString(v) {
		return Errorf(EInvalid, "%s must be valid UTF-8", field)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return Errorf(EInvalid, "%s must not contain NUL bytes", field)
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
