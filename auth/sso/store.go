package sso

import (
	"context"
	"time"

	"github.com/unhidra/unhidra"
)

// Store is what single sign-on needs from durable storage;
// authstore.Store implements it on SQLite and PostgreSQL. Errors are
// *unhidra.Error with ENotFound or EConflict where noted.
type Store interface {
	// PutState stores a flow in progress.
	PutState(ctx context.Context, st *State) error
	// TakeState deletes the flow whose state hash is stateHash and returns
	// it, in one statement, so that of two callbacks with one state at
	// most one gets it (ENotFound for the other, or an unknown state).
	// Expired rows are returned too: the caller checks ExpiresAt.
	TakeState(ctx context.Context, stateHash []byte) (*State, error)
	// DeleteExpiredStates removes flows that expired before now.
	DeleteExpiredStates(ctx context.Context, now time.Time) error

	// UserByIdentity returns the user linked to (provider, subject), or
	// ENotFound.
	UserByIdentity(ctx context.Context, provider, subject string) (*unhidra.User, error)
	// CreateUserWithIdentity inserts u (with an unusable password hash)
	// and its identity (Provisioned set) in one transaction. EConflict
	// wrapping ErrUsernameTaken if the username is taken; plain EConflict
	// if the identity exists already.
	CreateUserWithIdentity(ctx context.Context, u *unhidra.User, passwordHash string, id *Identity) error
	// LinkIdentity adds an identity to an existing user: EConflict if
	// (provider, subject) is linked to anyone or the user already has an
	// identity of that provider; ENotFound if the user does not exist.
	LinkIdentity(ctx context.Context, id *Identity) error
	// UnlinkIdentity removes the user's identity of provider (ENotFound
	// if there is none).
	UnlinkIdentity(ctx context.Context, userID, provider string) error
	// Identities lists the user's identities, oldest first.
	Identities(ctx context.Context, userID string) ([]*Identity, error)
	// CountAdmins counts users with the admin role that are not disabled.
	CountAdmins(ctx context.Context) (int, error)
	// SetRole sets the user's system role.
	SetRole(ctx context.Context, userID, role string, now time.Time) (*unhidra.User, error)
}

// Purposes of a flow.
const (
	PurposeLogin = "login"
	PurposeLink  = "link"
)

// State is a sign-in or link flow between /start and /callback.
type State struct {
	StateHash   []byte // SHA-256 of the state parameter
	BindingHash []byte // SHA-256 of the browser binding cookie
	Provider    string
	Purpose     string // PurposeLogin or PurposeLink
	UserID      string // the signed-in user, for PurposeLink
	Nonce       string
	Verifier    string // PKCE code verifier
	ExpiresAt   time.Time
}

// Identity is a provider account linked to a user.
type Identity struct {
	Provider    string    `json:"provider"`
	Subject     string    `json:"subject"`
	UserID      string    `json:"-"`
	Provisioned bool      `json:"provisioned" doc:"signing in with this identity created the account"`
	CreatedAt   time.Time `json:"created_at"`
}
