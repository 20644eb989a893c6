package authstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// The second factor, personal access tokens and the break-glass flag
// (auth.MFAStore, migration 0008).

// TOTP returns the user's authenticator or ENotFound.
func (st *Store) TOTP(ctx context.Context, userID string) (*auth.TOTPRecord, error) {
	var r auth.TOTPRecord
	var created int64
	var confirmed sql.NullInt64
	err := st.db.Read().QueryRow(ctx, `SELECT user_id, sealed, created_at, confirmed_at, last_step FROM totp_secrets WHERE user_id = ?`, userID).
		Scan(&r.UserID, &r.Sealed, &created, &confirmed, &r.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no authenticator")
	} else if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	r.CreatedAt, r.ConfirmedAt = store.Time(created), store.TimePtr(confirmed)
	return &r, nil
}

// PutPendingTOTP inserts an unconfirmed authenticator or replaces a
// pending one; a confirmed one stays (EConflict).
func (st *Store) PutPendingTOTP(ctx context.Context, rec *auth.TOTPRecord) error {
	n, err := st.db.Write().ExecN(ctx, `INSERT INTO totp_secrets (user_id, sealed, created_at, confirmed_at, last_step)
		VALUES (?, ?, ?, NULL, 0)
		ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at, last_step = 0
		WHERE totp_secrets.confirmed_at IS NULL`,
		rec.UserID, rec.Sealed, store.Micros(rec.CreatedAt))
	if store.IsForeignKeyViolation(err) {
		return &unhidra.Error{Code: unhidra.ENotFound, Message: "user not found", Err: err}
	} else if err != nil {
		return fmt.Errorf("put totp: %w", err)
	}
	if n == 0 {
		return unhidra.Errorf(unhidra.EConflict, "two-factor authentication is already on; turn it off first")
	}
	return nil
}

// ConfirmTOTP confirms the pending authenticator and sets the recovery
// codes, in one transaction.
func (st *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time, recoveryHashes [][]byte) error {
	err := auditstore.Tx(ctx, st.db, func(c store.Conn) error {
		n, err := c.ExecN(ctx, `UPDATE totp_secrets SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at IS NULL`,
			store.Micros(at), step, userID)
		if err != nil {
			return fmt.Errorf("confirm totp: %w", err)
		}
		if n == 0 {
			return unhidra.Errorf(unhidra.ENotFound, "no two-factor enrolment is pending; start one first")
		}
		return replaceRecoveryCodes(ctx, c, userID, recoveryHashes, at)
	})
	return wrapInternal("confirm totp", err)
}

// UseTOTPStep advances last_step if step is later.
func (st *Store) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	n, err := st.db.Write().ExecN(ctx, `UPDATE totp_secrets SET last_step = ? WHERE user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?`,
		step, userID, step)
	if err != nil {
		return false, fmt.Errorf("use totp step: %w", err)
	}
	return n == 1, nil
}

// DeleteTOTP removes the authenticator and the recovery codes.
func (st *Store) DeleteTOTP(ctx context.Context, userID string) error {
	err := auditstore.Tx(ctx, st.db, func(c store.Conn) error {
		if _, err := c.Exec(ctx, `DELETE FROM totp_secrets WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("delete totp: %w", err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("delete recovery codes: %w", err)
		}
		return nil
	})
	return wrapInternal("delete totp", err)
}

func replaceRecoveryCodes(ctx context.Context, c store.Conn, userID string, hashes [][]byte, at time.Time) error {
	if _, err := c.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete recovery codes: %w", err)
	}
	for _, h := range hashes {
		if _, err := c.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at, used_at) VALUES (?, ?, ?, NULL)`,
			userID, h, store.Micros(at)); err != nil {
			if store.IsForeignKeyViolation(err) {
				return &unhidra.Error{Code: unhidra.ENotFound, Message: "user not found", Err: err}
			}
			return fmt.Errorf("insert recovery code: %w", err)
		}
	}
	return nil
}

// ReplaceRecoveryCodes replaces every recovery code of the user.
func (st *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error {
	err := auditstore.Tx(ctx, st.db, func(c store.Conn) error { return replaceRecoveryCodes(ctx, c, userID, hashes, at) })
	return wrapInternal("replace recovery codes", err)
}

// UseRecoveryCode spends an unused code. The events attached to ctx are
// written with the spending, and only if a code was spent.
func (st *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (bool, error) {
	var used bool
	done := func(bool) {}
	err := st.db.InTx(ctx, func(c store.Conn) error {
		n, err := c.ExecN(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL`,
			store.Micros(at), userID, hash)
		if err != nil {
			return fmt.Errorf("use recovery code: %w", err)
		}
		if used = n == 1; !used {
			return nil
		}
		return auditstore.Flush(ctx, c, &done)
	})
	done(err == nil)
	if err != nil {
		return false, err
	}
	return used, nil
}

// CountRecoveryCodes counts the unused codes.
func (st *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	if err := st.db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, nil
}

// CreateMFATicket stores t and sweeps expired tickets.
func (st *Store) CreateMFATicket(ctx context.Context, t *auth.MFATicket) error {
	err := st.db.InTx(ctx, func(c store.Conn) error {
		if _, err := c.Exec(ctx, `DELETE FROM mfa_tickets WHERE expires_at < ?`, store.Micros(t.CreatedAt)); err != nil {
			return fmt.Errorf("sweep mfa tickets: %w", err)
		}
		_, err := c.Exec(ctx, `INSERT INTO mfa_tickets (hash, user_id, created_at, expires_at, attempts, used_at) VALUES (?, ?, ?, ?, 0, NULL)`,
			t.Hash, t.UserID, store.Micros(t.CreatedAt), store.Micros(t.ExpiresAt))
		if store.IsForeignKeyViolation(err) {
			return &unhidra.Error{Code: unhidra.ENotFound, Message: "user not found", Err: err}
		} else if err != nil {
			return fmt.Errorf("insert mfa ticket: %w", err)
		}
		return nil
	})
	return wrapInternal("create mfa ticket", err)
}

// MFATicketByHash returns the ticket or ENotFound.
func (st *Store) MFATicketByHash(ctx context.Context, hash []byte) (*auth.MFATicket, error) {
	var t auth.MFATicket
	var created, expires int64
	var used sql.NullInt64
	err := st.db.Read().QueryRow(ctx, `SELECT hash, user_id, created_at, expires_at, attempts, used_at FROM mfa_tickets WHERE hash = ?`, hash).
		Scan(&t.Hash, &t.UserID, &created, &expires, &t.Attempts, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "ticket not found")
	} else if err != nil {
		return nil, fmt.Errorf("mfa ticket: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = store.Time(created), store.Time(expires), store.TimePtr(used)
	return &t, nil
}

// FailMFATicket counts a wrong code against the ticket.
func (st *Store) FailMFATicket(ctx context.Context, hash []byte) (int, error) {
	var n int
	err := st.db.InTx(ctx, func(c store.Conn) error {
		if _, err := c.Exec(ctx, `UPDATE mfa_tickets SET attempts = attempts + 1 WHERE hash = ?`, hash); err != nil {
			return fmt.Errorf("fail mfa ticket: %w", err)
		}
		err := c.QueryRow(ctx, `SELECT attempts FROM mfa_tickets WHERE hash = ?`, hash).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return unhidra.Errorf(unhidra.ENotFound, "ticket not found")
		}
		return err
	})
	return n, wrapInternal("fail mfa ticket", err)
}

// UseMFATicket spends the ticket.
func (st *Store) UseMFATicket(ctx context.Context, hash []byte, at time.Time) (bool, error) {
	n, err := st.db.Write().ExecN(ctx, `UPDATE mfa_tickets SET used_at = ? WHERE hash = ? AND used_at IS NULL`, store.Micros(at), hash)
	if err != nil {
		return false, fmt.Errorf("use mfa ticket: %w", err)
	}
	return n == 1, nil
}

const accessTokenColumns = `id, user_id, name, scopes, hash, created_at, expires_at, last_used_at, revoked_at`

func scanAccessToken(s store.Scanner) (*auth.AccessToken, error) {
	var t auth.AccessToken
	var scopes string
	var created, expires int64
	var used, revoked sql.NullInt64
	if err := s.Scan(&t.ID, &t.UserID, &t.Name, &scopes, &t.Hash, &created, &expires, &used, &revoked); err != nil {
		return nil, err
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.ExpiresAt = store.Time(created), store.Time(expires)
	t.LastUsedAt, t.RevokedAt = store.TimePtr(used), store.TimePtr(revoked)
	return &t, nil
}

// CreateAccessToken stores t.
func (st *Store) CreateAccessToken(ctx context.Context, t *auth.AccessToken) error {
	err := auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO access_tokens (`+accessTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.UserID, t.Name, strings.Join(t.Scopes, " "), t.Hash, store.Micros(t.CreatedAt), store.Micros(t.ExpiresAt),
			store.MicrosPtr(t.LastUsedAt), store.MicrosPtr(t.RevokedAt))
		return err
	})
	switch {
	case store.IsForeignKeyViolation(err):
		return &unhidra.Error{Code: unhidra.ENotFound, Message: "user not found", Err: err}
	case store.IsUniqueViolation(err):
		return &unhidra.Error{Code: unhidra.EConflict, Message: "token id taken", Err: err}
	case err != nil:
		return fmt.Errorf("create access token: %w", err)
	}
	return nil
}

// AccessTokenByID returns the token or ENotFound.
func (st *Store) AccessTokenByID(ctx context.Context, id string) (*auth.AccessToken, error) {
	t, err := scanAccessToken(st.db.Read().QueryRow(ctx, `SELECT `+accessTokenColumns+` FROM access_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "access token not found")
	} else if err != nil {
		return nil, fmt.Errorf("access token by id: %w", err)
	}
	return t, nil
}

// ListAccessTokens returns the user's unrevoked tokens, newest first.
func (st *Store) ListAccessTokens(ctx context.Context, userID string) ([]*auth.AccessToken, error) {
	rows, err := st.db.Read().Query(ctx, `SELECT `+accessTokenColumns+` FROM access_tokens
		WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list access tokens: %w", err)
	}
	defer rows.Close()
	var out []*auth.AccessToken
	for rows.Next() {
		t, err := scanAccessToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list access tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list access tokens: %w", err)
	}
	return out, nil
}

// RevokeAccessToken revokes one live token of userID.
func (st *Store) RevokeAccessToken(ctx context.Context, userID, id string, at time.Time) error {
	var n int64
	err := auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		var err error
		n, err = c.ExecN(ctx, `UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL`,
			store.Micros(at), id, userID)
		if err == nil && n == 0 {
			err = store.NotFound("access token")
		}
		return err
	})
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		n = 0
	} else if err != nil {
		return fmt.Errorf("revoke access token: %w", err)
	}
	if n == 0 {
		return unhidra.Errorf(unhidra.ENotFound, "no such access token of yours")
	}
	return nil
}

// TouchAccessToken sets last_used_at.
func (st *Store) TouchAccessToken(ctx context.Context, id string, at time.Time) error {
	if _, err := st.db.Write().Exec(ctx, `UPDATE access_tokens SET last_used_at = ? WHERE id = ?`, store.Micros(at), id); err != nil {
		return fmt.Errorf("touch access token: %w", err)
	}
	return nil
}

// SetBreakGlass marks or unmarks the user, with the events attached to
// ctx in the same transaction.
func (st *Store) SetBreakGlass(ctx context.Context, userID string, on bool, at time.Time) error {
	if !on {
		if _, err := st.UserByID(ctx, userID); err != nil {
			return err
		}
		return auditstore.InTx(ctx, st.db, func(c store.Conn) error {
			if _, err := c.Exec(ctx, `DELETE FROM break_glass_accounts WHERE user_id = ?`, userID); err != nil {
				return fmt.Errorf("clear break-glass: %w", err)
			}
			return nil
		})
	}
	return auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO break_glass_accounts (user_id, set_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING`,
			userID, store.Micros(at))
		if store.IsForeignKeyViolation(err) {
			return &unhidra.Error{Code: unhidra.ENotFound, Message: "user not found", Err: err}
		} else if err != nil {
			return fmt.Errorf("set break-glass: %w", err)
		}
		return nil
	})
}

// IsBreakGlass reports whether the user is break-glass.
func (st *Store) IsBreakGlass(ctx context.Context, userID string) (bool, error) {
	var n int
	if err := st.db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM break_glass_accounts WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return false, fmt.Errorf("is break-glass: %w", err)
	}
	return n > 0, nil
}

// CountBreakGlassAdmins counts the enabled admins that are break-glass.
func (st *Store) CountBreakGlassAdmins(ctx context.Context) (int, error) {
	var n int
	if err := st.db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM break_glass_accounts b JOIN users u ON u.id = b.user_id
		WHERE u.role = ? AND u.disabled = ?`, unhidra.RoleAdmin, false).Scan(&n); err != nil {
		return 0, fmt.Errorf("count break-glass admins: %w", err)
	}
	return n, nil
}
