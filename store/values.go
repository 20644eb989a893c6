package store

import (
	"database/sql"
	"strings"
	"time"
)

// Times are stored as BIGINT unix microseconds UTC on both engines: one
// representation, exact round trips, no time-zone or driver-format surprises.

// Micros is t as stored: unix microseconds.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// MicrosPtr is Micros for a time that may be absent: nil is stored as NULL.
func MicrosPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// Time is the stored unix microseconds us as a UTC time.
func Time(us int64) time.Time { return time.UnixMicro(us).UTC() }

// TimePtr is Time for a nullable column: NULL is nil.
func TimePtr(us sql.NullInt64) *time.Time {
	if !us.Valid {
		return nil
	}
	t := Time(us.Int64)
	return &t
}

// Blob keeps a nil slice NULL: the SQLite driver would otherwise bind it as
// an empty blob.
func Blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// Fold is the one case folding of names that are compared
// case-insensitively (usernames, display names, channel names), applied in
// Go rather than SQL so that both engines (and SQLite's ASCII-only lower())
// agree. The folded form is stored beside the name and queried with Fold of
// the input.
func Fold(s string) string { return strings.ToLower(s) }

// EscapeLike makes s match itself literally in a LIKE pattern written with
// ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Placeholders returns "?, ?, …" for n values, for an IN list.
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
