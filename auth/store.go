package auth

import (
	"context"
	"time"

	"github.com/unhidra/unhidra"
)

// Store is what the auth service needs from durable storage.
// authstore.Store (store/authstore) implements it on SQLite and PostgreSQL;
// the contract suite in store/storetest pins down the semantics described
// here.
//
// Errors are *unhidra.Error with ENotFound or EConflict where noted; anything
// else is an internal error.
type Store interface {
	// CreateUser inserts u with its password hash in one transaction that
	// also applies opts. Usernames are unique case-insensitively (EConflict).
	// With opts.InviteCode set, one use of that invite is consumed in the same
	// transaction (ENotFound if it does not exist, is expired at opts.Now or
	// used up; nothing is written then). With opts.RequireNoAdmin, the insert
	// fails with EConflict if any admin exists already.
	CreateUser(ctx context.Context, u *unhidra.User, passwordHash string, opts CreateUserOptions) error
	// UserByID returns the user or ENotFound.
	UserByID(ctx context.Context, id string) (*unhidra.User, error)
	// UserByUsername looks a user up case-insensitively and returns it with
	// its password hash, or ENotFound.
	UserByUsername(ctx context.Context, username string) (*unhidra.User, string, error)
	// UpdateUser applies the non-nil fields of upd, sets UpdatedAt = upd.Now
	// and returns the updated user (ENotFound if absent).
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*unhidra.User, error)
	// SetPasswordHash replaces the user's password hash (ENotFound if absent).
	SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error
	// SearchUsers returns up to limit users whose username or display name
	// contains q case-insensitively, ordered by username. An empty q lists all
	// users. after, when non-empty, is an exclusive lower bound on the
	// lower-cased username (cursor pagination).
	SearchUsers(ctx context.Context, q, after string, limit int) ([]*unhidra.User, error)
	// CountAdmins counts users with the admin role that are not disabled.
	CountAdmins(ctx context.Context) (int, error)

	// AddSetupToken stores the SHA-256 hash of a newly issued setup token,
	// created at at, and deletes the stored ones created before
	// dropBefore, in one transaction.
	AddSetupToken(ctx context.Context, hash []byte, at, dropBefore time.Time) error
	// SetupTokens returns the hashes of the stored setup tokens.
	SetupTokens(ctx context.Context) ([][]byte, error)

	// CreateSession inserts s and its first refresh token (by hash).
	CreateSession(ctx context.Context, s *unhidra.Session, refreshHash []byte) error
	// SessionByID returns the session (revoked or not) or ENotFound.
	SessionByID(ctx context.Context, id string) (*unhidra.Session, error)
	// ListSessions returns the user's sessions that are not revoked and not
	// expired at now, newest first.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]*unhidra.Session, error)
	// TouchSession records a use of the session: last_used_at, IP, user agent
	// and a new expiry.
	TouchSession(ctx context.Context, id string, at time.Time, ip, userAgent string, expiresAt time.Time) error
	// RevokeSession revokes one session of userID (ENotFound if the session
	// does not exist or belongs to someone else). Revoking twice is not an error.
	RevokeSession(ctx context.Context, userID, sessionID string, at time.Time) error
	// RevokeSessions revokes every live session of userID except keep ("" keeps
	// none) and returns how many it revoked.
	RevokeSessions(ctx context.Context, userID, keep string, at time.Time) (int, error)

	// RefreshTokenByHash returns the refresh token record or ENotFound.
	RefreshTokenByHash(ctx context.Context, hash []byte) (*RefreshToken, error)
	// MarkRefreshTokenUsed sets used_at on the token if it is still unused and
	// reports whether this call was the one that did it (a compare-and-set).
	MarkRefreshTokenUsed(ctx context.Context, hash []byte, at time.Time) (bool, error)
	// AddRefreshToken stores a successor refresh token of a session.
	AddRefreshToken(ctx context.Context, t *RefreshToken) error

	// CreateInvite, ListInvites (newest first), DeleteInvite (ENotFound if absent).
	CreateInvite(ctx context.Context, inv *unhidra.Invite) error
	ListInvites(ctx context.Context) ([]*unhidra.Invite, error)
	DeleteInvite(ctx context.Context, code string) error

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}

// CreateUserOptions are the conditions CreateUser checks atomically.
type CreateUserOptions struct {
	InviteCode     string
	RequireNoAdmin bool
	// SetupTokenHash is the hash of the setup token to consume.
	SetupTokenHash []byte
	Now            time.Time
}

// UserUpdate lists the fields UpdateUser may change; nil means unchanged.
type UserUpdate struct {
	DisplayName *string
	StatusText  *string
	Role        *string
	Disabled    *bool
	Now         time.Time
}

// RefreshToken is the stored half of a refresh token: only its SHA-256 hash.
type RefreshToken struct {
	Hash       []byte
	SessionID  string
	ParentHash []byte // nil for a session's first token
	CreatedAt  time.Time
	UsedAt     *time.Time
}
