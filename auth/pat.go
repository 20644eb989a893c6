package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/wire"
)

// Personal access tokens, for scripts: uhp_<id>_<secret>, where id is 16
// random bytes in lower-case hex (the record's key, safe to show) and secret
// 32 random bytes in base64url. Only SHA-256 of the secret is stored: a
// 256-bit random value needs no slow hash, and the lookup by id keeps the
// comparison to one row, done in constant time.
//
// A token authenticates like an access token (Authorization: Bearer, and
// the WebSocket), as its user, limited to its scopes (unhidra.Scope*): the
// transports refuse what the scopes do not cover, and credentials (the
// password, sessions, two-factor, tokens themselves) are managed only
// from a session. Revoking one is a database write that Authenticate reads
// on every request, on every node, so it takes effect at once; the
// announcement on the bus closes the token's open WebSockets.

const (
	// AccessTokenPrefix starts every personal access token, so that secret
	// scanners recognise a leaked one.
	AccessTokenPrefix = "uhp_"
	// MaxAccessTokenTTL is the longest lifetime a token may be given.
	MaxAccessTokenTTL = 366 * 24 * time.Hour
	// MaxAccessTokens is how many live tokens one user may hold.
	MaxAccessTokens = 50
	// MaxAccessTokenName bounds a token's name, in code points.
	MaxAccessTokenName = 64

	patIDLen     = 32 // hex of 16 bytes
	patSecretLen = 43 // base64url of 32 bytes, no padding
	patLen       = len(AccessTokenPrefix) + patIDLen + 1 + patSecretLen
	// patTouchEvery bounds the writes of last_used_at: at most one per token
	// per interval, not one per request.
	patTouchEvery = time.Minute
)

// Scopes lists the scopes a token may hold.
var Scopes = []string{unhidra.ScopeRead, unhidra.ScopeWrite, unhidra.ScopeAdmin}

// ParseAccessToken splits a personal access token into its id and secret.
// It accepts exactly the format this package issues and nothing else.
func ParseAccessToken(tok string) (id string, secret []byte, ok bool) {
	if len(tok) != patLen || !strings.HasPrefix(tok, AccessTokenPrefix) {
		return "", nil, false
	}
	rest := tok[len(AccessTokenPrefix):]
	id, sec := rest[:patIDLen], rest[patIDLen:]
	if sec[0] != '_' {
		return "", nil, false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", nil, false
		}
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(sec[1:])
	if err != nil || len(secret) != 32 {
		return "", nil, false
	}
	return id, secret, true
}

func hashSecret(secret []byte) []byte {
	h := sha256.Sum256(secret)
	return h[:]
}

func errScope(scope string) error {
	return unhidra.Errorf(unhidra.EPermission, "this personal access token lacks the %q scope", scope)
}

// CreateAccessTokenInput is a request for a token.
type CreateAccessTokenInput struct {
	Name      string
	Scopes    []string
	ExpiresIn time.Duration // required; at most MaxAccessTokenTTL
}

// CreateAccessToken issues a token for the caller and returns it with its
// secret form, which is shown this once.
func (s *Service) CreateAccessToken(ctx context.Context, in CreateAccessTokenInput) (*AccessToken, string, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, "", err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, "", unhidra.Errorf(unhidra.EInvalid, "name is required")
	}
	if err := unhidra.CheckText("name", name, MaxAccessTokenName); err != nil {
		return nil, "", err
	}
	if len(in.Scopes) == 0 {
		return nil, "", unhidra.Errorf(unhidra.EInvalid, "scopes are required: any of %s", strings.Join(Scopes, ", "))
	}
	var scopes []string
	for _, sc := range in.Scopes {
		if !slices.Contains(Scopes, sc) {
			return nil, "", unhidra.Errorf(unhidra.EInvalid, "unknown scope %q: the scopes are %s", truncate(sc, 32), strings.Join(Scopes, ", "))
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	slices.Sort(scopes)
	if slices.Contains(scopes, unhidra.ScopeAdmin) && p.Role != unhidra.RoleAdmin {
		return nil, "", unhidra.Errorf(unhidra.EPermission, "only admins may create a token with the admin scope")
	}
	if in.ExpiresIn <= 0 {
		return nil, "", unhidra.Errorf(unhidra.EInvalid, "expires_in_s is required: a token must expire (at most %d days)", int(MaxAccessTokenTTL/(24*time.Hour)))
	}
	if in.ExpiresIn > MaxAccessTokenTTL {
		return nil, "", unhidra.Errorf(unhidra.EInvalid, "expires_in_s is at most %d (%d days)", int(MaxAccessTokenTTL/time.Second), int(MaxAccessTokenTTL/(24*time.Hour)))
	}
	live, err := s.cfg.Store.ListAccessTokens(ctx, p.UserID)
	if err != nil {
		return nil, "", err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	n := 0
	for _, t := range live {
		if now.Before(t.ExpiresAt) {
			n++
		}
	}
	if n >= MaxAccessTokens {
		return nil, "", unhidra.Errorf(unhidra.EConflict, "you hold %d live access tokens, the most allowed; revoke one first", n)
	}
	idb := make([]byte, 16)
	secret := make([]byte, 32)
	rand.Read(idb) // never fails since Go 1.24
	rand.Read(secret)
	t := &AccessToken{
		ID: hex.EncodeToString(idb), UserID: p.UserID, Name: name, Scopes: scopes,
		CreatedAt: now, ExpiresAt: now.Add(in.ExpiresIn), Hash: hashSecret(secret),
	}
	if err := s.cfg.Store.CreateAccessToken(audit.With(ctx, s.callerEvent(ctx, audit.ActionTokenCreate, "access_token", t.ID)), t); err != nil {
		return nil, "", err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "access token created", slog.String("user_id", p.UserID), slog.String("token_id", t.ID),
		slog.String("scopes", strings.Join(scopes, " ")))
	return t, AccessTokenPrefix + t.ID + "_" + base64.RawURLEncoding.EncodeToString(secret), nil
}

// ListAccessTokens returns the caller's tokens that are not revoked
// (expired ones included, until revoked), newest first.
func (s *Service) ListAccessTokens(ctx context.Context) ([]*AccessToken, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, err
	}
	return s.cfg.Store.ListAccessTokens(ctx, p.UserID)
}

// RevokeAccessToken revokes one of the caller's tokens: ENotFound for a
// token that is not the caller's, so nobody learns another's token ids.
func (s *Service) RevokeAccessToken(ctx context.Context, id string) error {
	p, err := requireSession(ctx)
	if err != nil {
		return err
	}
	if err := unhidra.CheckID("id", id); err != nil {
		return err
	}
	if err := s.cfg.Store.RevokeAccessToken(audit.With(ctx, s.callerEvent(ctx, audit.ActionTokenRevoke, "access_token", id)), p.UserID, id, s.now().UTC()); err != nil {
		return err
	}
	s.announce(ctx, p.UserID, wire.Control{Type: wire.ControlSessionRevoked, SessionID: patSessionID(id)})
	return nil
}

func patSessionID(id string) string { return "pat:" + id }

func (s *Service) authenticatePAT(ctx context.Context, tok string) (*unhidra.Principal, error) {
	invalid := unhidra.Errorf(unhidra.EUnauthenticated, "the personal access token is not valid, expired or revoked")
	id, secret, ok := ParseAccessToken(tok)
	if !ok {
		return nil, invalid
	}
	t, err := s.cfg.Store.AccessTokenByID(ctx, id)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, invalid
	} else if err != nil {
		return nil, fmt.Errorf("look up access token: %w", err)
	}
	now := s.now().UTC()
	if subtle.ConstantTimeCompare(hashSecret(secret), t.Hash) != 1 || t.RevokedAt != nil || !now.Before(t.ExpiresAt) {
		return nil, invalid
	}
	u, err := s.cfg.Store.UserByID(ctx, t.UserID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, invalid
	} else if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	if u.Disabled {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "this account is disabled")
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= patTouchEvery {
		if err := s.cfg.Store.TouchAccessToken(ctx, t.ID, now); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "access token use not recorded", slog.String("token_id", t.ID), slog.Any("err", err))
		}
	}
	// Without the admin scope the token acts as a member, wherever a role
	// is checked (accounts, chat, the gateway): an admin's read or write
	// token carries none of the admin's powers.
	role := u.Role
	if role == unhidra.RoleAdmin && !slices.Contains(t.Scopes, unhidra.ScopeAdmin) {
		role = unhidra.RoleMember
	}
	return &unhidra.Principal{
		UserID: u.ID, Role: role, SessionID: patSessionID(t.ID),
		TokenID: t.ID, Scopes: t.Scopes, ExpiresAt: t.ExpiresAt,
	}, nil
}
