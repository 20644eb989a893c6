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

const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, ip, user_agent, revoked_at, client_id`

func scanSession(s store.Scanner) (*unhidra.Session, error) {
	var ss unhidra.Session
	var created, lastUsed, expires int64
	var revoked sql.NullInt64
	var clientID sql.NullString
	if err := s.Scan(&ss.ID, &ss.UserID, &created, &lastUsed, &expires, &ss.IP, &ss.UserAgent, &revoked, &clientID); err != nil {
		return nil, err
	}
	ss.ClientID = clientID.String
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt = store.Time(created), store.Time(lastUsed), store.Time(expires)
	ss.RevokedAt = store.TimePtr(revoked)
	return &ss, nil
}

// CreateSession inserts s and its first refresh token in one transaction.
// An empty s.ID gets a fresh UUID (s is updated in place). ENotFound if the
// user does not exist, EConflict if the session ID or the token hash is
// taken.
func (st *Store) CreateSession(ctx context.Context, s *unhidra.Session, refreshHash []byte) error {
	if s.ID == "" {
		s.ID = uuid.NewString()
	}
	err := auditstore.Tx(ctx, st.db, func(c store.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.UserID, store.Micros(s.CreatedAt), store.Micros(s.LastUsedAt), store.Micros(s.ExpiresAt), s.IP, s.UserAgent, store.MicrosPtr(s.RevokedAt))
		switch {
		case store.IsUniqueViolation(err):
			return &unhidra.Error{Code: unhidra.EConflict, Message: "session already exists", Err: err}
		case store.IsForeignKeyViolation(err):
			return &unhidra.Error{Code: unhidra.ENotFound, Message: "user not found", Err: err}
		}
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return insertRefreshToken(ctx, c, &auth.RefreshToken{Hash: refreshHash, SessionID: s.ID, CreatedAt: s.CreatedAt})
	})
	return wrapInternal("create session", err)
}

// SessionByID returns the session, revoked or not, or ENotFound.
func (st *Store) SessionByID(ctx context.Context, id string) (*unhidra.Session, error) {
	s, err := scanSession(st.db.Read().QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "session not found")
	} else if err != nil {
		return nil, fmt.Errorf("session by id: %w", err)
	}
	return s, nil
}

// ListSessions returns the user's sessions that are neither revoked nor
// expired at now, newest first.
func (st *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]*unhidra.Session, error) {
	rows, err := st.db.Read().Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id DESC`, userID, store.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var sessions []*unhidra.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		sessions = append(sessions, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return sessions, nil
}

// TouchSession records a use of the session (ENotFound if absent).
func (st *Store) TouchSession(ctx context.Context, id string, at time.Time, ip, userAgent string, expiresAt time.Time) error {
	n, err := st.db.Write().ExecN(ctx, `UPDATE sessions SET last_used_at = ?, ip = ?, user_agent = ?, expires_at = ? WHERE id = ?`,
		store.Micros(at), ip, userAgent, store.Micros(expiresAt), id)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if n == 0 {
		return unhidra.Errorf(unhidra.ENotFound, "session not found")
	}
	return nil
}

// BindSessionClient records the end-to-end client install the session
// registered (ENotFound unless the session is userID's).
func (st *Store) BindSessionClient(ctx context.Context, userID, sessionID, clientID string) error {
	n, err := st.db.Write().ExecN(ctx, `UPDATE sessions SET client_id = ? WHERE id = ? AND user_id = ?`, clientID, sessionID, userID)
	if err != nil {
		return fmt.Errorf("bind session client: %w", err)
	}
	if n == 0 {
		return unhidra.Errorf(unhidra.ENotFound, "session not found")
	}
	return nil
}

// RevokeSession revokes one session of userID. Revoking again keeps the
// first revocation time.
func (st *Store) RevokeSession(ctx context.Context, userID, sessionID string, at time.Time) error {
	// Both engines count a matched row as changed even when COALESCE leaves
	// its value as it was, so n == 0 means only "no such session of userID".
	return auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		n, err := c.ExecN(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND user_id = ?`,
			store.Micros(at), sessionID, userID)
		if err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		if n == 0 {
			return unhidra.Errorf(unhidra.ENotFound, "session not found")
		}
		return nil
	})
}

// RevokeSessions revokes every session of userID not yet revoked, except
// keep, and returns how many it revoked. Expired sessions are revoked too,
// so that no later change of expiry can bring one back.
func (st *Store) RevokeSessions(ctx context.Context, userID, keep string, at time.Time) (int, error) {
	var n int64
	err := auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		var err error
		n, err = c.ExecN(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`,
			store.Micros(at), userID, keep)
		if err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		return nil
	})
	return int(n), err
}

// RefreshTokenByHash returns the refresh token record or ENotFound.
func (st *Store) RefreshTokenByHash(ctx context.Context, hash []byte) (*auth.RefreshToken, error) {
	var t auth.RefreshToken
	var created int64
	var used sql.NullInt64
	err := st.db.Read().QueryRow(ctx, `SELECT hash, session_id, parent_hash, created_at, used_at FROM refresh_tokens WHERE hash = ?`,
		hash).Scan(&t.Hash, &t.SessionID, &t.ParentHash, &created, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "refresh token not found")
	} else if err != nil {
		return nil, fmt.Errorf("refresh token by hash: %w", err)
	}
	t.CreatedAt, t.UsedAt = store.Time(created), store.TimePtr(used)
	return &t, nil
}

// MarkRefreshTokenUsed is a compare-and-set on used_at: of any number of
// concurrent callers for one token, exactly one gets true.
func (st *Store) MarkRefreshTokenUsed(ctx context.Context, hash []byte, at time.Time) (bool, error) {
	n, err := st.db.Write().ExecN(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL`,
		store.Micros(at), hash)
	if err != nil {
		return false, fmt.Errorf("mark refresh token used: %w", err)
	}
	return n == 1, nil
}

// AddRefreshToken stores a successor refresh token of a session: ENotFound
// if the session does not exist, EConflict if the hash is already stored.
func (st *Store) AddRefreshToken(ctx context.Context, t *auth.RefreshToken) error {
	return wrapInternal("add refresh token", auditstore.InTx(ctx, st.db, func(c store.Conn) error { return insertRefreshToken(ctx, c, t) }))
}

func insertRefreshToken(ctx context.Context, c store.Conn, t *auth.RefreshToken) error {
	_, err := c.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, parent_hash, created_at, used_at) VALUES (?, ?, ?, ?, ?)`,
		t.Hash, t.SessionID, store.Blob(t.ParentHash), store.Micros(t.CreatedAt), store.MicrosPtr(t.UsedAt))
	switch {
	case store.IsUniqueViolation(err):
		return &unhidra.Error{Code: unhidra.EConflict, Message: "refresh token already exists", Err: err}
	case store.IsForeignKeyViolation(err):
		return &unhidra.Error{Code: unhidra.ENotFound, Message: "session not found", Err: err}
	}
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}
