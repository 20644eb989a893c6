package authstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// Deleting an account (auth.Store.DeleteUser, migration 0013).

// CredentialTables are the tables of rows that belong to one account and
// go when it is deleted, each with the column naming the user. A table
// added later that references users belongs here, or in KeptUserTables:
// storetest's Delete/EveryUserTable case fails for a table that is in
// neither. Refresh tokens go with their sessions (ON DELETE CASCADE).
var CredentialTables = []struct{ Table, Column string }{
	{"sessions", "user_id"},
	{"access_tokens", "user_id"},
	{"totp_secrets", "user_id"},
	{"recovery_codes", "user_id"},
	{"mfa_tickets", "user_id"},
	{"identities", "user_id"},
	{"sso_states", "user_id"},
	{"break_glass_accounts", "user_id"},
	{"passkeys", "user_id"},
	{"passkey_ceremonies", "user_id"},
	// End-to-end keys: the account's client installs (their prekeys and
	// inbox go with them, ON DELETE CASCADE), master key and client list,
	// key backup, and the pairwise ciphertext it sent that still waits in
	// others' inboxes.
	{"e2ee_clients", "user_id"},
	{"e2ee_user_keys", "user_id"},
	{"e2ee_backups", "user_id"},
	{"to_device", "from_user"},
}

// KeptUserTables reference users but are not the account store's to clear:
// memberships are removed by the chat service, one channel at a time with
// the events members see (chat.Service.PurgeUser).
var KeptUserTables = []string{"channel_members"}

// DeleteUser turns the account into its tombstone (auth.Store.DeleteUser).
func (st *Store) DeleteUser(ctx context.Context, id string, d auth.UserDeletion) (*unhidra.User, error) {
	if d.Mode != unhidra.DeleteAnonymise && d.Mode != unhidra.DeleteErase {
		return nil, fmt.Errorf("delete user: unknown mode %q", d.Mode)
	}
	now := store.Micros(d.Now)
	var u *unhidra.User
	err := auditstore.Tx(ctx, st.db, func(c store.Conn) error {
		if d.KeepAdmin {
			// Under the lock, of two admins deleting each other the
			// second finds the first gone.
			if err := c.LockTable(ctx, "users"); err != nil {
				return err
			}
			var target, others int
			if err := c.QueryRow(ctx, `SELECT
					COUNT(CASE WHEN id = ? THEN 1 END), COUNT(CASE WHEN id <> ? THEN 1 END)
				FROM users WHERE role = ? AND disabled = ? AND deleted_at IS NULL`,
				id, id, unhidra.RoleAdmin, false).Scan(&target, &others); err != nil {
				return fmt.Errorf("count admins: %w", err)
			}
			if target > 0 && others == 0 {
				return unhidra.Errorf(unhidra.EConflict, "this is the last admin; make another admin first")
			}
		}
		name := auth.DeletedUsername(id)
		var err error
		u, err = store.ScanUser(c.QueryRow(ctx, `UPDATE users SET
			username = ?, username_lower = ?, display_name = ?, display_name_lower = ?, status_text = '',
			password_hash = '', disabled = ?, deleted_at = COALESCE(deleted_at, ?), delete_mode = ?,
			purged_at = NULL, updated_at = ?
		WHERE id = ?
		RETURNING `+store.UserColumns,
			name, store.Fold(name), unhidra.DeletedUserName, store.Fold(unhidra.DeletedUserName),
			true, now, d.Mode, now, id))
		if errors.Is(err, sql.ErrNoRows) {
			return unhidra.Errorf(unhidra.ENotFound, "user not found")
		} else if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		for _, t := range CredentialTables {
			if _, err := c.Exec(ctx, `DELETE FROM `+t.Table+` WHERE `+t.Column+` = ?`, id); err != nil {
				return fmt.Errorf("delete user: %s: %w", t.Table, err)
			}
		}
		// The old name and profile leave the row: on SQLite the freed
		// bytes are zeroed and the log truncated (store/erase.go).
		c.Erased()
		return nil
	})
	if err != nil {
		return nil, wrapInternal("delete user", err)
	}
	return u, nil
}

// DeletionState returns how a deleted account was deleted.
func (st *Store) DeletionState(ctx context.Context, id string) (*auth.DeletionState, error) {
	var d auth.DeletionState
	var deleted, purged sql.NullInt64
	var mode sql.NullString
	err := st.db.Read().QueryRow(ctx, `SELECT delete_mode, deleted_at, purged_at FROM users WHERE id = ?`, id).Scan(&mode, &deleted, &purged)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !deleted.Valid) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no such deleted user")
	} else if err != nil {
		return nil, fmt.Errorf("deletion state: %w", err)
	}
	d.Mode, d.DeletedAt, d.PurgedAt = mode.String, store.Time(deleted.Int64), store.TimePtr(purged)
	return &d, nil
}

// PendingDeletions lists deleted accounts whose purge is not done.
func (st *Store) PendingDeletions(ctx context.Context, limit int) ([]auth.PendingDeletion, error) {
	rows, err := st.db.Read().Query(ctx, `SELECT id, delete_mode, deleted_at FROM users
		WHERE deleted_at IS NOT NULL AND purged_at IS NULL ORDER BY deleted_at, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending deletions: %w", err)
	}
	return store.Collect(rows, "pending deletions", func(s store.Scanner) (auth.PendingDeletion, error) {
		var p auth.PendingDeletion
		var at int64
		err := s.Scan(&p.UserID, &p.Mode, &at)
		p.DeletedAt = store.Time(at)
		return p, err
	})
}

// FinishDeletion marks the purge of a deleted account done.
func (st *Store) FinishDeletion(ctx context.Context, id, mode string, at time.Time) error {
	if _, err := st.db.Write().Exec(ctx, `UPDATE users SET purged_at = ?
		WHERE id = ? AND delete_mode = ? AND deleted_at IS NOT NULL AND purged_at IS NULL`, store.Micros(at), id, mode); err != nil {
		return fmt.Errorf("finish deletion: %w", err)
	}
	return nil
}
