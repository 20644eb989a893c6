package authstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth/passkey"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

var _ passkey.Store = (*Store)(nil)

// PutCeremony stores a passkey ceremony in progress.
func (st *Store) PutCeremony(ctx context.Context, c *passkey.Ceremony) error {
	_, err := st.db.Write().Exec(ctx, `INSERT INTO passkey_ceremonies
		(id_hash, purpose, user_id, session_id, session, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.IDHash, c.Purpose, nullString(c.UserID), nullString(c.SessionID), string(c.Session), store.Micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put passkey ceremony: %w", err)
	}
	return nil
}

// TakeCeremony deletes and returns the ceremony in one statement, so it is
// used at most once however many nodes see its finish.
func (st *Store) TakeCeremony(ctx context.Context, idHash []byte) (*passkey.Ceremony, error) {
	var c passkey.Ceremony
	var userID, sessionID sql.NullString
	var session string
	var exp int64
	err := st.db.Write().QueryRow(ctx, `DELETE FROM passkey_ceremonies WHERE id_hash = ?
		RETURNING id_hash, purpose, user_id, session_id, session, expires_at`, idHash).
		Scan(&c.IDHash, &c.Purpose, &userID, &sessionID, &session, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "passkey ceremony not found")
	} else if err != nil {
		return nil, fmt.Errorf("take passkey ceremony: %w", err)
	}
	c.UserID, c.SessionID, c.Session, c.ExpiresAt = userID.String, sessionID.String, []byte(session), store.Time(exp)
	return &c, nil
}

// DeleteExpiredCeremonies removes ceremonies that expired before now.
func (st *Store) DeleteExpiredCeremonies(ctx context.Context, now time.Time) error {
	if _, err := st.db.Write().Exec(ctx, `DELETE FROM passkey_ceremonies WHERE expires_at < ?`, store.Micros(now)); err != nil {
		return fmt.Errorf("delete expired passkey ceremonies: %w", err)
	}
	return nil
}

const passkeyColumns = `id, user_id, credential_id, name, backup_eligible, sign_count, credential, created_at, last_used_at`

func scanPasskey(s interface{ Scan(...any) error }) (*passkey.Passkey, error) {
	var p passkey.Passkey
	var cred string
	var count, created int64
	var used sql.NullInt64
	if err := s.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Name, &p.BackupEligible, &count, &cred, &created, &used); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cred), &p.Credential); err != nil {
		return nil, fmt.Errorf("decode passkey %s: %w", p.ID, err)
	}
	p.SignCount = uint32(count)
	p.CreatedAt, p.LastUsedAt = store.Time(created), store.TimePtr(used)
	return &p, nil
}

// CreatePasskey stores p, counting the user's passkeys in the same
// transaction so that no race passes max.
func (st *Store) CreatePasskey(ctx context.Context, p *passkey.Passkey, max int) error {
	cred, err := json.Marshal(p.Credential)
	if err != nil {
		return fmt.Errorf("encode passkey: %w", err)
	}
	p.CreatedAt = store.Time(store.Micros(p.CreatedAt))
	err = auditstore.Tx(ctx, st.db, func(c store.Conn) error {
		var n int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM passkeys WHERE user_id = ?`, p.UserID).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return unhidra.Errorf(unhidra.EConflict, "you have %d passkeys, the most one account may have; remove one first", max)
		}
		_, err := c.Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.UserID, p.CredentialID, p.Name, p.BackupEligible, int64(p.SignCount), string(cred),
			store.Micros(p.CreatedAt), store.MicrosPtr(p.LastUsedAt))
		return err
	})
	switch {
	case store.IsUniqueViolation(err):
		return &unhidra.Error{Code: unhidra.EConflict, Message: "this passkey is registered already", Err: err}
	case store.IsForeignKeyViolation(err):
		return &unhidra.Error{Code: unhidra.ENotFound, Message: "user not found", Err: err}
	}
	return wrapInternal("create passkey", err)
}

// Passkeys lists the user's passkeys, oldest first.
func (st *Store) Passkeys(ctx context.Context, userID string) ([]*passkey.Passkey, error) {
	rows, err := st.db.Read().Query(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	defer rows.Close()
	out := []*passkey.Passkey{}
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("list passkeys: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return out, nil
}

// PasskeyByCredentialID returns the passkey or ENotFound.
func (st *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*passkey.Passkey, error) {
	// The primary: a passkey removed a moment ago on another node must not
	// sign in from a lagging read.
	p, err := scanPasskey(st.db.Write().QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = ?`, credentialID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "passkey not found")
	} else if err != nil {
		return nil, fmt.Errorf("passkey by credential: %w", err)
	}
	return p, nil
}

// UsePasskey stores a sign-in's counter, flags and time if the counter is
// still oldCount.
func (st *Store) UsePasskey(ctx context.Context, p *passkey.Passkey, oldCount uint32) error {
	cred, err := json.Marshal(p.Credential)
	if err != nil {
		return fmt.Errorf("encode passkey: %w", err)
	}
	res, err := st.db.Write().Exec(ctx, `UPDATE passkeys SET sign_count = ?, credential = ?, last_used_at = ?
		WHERE id = ? AND sign_count = ?`, int64(p.SignCount), string(cred), store.MicrosPtr(p.LastUsedAt), p.ID, int64(oldCount))
	if err != nil {
		return fmt.Errorf("use passkey: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("use passkey: %w", err)
	} else if n == 0 {
		return unhidra.Errorf(unhidra.EConflict, "the passkey was used or removed meanwhile")
	}
	return nil
}

// RenamePasskey renames the user's passkey.
func (st *Store) RenamePasskey(ctx context.Context, userID, id, name string) (*passkey.Passkey, error) {
	p, err := scanPasskey(st.db.Write().QueryRow(ctx, `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?
		RETURNING `+passkeyColumns, name, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "passkey not found")
	} else if err != nil {
		return nil, fmt.Errorf("rename passkey: %w", err)
	}
	return p, nil
}

// DeletePasskey removes the user's passkey.
func (st *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	err := auditstore.Tx(ctx, st.db, func(c store.Conn) error {
		res, err := c.Exec(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return unhidra.Errorf(unhidra.ENotFound, "passkey not found")
		}
		return nil
	})
	return wrapInternal("delete passkey", err)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
