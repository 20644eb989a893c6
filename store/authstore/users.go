package authstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// CreateUser inserts u. An empty u.ID gets a fresh UUID, a zero CreatedAt
// gets opts.Now, a zero UpdatedAt gets CreatedAt and an empty Role gets
// RoleMember; u is updated in place. A zero opts.Now means the current time,
// so that an expired invite can never pass for lack of a clock.
//
// RequireNoAdmin counts every admin, disabled ones included: disabling the
// only admin must not reopen the first-user bootstrap to anyone.
func (st *Store) CreateUser(ctx context.Context, u *unhidra.User, passwordHash string, opts auth.CreateUserOptions) error {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	if u.Role == "" {
		u.Role = unhidra.RoleMember
	}
	// What the caller gets back must be what a read returns.
	u.CreatedAt, u.UpdatedAt = store.Time(store.Micros(u.CreatedAt)), store.Time(store.Micros(u.UpdatedAt))

	err := auditstore.Tx(ctx, st.db, func(c store.Conn) error {
		if opts.RequireNoAdmin {
			if err := c.LockTable(ctx, "users"); err != nil {
				return err
			}
			var n int
			if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = ?`, unhidra.RoleAdmin).Scan(&n); err != nil {
				return fmt.Errorf("count admins: %w", err)
			}
			if n > 0 {
				return unhidra.Errorf(unhidra.EConflict, "an administrator already exists")
			}
		}
		if opts.InviteCode != "" {
			// The conditions sit in the UPDATE itself: on PostgreSQL a
			// concurrent consumer blocks on the row and re-checks them
			// against the committed count, so an invite is never overused.
			n, err := c.ExecN(ctx, `UPDATE invites SET uses = uses + 1
				WHERE code = ? AND uses < max_uses AND (expires_at IS NULL OR expires_at > ?)`,
				opts.InviteCode, store.Micros(now))
			if err != nil {
				return fmt.Errorf("consume invite: %w", err)
			}
			if n != 1 {
				return unhidra.Errorf(unhidra.ENotFound, "invite not found, expired or used up")
			}
		}
		if opts.SetupTokenHash != nil {
			// After the admin check, which holds the users lock: of two
			// registrations with one token, the second finds the admin.
			n, err := c.ExecN(ctx, `DELETE FROM setup_tokens WHERE hash = ?`, opts.SetupTokenHash)
			if err != nil {
				return fmt.Errorf("consume setup token: %w", err)
			}
			if n != 1 {
				return unhidra.Errorf(unhidra.ENotFound, "setup token not found")
			}
		}
		if u.Role == unhidra.RoleAdmin {
			// The first admin ends the setup: no other token stays usable.
			if _, err := c.Exec(ctx, `DELETE FROM setup_tokens`); err != nil {
				return fmt.Errorf("delete setup tokens: %w", err)
			}
		}
		return insertUser(ctx, c, u, passwordHash, nil)
	})
	return wrapInternal("create user", err)
}

// insertUser inserts the users row of u; a taken username is EConflict
// wrapping taken (or the driver's error when taken is nil).
func insertUser(ctx context.Context, c store.Conn, u *unhidra.User, passwordHash string, taken error) error {
	_, err := c.Exec(ctx, `INSERT INTO users (id, username, username_lower, display_name, display_name_lower,
			status_text, role, disabled, password_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, store.Fold(u.Username), u.DisplayName, store.Fold(u.DisplayName),
		u.StatusText, u.Role, u.Disabled, passwordHash, store.Micros(u.CreatedAt), store.Micros(u.UpdatedAt))
	if store.IsUniqueViolation(err) {
		if taken == nil {
			taken = err
		}
		return &unhidra.Error{Code: unhidra.EConflict, Message: "username is already taken", Err: taken}
	} else if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// UserByID returns the user or ENotFound.
func (st *Store) UserByID(ctx context.Context, id string) (*unhidra.User, error) {
	return store.UserByID(ctx, st.db.Read(), id)
}

// UserByUsername looks username up case-insensitively and returns the user
// with its password hash, or ENotFound.
func (st *Store) UserByUsername(ctx context.Context, username string) (*unhidra.User, string, error) {
	var hash string
	u, err := store.ScanUser(st.db.Read().QueryRow(ctx,
		`SELECT `+store.UserColumns+`, password_hash FROM users WHERE username_lower = ?`, store.Fold(username)), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", unhidra.Errorf(unhidra.ENotFound, "user not found")
	} else if err != nil {
		return nil, "", fmt.Errorf("user by username: %w", err)
	}
	return u, hash, nil
}

// UpdateUser applies the non-nil fields of upd in one statement: a NULL
// parameter keeps the column as it is.
func (st *Store) UpdateUser(ctx context.Context, id string, upd auth.UserUpdate) (*unhidra.User, error) {
	var displayLower *string
	if upd.DisplayName != nil {
		s := store.Fold(*upd.DisplayName)
		displayLower = &s
	}
	// RETURNING (SQLite 3.35+, PostgreSQL) hands back the row as written,
	// without a second query or a transaction.
	var u *unhidra.User
	err := auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		var err error
		u, err = store.ScanUser(c.QueryRow(ctx, `UPDATE users SET
			display_name = COALESCE(?, display_name),
			display_name_lower = COALESCE(?, display_name_lower),
			status_text = COALESCE(?, status_text),
			role = COALESCE(?, role),
			disabled = COALESCE(?, disabled),
			updated_at = ?
		WHERE id = ?
		RETURNING `+store.UserColumns,
			upd.DisplayName, displayLower, upd.StatusText, upd.Role, upd.Disabled, store.Micros(upd.Now), id))
		if errors.Is(err, sql.ErrNoRows) {
			return unhidra.Errorf(unhidra.ENotFound, "user not found")
		} else if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SetPasswordHash replaces the user's password hash and bumps UpdatedAt.
func (st *Store) SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	return auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		n, err := c.ExecN(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
			hash, store.Micros(now), userID)
		if err != nil {
			return fmt.Errorf("set password hash: %w", err)
		}
		if n == 0 {
			return unhidra.Errorf(unhidra.ENotFound, "user not found")
		}
		return nil
	})
}

// SearchUsers returns up to limit users whose username or display name
// contains q case-insensitively, ordered by lower-cased username, starting
// after the lower-cased username after. q is matched literally: % _ and \
// are escaped. A limit below 1 returns nothing.
func (st *Store) SearchUsers(ctx context.Context, q, after string, limit int, withDeleted bool) ([]*unhidra.User, error) {
	if limit < 1 {
		return nil, nil
	}
	pattern := "%" + store.EscapeLike(store.Fold(q)) + "%"
	live := ` AND deleted_at IS NULL`
	if withDeleted {
		live = ""
	}
	rows, err := st.db.Read().Query(ctx, `SELECT `+store.UserColumns+` FROM users
		WHERE (username_lower LIKE ? ESCAPE '\' OR display_name_lower LIKE ? ESCAPE '\')
		  AND username_lower > ?`+live+`
		ORDER BY username_lower
		LIMIT ?`,
		pattern, pattern, store.Fold(after), limit)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	var users []*unhidra.User
	for rows.Next() {
		u, err := store.ScanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return users, nil
}

// CountAdmins counts users with the admin role that are not disabled.
func (st *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := st.db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = ? AND disabled = ?`,
		unhidra.RoleAdmin, false).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}
