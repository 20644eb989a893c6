package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/unhidra/unhidra"
)

// The users table is written by the accounts store (store/authstore), but
// more than one service reads users: chat resolves a user for its own
// checks. The scanning of a users row lives here, once, so that neither
// service store imports the other and, through it, another service.

// UserColumns are the users columns ScanUser reads, in its order, for
// `SELECT ` + UserColumns + ` FROM users …` (or a RETURNING clause).
const UserColumns = `id, username, display_name, status_text, role, disabled, deleted_at, created_at, updated_at`

// ScanUser scans a row of UserColumns followed by extra destinations.
func ScanUser(s Scanner, extra ...any) (*unhidra.User, error) {
	var u unhidra.User
	var created, updated int64
	var deleted sql.NullInt64
	dest := append([]any{&u.ID, &u.Username, &u.DisplayName, &u.StatusText, &u.Role, &u.Disabled, &deleted, &created, &updated}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	u.Deleted = deleted.Valid
	u.CreatedAt, u.UpdatedAt = Time(created), Time(updated)
	return &u, nil
}

// UserByID reads the user through c, or returns ENotFound.
func UserByID(ctx context.Context, c Conn, id string) (*unhidra.User, error) {
	u, err := ScanUser(c.QueryRow(ctx, `SELECT `+UserColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "user not found")
	} else if err != nil {
		return nil, fmt.Errorf("user by id: %w", err)
	}
	return u, nil
}
