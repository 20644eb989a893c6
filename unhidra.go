// Package unhidra holds the domain types and error codes shared by every
// service, store and transport of the Unhidra server. It has no dependencies
// beyond the standard library.
package unhidra

import (
	"context"
	"time"
)

// Version is set at build time with -ldflags "-X github.com/unhidra/unhidra.Version=…".
var Version = "dev"

// System roles.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
	// RoleGuest sees only the channels they were added to, creates none,
	// and opens direct messages only with people they share a channel with
	// (docs/permissions.md "Guests").
	RoleGuest = "guest"
)

// User is an account. The password hash never lives here: it stays in the store
// and the auth service.
type User struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	StatusText  string `json:"status_text"`
	Role        string `json:"role"`
	Disabled    bool   `json:"disabled"`
	// Deleted marks an account an admin deleted: what remains is its
	// tombstone (display name "Deleted user", no profile), kept so that the
	// messages it sent still name a sender.
	Deleted   bool      `json:"deleted"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DeletedUserName is the display name of every deleted account.
const DeletedUserName = "Deleted user"

// Ways to delete an account (auth.Service.AdminDeleteUser).
const (
	// DeleteAnonymise removes the account and keeps its messages, which
	// then show "Deleted user" as their author.
	DeleteAnonymise = "anonymise"
	// DeleteErase removes the account and deletes every message it sent.
	DeleteErase = "erase"
)

// IsAdmin reports whether u holds the system admin role.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

// Session is one signed-in client: a refresh-token family. Revoking it ends
// every refresh token and access token issued for it.
type Session struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	// ClientID is the end-to-end client install the session registered
	// last (package keys), carried in its access tokens' client_id claim.
	ClientID  string     `json:"client_id,omitempty"`
	RevokedAt *time.Time `json:"-"`
	// Current is set by the service when listing: the session of the caller.
	Current bool `json:"current"`
}

// Invite lets someone register on a server whose registration is "invite".
type Invite struct {
	Code      string     `json:"code"`
	CreatedBy string     `json:"created_by"`
	MaxUses   int        `json:"max_uses"`
	Uses      int        `json:"uses"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Registration modes (--registration).
const (
	RegistrationOpen   = "open"
	RegistrationInvite = "invite"
	RegistrationClosed = "closed"
)

// Principal is the authenticated caller of a request, as established by a
// transport from an access token.
type Principal struct {
	UserID    string
	Role      string
	SessionID string
	ClientID  string
	// ExpiresAt is when the access token that established the principal
	// expires; a WebSocket is closed then unless it presents a fresh one.
	ExpiresAt time.Time
	// TokenID is set when the caller authenticated with a personal access
	// token (uhp_…) rather than a session's access token; SessionID is
	// then "pat:" + TokenID, so that revoking the token closes its sockets
	// like a revoked session. Scopes are that token's scopes.
	TokenID string
	Scopes  []string
}

// Scopes of personal access tokens. A session's access token carries all of
// them implicitly.
const (
	ScopeRead  = "read"  // read anything the user can read (GET)
	ScopeWrite = "write" // also post, edit and change (every other method)
	ScopeAdmin = "admin" // the admin API, for an admin user
)

// Allows reports whether the principal may act with scope: always for a
// session; for a personal access token, when the token holds the scope, or
// for ScopeRead when it holds ScopeWrite.
func (p *Principal) Allows(scope string) bool {
	if p == nil {
		return false
	}
	if p.TokenID == "" {
		return true
	}
	for _, s := range p.Scopes {
		if s == scope || (scope == ScopeRead && s == ScopeWrite) {
			return true
		}
	}
	return false
}

type principalKey struct{}

// NewContextWithPrincipal returns ctx carrying p.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the caller of ctx, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
