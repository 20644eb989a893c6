package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strings"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context) (*unhidra.User, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.cfg.Store.UserByID(ctx, p.UserID)
}

// ProfileUpdate lists the profile fields a user may change; nil is unchanged.
type ProfileUpdate struct {
	DisplayName *string
	StatusText  *string
}

// UpdateMe changes the caller's profile.
func (s *Service) UpdateMe(ctx context.Context, upd ProfileUpdate) (*unhidra.User, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if upd.DisplayName != nil {
		v := strings.TrimSpace(*upd.DisplayName)
		if v == "" {
			return nil, unhidra.Errorf(unhidra.EInvalid, "display_name must not be empty")
		}
		if err := checkDisplayName(v, p.Role == unhidra.RoleAdmin); err != nil {
			return nil, err
		}
		upd.DisplayName = &v
	}
	if upd.StatusText != nil {
		if err := unhidra.CheckText("status_text", *upd.StatusText, 140); err != nil {
			return nil, err
		}
	}
	return s.cfg.Store.UpdateUser(ctx, p.UserID, UserUpdate{DisplayName: upd.DisplayName, StatusText: upd.StatusText, Now: s.now().UTC()})
}

// ChangePassword replaces the caller's password after checking the old one,
// and revokes every other session of the caller.
func (s *Service) ChangePassword(ctx context.Context, oldPlain, newPlain string) error {
	p, err := requireSession(ctx)
	if err != nil {
		return err
	}
	u, err := s.cfg.Store.UserByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	_, hash, err := s.cfg.Store.UserByUsername(ctx, u.Username)
	if err != nil {
		return err
	}
	ok, _, err := s.cfg.Hasher.Verify(ctx, oldPlain, hash)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		ev := s.callerEvent(ctx, audit.ActionPasswordChange, "user", u.ID)
		ev.Result, ev.Reason = audit.ResultFailed, "bad_password"
		s.record(ctx, ev)
		return unhidra.Errorf(unhidra.EPermission, "the current password is wrong")
	}
	if err := s.policy().Check(u.Username, newPlain); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(oldPlain), []byte(newPlain)) == 1 {
		return unhidra.Errorf(unhidra.EInvalid, "the new password must differ from the current one")
	}
	nh, err := s.cfg.Hasher.Hash(ctx, newPlain)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	actx := audit.With(ctx, s.callerEvent(ctx, audit.ActionPasswordChange, "user", u.ID))
	if err := s.cfg.Store.SetPasswordHash(actx, u.ID, nh, now); err != nil {
		return err
	}
	s.recordUntaken(actx)
	n, err := s.revokeSessions(ctx, u.ID, p.SessionID, now)
	if err != nil {
		return fmt.Errorf("revoke other sessions: %w", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "password changed", slog.String("user_id", u.ID), slog.Int("sessions_revoked", n))
	return nil
}
