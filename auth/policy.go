package auth

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/auth/password"
)

// Password-login policies (Config.PasswordLogin, --password-login).
const (
	// PasswordLoginOn lets every account sign in with its password.
	PasswordLoginOn = "on"
	// PasswordLoginSSOOnly refuses password sign-in and password
	// registration to every account but the break-glass ones
	// (SetBreakGlass), so that SSO is the only way in and an outage of the
	// identity provider still leaves an admin a way to sign in.
	PasswordLoginSSOOnly = "sso-only"
)

// ValidPasswordLogin reports whether v names a password-login policy.
func ValidPasswordLogin(v string) bool { return v == PasswordLoginOn || v == PasswordLoginSSOOnly }

func (s *Service) ssoOnly() bool { return s.PasswordLogin() == PasswordLoginSSOOnly }

func errPasswordLoginDisabled() error {
	return unhidra.Errorf(unhidra.EPasswordLoginDisabled, "password sign-in is turned off on this server; sign in with SSO")
}

// passwordLoginAllowed is the SSO-only check of a password login, made
// before the password is looked at and before the try counts against any
// backoff: under the policy no password of an ordinary account can be
// tried at all. (The answer tells an unauthenticated caller which accounts
// are break-glass, as a 401 rather than a 403; it tells nothing about any
// password, and the break-glass accounts keep the full login backoff.)
func (s *Service) passwordLoginAllowed(ctx context.Context, username string) error {
	if !s.ssoOnly() {
		return nil
	}
	u, _, err := s.cfg.Store.UserByUsername(ctx, username)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return errPasswordLoginDisabled()
	} else if err != nil {
		return fmt.Errorf("look up user: %w", err)
	}
	ok, err := s.cfg.Store.IsBreakGlass(ctx, u.ID)
	if err != nil {
		return err
	}
	if !ok {
		return errPasswordLoginDisabled()
	}
	return nil
}

// SetBreakGlass marks an account as break-glass (it may sign in with its
// password under the SSO-only policy) or clears the mark. Admins only; a
// personal access token needs the admin scope.
func (s *Service) SetBreakGlass(ctx context.Context, userID string, on bool) error {
	p, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	if !p.Allows(unhidra.ScopeAdmin) {
		return errScope(unhidra.ScopeAdmin)
	}
	if err := unhidra.CheckID("id", userID); err != nil {
		return err
	}
	if !on && s.ssoOnly() {
		// Under SSO only, the last enabled break-glass admin keeps the
		// mark (the shell's SetBreakGlassUnchecked can still clear it).
		if err := s.keepsBreakGlass(ctx, userID); err != nil {
			return err
		}
	}
	actx := audit.With(ctx, breakGlassEvent(s.callerEvent(ctx, audit.ActionBreakGlass, "user", userID), on, ""))
	if err := s.cfg.Store.SetBreakGlass(actx, userID, on, s.now().UTC()); err != nil {
		return err
	}
	s.recordUntaken(actx)
	s.log.LogAttrs(ctx, slog.LevelInfo, "break-glass changed", slog.String("user_id", userID), slog.Bool("on", on), slog.String("by", p.UserID))
	return nil
}

// keepsBreakGlass refuses to unmark userID if they are the last enabled
// break-glass admin.
func (s *Service) keepsBreakGlass(ctx context.Context, userID string) error {
	was, err := s.cfg.Store.IsBreakGlass(ctx, userID)
	if err != nil || !was {
		return err
	}
	u, err := s.cfg.Store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if !u.IsAdmin() || u.Disabled {
		return nil
	}
	n, err := s.cfg.Store.CountBreakGlassAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return unhidra.Errorf(unhidra.EConflict, "password sign-in is sso-only and this is the last enabled break-glass admin: mark another admin break-glass first")
	}
	return nil
}

// SetBreakGlassUnchecked is SetBreakGlass for the operator's shell
// (unhidra admin break-glass), which has no caller to authorize.
func (s *Service) SetBreakGlassUnchecked(ctx context.Context, username string, on bool) (*unhidra.User, error) {
	u, _, err := s.cfg.Store.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	ev := &audit.Event{Action: audit.ActionBreakGlass, ActorType: audit.ActorSystem, TargetType: "user", TargetID: u.ID, Time: s.now()}
	actx := audit.With(ctx, breakGlassEvent(ev, on, "cli"))
	if err := s.cfg.Store.SetBreakGlass(actx, u.ID, on, s.now().UTC()); err != nil {
		return nil, err
	}
	s.recordUntaken(actx)
	return u, nil
}

// breakGlassEvent completes e, an admin.break_glass event: state set or
// cleared, and how, if not through the API.
func breakGlassEvent(e *audit.Event, on bool, via string) *audit.Event {
	e.Metadata = map[string]string{"state": "cleared"}
	if on {
		e.Metadata["state"] = "set"
	}
	if via != "" {
		e.Metadata["via"] = via
	}
	return e
}

// IsBreakGlass reports whether the user is break-glass. Admins only.
func (s *Service) IsBreakGlass(ctx context.Context, userID string) (bool, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return false, err
	}
	return s.cfg.Store.IsBreakGlass(ctx, userID)
}

// PasswordLogin is the password-login policy in force.
func (s *Service) PasswordLogin() string {
	if s.cfg.Live != nil {
		return s.cfg.Live.PasswordLogin()
	}
	return s.cfg.PasswordLogin
}

// policy is the password policy in force.
func (s *Service) policy() password.Policy {
	p := s.cfg.Policy
	if s.cfg.Live != nil {
		p.MinLength = s.cfg.Live.PasswordMinLength()
	}
	return p
}

// CheckSSOOnly says whether password sign-in may become sso-only: only
// while at least one enabled admin is break-glass, so that an outage of
// the identity provider still leaves an admin a way in (EConflict
// otherwise). The settings service asks it before such a change.
func (s *Service) CheckSSOOnly(ctx context.Context) error {
	n, err := s.cfg.Store.CountBreakGlassAdmins(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return unhidra.Errorf(unhidra.EConflict, "no enabled admin is break-glass, so nobody could sign in if single sign-on failed: "+
			"mark an admin break-glass first (PUT /api/v1/admin/users/{id}/break-glass, or `unhidra admin break-glass USER on`)")
	}
	return nil
}
