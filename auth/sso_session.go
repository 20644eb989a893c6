package auth

import (
	"context"
	"fmt"

	"github.com/unhidra/unhidra"
)

// StartVerifiedSession starts a session for a user whom another sign-in
// method has just authenticated: package auth/sso after checking the
// provider's ID token, package auth/passkey after checking a WebAuthn
// assertion; nothing else may call it. action is the audit action of the
// login (audit.ActionSSOLogin, audit.ActionPasskeyLogin). A disabled
// account is refused as at a password login.
// metadata goes into that event (ids, never secrets).
func (s *Service) StartVerifiedSession(ctx context.Context, userID, action string, metadata map[string]string, meta ClientMeta) (*TokenPair, error) {
	u, err := s.cfg.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	if u.Disabled {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "this account is disabled")
	}
	return s.createSession(ctx, u, meta, action, metadata)
}

// UnusablePasswordHash returns the hash of a random password nobody knows,
// for accounts that sign in only through single sign-on: a password login
// to them fails like any wrong password, at the same cost.
func (s *Service) UnusablePasswordHash(ctx context.Context) (string, error) {
	h, err := s.cfg.Hasher.Hash(ctx, randomToken(""))
	if err != nil {
		return "", fmt.Errorf("hash unusable password: %w", err)
	}
	return h, nil
}

// CheckDisplayName applies the display-name rules of a new member account
// to a name that came from elsewhere (an identity provider's name claim).
func CheckDisplayName(name string) error { return checkDisplayName(name, false) }
