package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/wire"
)

// TokenPair is the result of a login or refresh.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds until the access token expires
	User         *unhidra.User
	SessionID    string
	// DeviceToken, after a login, identifies this client at its next login
	// of the account (see device.go); empty after a refresh.
	DeviceToken string
	// MFA, when set, means the password was right but the account has
	// two-factor on: every other field is empty, and the login finishes
	// with CompleteMFALogin.
	MFA *MFAChallenge
}

func (s *Service) pair(u *unhidra.User, sessionID, refresh string) (*TokenPair, error) {
	return s.pairFor(u, sessionID, "", refresh)
}

// pairFor is pair for a session bound to an end-to-end client install,
// whose id the access token carries (client_id).
func (s *Service) pairFor(u *unhidra.User, sessionID, clientID, refresh string) (*TokenPair, error) {
	access, exp, err := s.cfg.Tokens.Issue(token.Claims{UserID: u.ID, SessionID: sessionID, Role: u.Role, ClientID: clientID})
	if err != nil {
		return nil, fmt.Errorf("issue access token: %w", err)
	}
	return &TokenPair{
		AccessToken:  access,
		RefreshToken: refresh,
		ExpiresIn:    max(int(time.Until(exp).Seconds()), 0),
		User:         u,
		SessionID:    sessionID,
	}, nil
}

// Refresh rotates a refresh token: the presented one is spent and a new pair
// is returned. See the package doc for reuse and the grace window.
func (s *Service) Refresh(ctx context.Context, refresh string, meta ClientMeta) (*TokenPair, error) {
	invalid := unhidra.Errorf(unhidra.EUnauthenticated, "the refresh token is not valid")
	if refresh == "" || len(refresh) > 256 {
		return nil, invalid
	}
	hash := hashToken(refresh)
	rt, err := s.cfg.Store.RefreshTokenByHash(ctx, hash)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, invalid
	} else if err != nil {
		return nil, fmt.Errorf("look up refresh token: %w", err)
	}
	now := s.now().UTC()
	sess, err := s.cfg.Store.SessionByID(ctx, rt.SessionID)
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the session has ended; log in again")
	}
	if rt.UsedAt == nil {
		won, err := s.cfg.Store.MarkRefreshTokenUsed(ctx, hash, now)
		if err != nil {
			return nil, fmt.Errorf("spend refresh token: %w", err)
		}
		if !won {
			// Someone else spent it a moment ago: treat as a repeat.
			if rt, err = s.cfg.Store.RefreshTokenByHash(ctx, hash); err != nil {
				return nil, fmt.Errorf("look up refresh token: %w", err)
			}
		}
	}
	if rt.UsedAt != nil {
		if s.cfg.RefreshGrace <= 0 || now.Sub(*rt.UsedAt) > s.cfg.RefreshGrace {
			ev := s.userEvent(audit.ActionRefreshReuse, sess.UserID, "session", sess.ID, meta.IP)
			ev.Result, ev.Reason = audit.ResultDenied, "token_reused"
			if err := s.revokeSession(audit.With(ctx, ev), sess.UserID, sess.ID, now); err != nil {
				return nil, fmt.Errorf("revoke reused session: %w", err)
			}
			s.log.LogAttrs(ctx, slog.LevelWarn, "refresh token reuse: session revoked",
				slog.String("user_id", sess.UserID), slog.String("session_id", sess.ID), slog.String("ip", meta.IP))
			return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the refresh token was already used; the session is revoked, log in again")
		}
		// Within the grace window: a second tab or a lost response. Hand out
		// another successor in the same family.
	}
	u, err := s.cfg.Store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	if u.Disabled {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "this account is disabled")
	}
	next := randomToken("uhr_")
	actx := audit.With(ctx, s.userEvent(audit.ActionRefresh, sess.UserID, "session", sess.ID, meta.IP))
	if err := s.cfg.Store.AddRefreshToken(actx, &RefreshToken{Hash: hashToken(next), SessionID: sess.ID, ParentHash: hash, CreatedAt: now}); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	s.recordUntaken(actx)
	if err := s.cfg.Store.TouchSession(ctx, sess.ID, now, meta.IP, truncate(meta.UserAgent, 256), now.Add(s.cfg.SessionTTL)); err != nil {
		return nil, fmt.Errorf("touch session: %w", err)
	}
	return s.pairFor(u, sess.ID, sess.ClientID, next)
}

// BindClient binds the caller's session to one of their end-to-end client
// installs (package keys, which checked that it is theirs): the session's
// next refresh issues an access token with that client_id. A personal
// access token has no session to bind, and the call does nothing for it.
func (s *Service) BindClient(ctx context.Context, clientID string) error {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil {
		return unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	if p.TokenID != "" || p.SessionID == "" {
		return nil
	}
	return s.cfg.Store.BindSessionClient(ctx, p.UserID, p.SessionID, clientID)
}

// Authenticate verifies an access token and checks that its session is still
// live and its user still enabled. It returns the caller's principal.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*unhidra.Principal, error) {
	if strings.HasPrefix(accessToken, AccessTokenPrefix) {
		return s.authenticatePAT(ctx, accessToken)
	}
	claims, err := s.cfg.Tokens.Verify(accessToken)
	if err != nil {
		return nil, &unhidra.Error{Code: unhidra.EUnauthenticated, Message: "the access token is not valid", Err: err}
	}
	sess, err := s.cfg.Store.SessionByID(ctx, claims.SessionID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the session has ended")
	} else if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if sess.RevokedAt != nil || sess.UserID != claims.UserID {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the session has ended")
	}
	u, err := s.cfg.Store.UserByID(ctx, claims.UserID)
	if err != nil {
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the account no longer exists")
		}
		return nil, fmt.Errorf("look up user: %w", err)
	}
	if u.Disabled {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "this account is disabled")
	}
	// The role comes from the store, not the token, so a demotion applies
	// at once.
	return &unhidra.Principal{UserID: u.ID, Role: u.Role, SessionID: sess.ID, ClientID: claims.ClientID, ExpiresAt: claims.ExpiresAt}, nil
}

// Logout revokes the caller's session, or, with no authenticated caller, the
// session of the given refresh token.
func (s *Service) Logout(ctx context.Context, refresh string) error {
	now := s.now().UTC()
	if p := unhidra.PrincipalFromContext(ctx); p != nil {
		if p.TokenID != "" {
			return errSessionOnly()
		}
		return s.revokeSession(audit.With(ctx, s.callerEvent(ctx, audit.ActionLogout, "session", p.SessionID)), p.UserID, p.SessionID, now)
	}
	if refresh == "" {
		return unhidra.Errorf(unhidra.EUnauthenticated, "log out needs an access token or a refresh token")
	}
	rt, err := s.cfg.Store.RefreshTokenByHash(ctx, hashToken(refresh))
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return unhidra.Errorf(unhidra.EUnauthenticated, "the refresh token is not valid")
	} else if err != nil {
		return fmt.Errorf("look up refresh token: %w", err)
	}
	sess, err := s.cfg.Store.SessionByID(ctx, rt.SessionID)
	if err != nil {
		return fmt.Errorf("look up session: %w", err)
	}
	ev := s.userEvent(audit.ActionLogout, sess.UserID, "session", sess.ID, audit.ClientIP(ctx))
	return s.revokeSession(audit.With(ctx, ev), sess.UserID, sess.ID, now)
}

// announce tells every node that sessions of userID ended. A failure is
// logged, not returned: the revocation is already durable, and Authenticate
// refuses the session's tokens whatever the bus does.
func (s *Service) announce(ctx context.Context, userID string, m wire.Control) {
	if s.cfg.Events == nil {
		return
	}
	if err := s.cfg.Events.Publish(context.WithoutCancel(ctx), wire.UserSubject(userID), m.Encode()); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "announce session revocation", slog.String("user_id", userID), slog.Any("err", err))
	}
}

// revokeSession and revokeSessions write the audit events attached to ctx
// (audit.With) with the revocation.
func (s *Service) revokeSession(ctx context.Context, userID, sessionID string, now time.Time) error {
	if err := s.cfg.Store.RevokeSession(ctx, userID, sessionID, now); err != nil {
		return err
	}
	s.recordUntaken(ctx)
	s.announce(ctx, userID, wire.Control{Type: wire.ControlSessionRevoked, SessionID: sessionID})
	return nil
}

func (s *Service) revokeSessions(ctx context.Context, userID, keep string, now time.Time) (int, error) {
	n, err := s.cfg.Store.RevokeSessions(ctx, userID, keep, now)
	if err != nil {
		return 0, err
	}
	s.recordUntaken(ctx)
	s.announce(ctx, userID, wire.Control{Type: wire.ControlSessionsRevoked, KeepSession: keep})
	return n, nil
}

// ListSessions returns the caller's live sessions, marking the current one.
func (s *Service) ListSessions(ctx context.Context) ([]*unhidra.Session, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.cfg.Store.ListSessions(ctx, p.UserID, s.now().UTC())
	if err != nil {
		return nil, err
	}
	for _, x := range list {
		x.Current = x.ID == p.SessionID
	}
	return list, nil
}

// RevokeSession ends one of the caller's sessions. Another user's session
// answers not found.
func (s *Service) RevokeSession(ctx context.Context, id string) error {
	p, err := requireSession(ctx)
	if err != nil {
		return err
	}
	sess, err := s.cfg.Store.SessionByID(ctx, id)
	if err != nil || sess.UserID != p.UserID || sess.RevokedAt != nil {
		if err == nil || unhidra.ErrorCode(err) == unhidra.ENotFound {
			return unhidra.Errorf(unhidra.ENotFound, "no such session")
		}
		return err
	}
	return s.revokeSession(audit.With(ctx, s.callerEvent(ctx, audit.ActionSessionRevoke, "session", id)), p.UserID, id, s.now().UTC())
}

// RevokeOtherSessions ends every session of the caller but the current one.
func (s *Service) RevokeOtherSessions(ctx context.Context) (int, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return 0, err
	}
	return s.revokeSessions(audit.With(ctx, s.callerEvent(ctx, audit.ActionSessionsRevoke, "user", p.UserID)), p.UserID, p.SessionID, s.now().UTC())
}

// DeviceTokenTTL is how long a device token counts after its login.
func (s *Service) DeviceTokenTTL() time.Duration { return s.cfg.DeviceTokenTTL }
