package authstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/sso"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

var _ sso.Store = (*Store)(nil)

// PutState stores a single sign-on flow in progress.
func (st *Store) PutState(ctx context.Context, s *sso.State) error {
	var userID any
	if s.UserID != "" {
		userID = s.UserID
	}
	_, err := st.db.Write().Exec(ctx, `INSERT INTO sso_states
		(state_hash, binding_hash, provider, purpose, user_id, nonce, verifier, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.StateHash, s.BindingHash, s.Provider, s.Purpose, userID, s.Nonce, s.Verifier, store.Micros(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put sso state: %w", err)
	}
	return nil
}

// TakeState deletes and returns the flow in one statement (RETURNING), so
// a state is used at most once however many nodes see it.
func (st *Store) TakeState(ctx context.Context, stateHash []byte) (*sso.State, error) {
	var s sso.State
	var userID sql.NullString
	var exp int64
	err := st.db.Write().QueryRow(ctx, `DELETE FROM sso_states WHERE state_hash = ?
		RETURNING state_hash, binding_hash, provider, purpose, user_id, nonce, verifier, expires_at`, stateHash).
		Scan(&s.StateHash, &s.BindingHash, &s.Provider, &s.Purpose, &userID, &s.Nonce, &s.Verifier, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "sign-in flow not found")
	} else if err != nil {
		return nil, fmt.Errorf("take sso state: %w", err)
	}
	s.UserID, s.ExpiresAt = userID.String, store.Time(exp)
	return &s, nil
}

// DeleteExpiredStates removes flows that expired before now.
func (st *Store) DeleteExpiredStates(ctx context.Context, now time.Time) error {
	if _, err := st.db.Write().Exec(ctx, `DELETE FROM sso_states WHERE expires_at < ?`, store.Micros(now)); err != nil {
		return fmt.Errorf("delete expired sso states: %w", err)
	}
	return nil
}

// UserByIdentity returns the user linked to (provider, subject).
func (st *Store) UserByIdentity(ctx context.Context, provider, subject string) (*unhidra.User, error) {
	u, err := store.ScanUser(st.db.Read().QueryRow(ctx, `SELECT `+store.UserColumns+` FROM users
		WHERE id = (SELECT user_id FROM identities WHERE provider = ? AND subject = ?)`, provider, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "identity not found")
	} else if err != nil {
		return nil, fmt.Errorf("user by identity: %w", err)
	}
	return u, nil
}

// CreateUserWithIdentity inserts a user provisioned by single sign-on and
// its identity in one transaction.
func (st *Store) CreateUserWithIdentity(ctx context.Context, u *unhidra.User, passwordHash string, id *sso.Identity) error {
	u.CreatedAt, u.UpdatedAt = store.Time(store.Micros(u.CreatedAt)), store.Time(store.Micros(u.UpdatedAt))
	id.UserID, id.Provisioned, id.CreatedAt = u.ID, true, u.CreatedAt
	err := auditstore.Tx(ctx, st.db, func(c store.Conn) error {
		if err := insertUser(ctx, c, u, passwordHash, sso.ErrUsernameTaken); err != nil {
			return err
		}
		return insertIdentity(ctx, c, id)
	})
	return wrapInternal("create sso user", err)
}

// LinkIdentity links an identity to an existing user, with the events
// attached to ctx in the same transaction.
func (st *Store) LinkIdentity(ctx context.Context, id *sso.Identity) error {
	id.CreatedAt = store.Time(store.Micros(id.CreatedAt))
	return wrapInternal("link identity", auditstore.InTx(ctx, st.db, func(c store.Conn) error { return insertIdentity(ctx, c, id) }))
}

func insertIdentity(ctx context.Context, c store.Conn, id *sso.Identity) error {
	_, err := c.Exec(ctx, `INSERT INTO identities (provider, subject, user_id, provisioned, created_at)
		VALUES (?, ?, ?, ?, ?)`, id.Provider, id.Subject, id.UserID, id.Provisioned, store.Micros(id.CreatedAt))
	switch {
	case store.IsUniqueViolation(err):
		return &unhidra.Error{Code: unhidra.EConflict, Message: "this identity, or an identity of this provider, is already linked", Err: err}
	case store.IsForeignKeyViolation(err):
		return unhidra.Errorf(unhidra.ENotFound, "user not found")
	case err != nil:
		return fmt.Errorf("insert identity: %w", err)
	}
	return nil
}

// UnlinkIdentity removes the user's identity of provider, with the events
// attached to ctx in the same transaction.
func (st *Store) UnlinkIdentity(ctx context.Context, userID, provider string) error {
	return auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		n, err := c.ExecN(ctx, `DELETE FROM identities WHERE user_id = ? AND provider = ?`, userID, provider)
		if err != nil {
			return fmt.Errorf("unlink identity: %w", err)
		}
		if n == 0 {
			return unhidra.Errorf(unhidra.ENotFound, "no identity of this provider is linked")
		}
		return nil
	})
}

// Identities lists the user's identities, oldest first.
func (st *Store) Identities(ctx context.Context, userID string) ([]*sso.Identity, error) {
	rows, err := st.db.Read().Query(ctx, `SELECT provider, subject, user_id, provisioned, created_at
		FROM identities WHERE user_id = ? ORDER BY created_at, provider`, userID)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	return store.Collect(rows, "list identities", func(r store.Scanner) (*sso.Identity, error) {
		var id sso.Identity
		var created int64
		if err := r.Scan(&id.Provider, &id.Subject, &id.UserID, &id.Provisioned, &created); err != nil {
			return nil, err
		}
		id.CreatedAt = store.Time(created)
		return &id, nil
	})
}

// SetRole sets the user's system role.
func (st *Store) SetRole(ctx context.Context, userID, role string, now time.Time) (*unhidra.User, error) {
	return st.UpdateUser(ctx, userID, auth.UserUpdate{Role: &role, Now: now})
}
