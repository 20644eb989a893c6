package store

import (
	"database/sql"
	"fmt"

	"github.com/unhidra/unhidra"
)

// Scanner is *sql.Row or *sql.Rows, so that one scan function serves a
// single-row read and a listing.
type Scanner interface{ Scan(dest ...any) error }

// Collect scans every row with scan, closes rows, and prefixes any error
// with op.
func Collect[T any](rows *sql.Rows, op string, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// NotFound is the contract error for a missing row: ENotFound with the
// message "<what> not found".
func NotFound(what string) error { return unhidra.Errorf(unhidra.ENotFound, "%s not found", what) }
