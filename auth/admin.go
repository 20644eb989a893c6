package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// AdminUpdate is an admin's change to another account.
type AdminUpdate struct {
	Role     *string
	Disabled *bool
}

// AdminUpdateUser changes a user's system role or disables the account.
// Disabling revokes every session of the user. The last enabled admin can be
// neither demoted nor disabled, so a server never ends up without one.
func (s *Service) AdminUpdateUser(ctx context.Context, id string, upd AdminUpdate) (*unhidra.User, error) {
	p, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if upd.Role != nil && *upd.Role != unhidra.RoleAdmin && *upd.Role != unhidra.RoleMember && *upd.Role != unhidra.RoleGuest {
		return nil, unhidra.Errorf(unhidra.EInvalid, "role must be admin, member or guest")
	}
	target, err := s.cfg.Store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if target.Deleted {
		return nil, unhidra.Errorf(unhidra.EConflict, "this account was deleted")
	}
	losesAdmin := target.IsAdmin() && !target.Disabled &&
		((upd.Role != nil && *upd.Role != unhidra.RoleAdmin) || (upd.Disabled != nil && *upd.Disabled))
	if losesAdmin {
		n, err := s.cfg.Store.CountAdmins(ctx)
		if err != nil {
			return nil, err
		}
		if n <= 1 {
			return nil, unhidra.Errorf(unhidra.EConflict, "this is the last admin; make another admin first")
		}
	}
	now := s.now().UTC()
	ev := s.callerEvent(ctx, audit.ActionUserUpdate, "user", id)
	ev.Metadata = map[string]string{"old_role": target.Role, "old_disabled": fmt.Sprint(target.Disabled)}
	if upd.Role != nil {
		ev.Metadata["role"] = *upd.Role
	}
	if upd.Disabled != nil {
		ev.Metadata["disabled"] = fmt.Sprint(*upd.Disabled)
	}
	actx := audit.With(ctx, ev)
	u, err := s.cfg.Store.UpdateUser(actx, id, UserUpdate{Role: upd.Role, Disabled: upd.Disabled, Now: now})
	if err != nil {
		return nil, err
	}
	s.recordUntaken(actx)
	if u.Disabled {
		if _, err := s.revokeSessions(ctx, u.ID, "", now); err != nil {
			return nil, fmt.Errorf("revoke sessions of disabled user: %w", err)
		}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "user changed by admin", slog.String("admin_id", p.UserID), slog.String("user_id", u.ID),
		slog.String("role", u.Role), slog.Bool("disabled", u.Disabled))
	return u, nil
}

// AdminListUsers lists every account for admins.
func (s *Service) AdminListUsers(ctx context.Context, cursor string, limit int) ([]*unhidra.User, string, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	users, err := s.cfg.Store.SearchUsers(ctx, "", after, limit+1, true)
	if err != nil {
		return nil, "", err
	}
	var next string
	if len(users) > limit {
		users = users[:limit]
		next = encodeCursor(strings.ToLower(users[len(users)-1].Username))
	}
	return users, next, nil
}

// AdminRevokeSessions ends every session of a user (admins only): their
// refresh tokens stop working and their sockets close with 4001 on every
// node. The account stays enabled; they sign in again.
func (s *Service) AdminRevokeSessions(ctx context.Context, id string) (int, error) {
	p, err := requireAdmin(ctx)
	if err != nil {
		return 0, err
	}
	if err := unhidra.CheckID("user id", id); err != nil {
		return 0, err
	}
	if _, err := s.cfg.Store.UserByID(ctx, id); err != nil {
		return 0, err
	}
	n, err := s.revokeSessions(ctx, id, "", s.now().UTC())
	if err != nil {
		return 0, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "sessions reset by admin", slog.String("admin_id", p.UserID), slog.String("user_id", id), slog.Int("sessions", n))
	return n, nil
}
