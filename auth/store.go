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
//
// A write whose context carries audit events (audit.With) writes them in
// its own transaction, so that they commit with the change or not at all;
// UseRecoveryCode writes them only when it spent a code.
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
	// lower-cased username (cursor pagination). Deleted accounts are left
	// out unless withDeleted.
	SearchUsers(ctx context.Context, q, after string, limit int, withDeleted bool) ([]*unhidra.User, error)
	// CountAdmins counts users with the admin role that are not disabled.
	CountAdmins(ctx context.Context) (int, error)
	// CountBreakGlassAdmins counts the enabled admins that are
	// break-glass.
	CountBreakGlassAdmins(ctx context.Context) (int, error)

	// DeleteUser turns an account into its tombstone in one transaction
	// (with the audit events attached to ctx): the username becomes
	// DeletedUsername(id), which frees the old one; the display name becomes
	// unhidra.DeletedUserName; the status text and the password hash are
	// cleared; the account is disabled and marked deleted in d.Mode, its
	// purge not done; and every credential and sign-in of the user goes
	// (sessions with their refresh tokens, personal access tokens, the
	// authenticator and recovery codes, second-factor tickets, single
	// sign-on identities and flows, the break-glass mark). Deleting a
	// deleted account again only changes its mode and reopens its purge.
	// With d.KeepAdmin, deleting the last enabled admin is EConflict,
	// decided under a lock of the users table so two admins deleting each
	// other cannot both succeed. ENotFound if there is no such user.
	DeleteUser(ctx context.Context, id string, d UserDeletion) (*unhidra.User, error)
	// DeletionState returns how a deleted account was deleted (ENotFound
	// if there is no such deleted account).
	DeletionState(ctx context.Context, id string) (*DeletionState, error)
	// PendingDeletions lists the deleted accounts whose purge is not done,
	// oldest deletion first, at most limit.
	PendingDeletions(ctx context.Context, limit int) ([]PendingDeletion, error)
	// FinishDeletion records that the purge of a deleted account in mode is
	// done; nothing happens if the account's mode is no longer mode (an
	// erase asked for meanwhile).
	FinishDeletion(ctx context.Context, id, mode string, at time.Time) error

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
	// BindSessionClient records the end-to-end client install (package
	// keys) that the session registered last, which Refresh puts in the
	// client_id claim of the session's access tokens (ENotFound if the
	// session does not exist or belongs to someone else).
	BindSessionClient(ctx context.Context, userID, sessionID, clientID string) error
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

	MFAStore
}

// MFAStore is the storage of the second factor, personal access tokens and
// the break-glass flag (migration 0008). Secrets arrive sealed or hashed;
// the store never sees one in the clear.
type MFAStore interface {
	// TOTP returns the user's authenticator, confirmed or pending, or
	// ENotFound.
	TOTP(ctx context.Context, userID string) (*TOTPRecord, error)
	// PutPendingTOTP stores a new, unconfirmed authenticator, replacing a
	// pending one; EConflict if a confirmed one exists, ENotFound if the
	// user does not.
	PutPendingTOTP(ctx context.Context, rec *TOTPRecord) error
	// ConfirmTOTP confirms the pending authenticator with the time step of
	// its first code and replaces the user's recovery codes with hashes, in
	// one transaction. ENotFound if nothing is pending (absent, or already
	// confirmed).
	ConfirmTOTP(ctx context.Context, userID string, step int64, at time.Time, recoveryHashes [][]byte) error
	// UseTOTPStep records that a code of step was accepted, if step is
	// later than every step accepted before (a compare-and-set), and
	// reports whether this call did it. False also when there is no
	// confirmed authenticator.
	UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	// DeleteTOTP removes the authenticator and the recovery codes.
	DeleteTOTP(ctx context.Context, userID string) error
	// ReplaceRecoveryCodes replaces every recovery code of the user.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error
	// UseRecoveryCode spends an unused code by hash (compare-and-set) and
	// reports whether this call did it.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (bool, error)
	// CountRecoveryCodes counts the user's unused codes.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)

	// CreateMFATicket stores t and deletes tickets expired before t.CreatedAt.
	CreateMFATicket(ctx context.Context, t *MFATicket) error
	// MFATicketByHash returns the ticket or ENotFound.
	MFATicketByHash(ctx context.Context, hash []byte) (*MFATicket, error)
	// FailMFATicket counts a wrong code against the ticket and returns the
	// new count.
	FailMFATicket(ctx context.Context, hash []byte) (int, error)
	// UseMFATicket spends the ticket (compare-and-set on used_at) and
	// reports whether this call did it.
	UseMFATicket(ctx context.Context, hash []byte, at time.Time) (bool, error)

	// CreateAccessToken stores t (ENotFound if the user does not exist).
	CreateAccessToken(ctx context.Context, t *AccessToken) error
	// AccessTokenByID returns the token with its hash, or ENotFound.
	AccessTokenByID(ctx context.Context, id string) (*AccessToken, error)
	// ListAccessTokens returns the user's tokens that are not revoked,
	// newest first.
	ListAccessTokens(ctx context.Context, userID string) ([]*AccessToken, error)
	// RevokeAccessToken revokes one token of userID (ENotFound if it does
	// not exist, belongs to someone else or is revoked already).
	RevokeAccessToken(ctx context.Context, userID, id string, at time.Time) error
	// TouchAccessToken sets last_used_at.
	TouchAccessToken(ctx context.Context, id string, at time.Time) error

	// SetBreakGlass marks or unmarks the user as break-glass (ENotFound if
	// the user does not exist).
	SetBreakGlass(ctx context.Context, userID string, on bool, at time.Time) error
	// IsBreakGlass reports whether the user is break-glass.
	IsBreakGlass(ctx context.Context, userID string) (bool, error)
}

// TOTPRecord is a stored authenticator: the secret sealed under the
// key-encryption key.
type TOTPRecord struct {
	UserID      string
	Sealed      []byte
	CreatedAt   time.Time
	ConfirmedAt *time.Time
	LastStep    int64
}

// MFATicket is the stored half of a login's second step: the hash of the
// ticket the client holds.
type MFATicket struct {
	Hash      []byte
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	Attempts  int
	UsedAt    *time.Time
}

// AccessToken is a personal access token as listed: never its secret.
type AccessToken struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Hash is SHA-256 of the token's secret part.
	Hash []byte `json:"-"`
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

// UserDeletion is how DeleteUser deletes an account.
type UserDeletion struct {
	Mode      string // unhidra.DeleteAnonymise or unhidra.DeleteErase
	KeepAdmin bool   // refuse to delete the last enabled admin
	Now       time.Time
}

// DeletionState is how an account was deleted.
type DeletionState struct {
	Mode      string
	DeletedAt time.Time
	// PurgedAt is when its channels' part was done; nil while pending.
	PurgedAt *time.Time
}

// PendingDeletion is a deleted account whose purge is still to do.
type PendingDeletion struct {
	UserID    string
	Mode      string
	DeletedAt time.Time
}

// DeletedUsername is the username a deleted account keeps: "deleted-" and
// its id, longer than ValidateUsername allows, so no registration can
// ever take it, and unique as the id is.
func DeletedUsername(id string) string { return "deleted-" + id }

// RefreshToken is the stored half of a refresh token: only its SHA-256 hash.
type RefreshToken struct {
	Hash       []byte
	SessionID  string
	ParentHash []byte // nil for a session's first token
	CreatedAt  time.Time
	UsedAt     *time.Time
}
