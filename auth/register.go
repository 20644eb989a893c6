package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strings"

	"github.com/unhidra/unhidra"
)

// Bootstrap prepares the first-admin setup: when no admin exists it returns a
// fresh one-time setup token (and needed = true), which the operator finds in
// the log. Registering with it makes that user the admin.
func (s *Service) Bootstrap(ctx context.Context) (setupToken string, needed bool, err error) {
	n, err := s.cfg.Store.CountAdmins(ctx)
	if err != nil {
		return "", false, fmt.Errorf("count admins: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	tok := randomToken("uhs_")
	h := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	s.setupHash = h[:]
	s.mu.Unlock()
	return tok, true, nil
}

// RegisterInput is a registration request.
type RegisterInput struct {
	Username    string
	Password    string
	DisplayName string
	SetupToken  string
	Invite      string
}

// Register creates an account. With the setup token it creates the admin;
// otherwise the registration mode decides who may register.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*unhidra.User, error) {
	if err := ValidateUsername(in.Username); err != nil {
		return nil, err
	}
	if in.Invite != "" {
		if err := unhidra.CheckID("invite", in.Invite); err != nil {
			return nil, err
		}
	}
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	if err := unhidra.CheckText("display_name", in.DisplayName, MaxDisplayName); err != nil {
		return nil, err
	}
	if err := s.cfg.Policy.Check(in.Username, in.Password); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &unhidra.User{
		ID:          newID(),
		Username:    in.Username,
		DisplayName: in.DisplayName,
		Role:        unhidra.RoleMember,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if u.DisplayName == "" {
		u.DisplayName = in.Username
	}
	opts := CreateUserOptions{Now: now}
	switch {
	case in.SetupToken != "":
		if !s.checkSetupToken(in.SetupToken) {
			return nil, unhidra.Errorf(unhidra.EPermission, "the setup token is not valid (it is printed in the server log while no admin exists)")
		}
		u.Role = unhidra.RoleAdmin
		opts.RequireNoAdmin = true
	case s.cfg.Registration == unhidra.RegistrationClosed:
		return nil, unhidra.Errorf(unhidra.EPermission, "registration is closed on this server")
	case s.cfg.Registration == unhidra.RegistrationInvite:
		if in.Invite == "" {
			return nil, unhidra.Errorf(unhidra.EPermission, "registration on this server needs an invite")
		}
		opts.InviteCode = in.Invite
	case in.Invite != "":
		// Open registration: an invite is not needed, but a bad one is still
		// reported rather than silently ignored.
		opts.InviteCode = in.Invite
	}
	// Checked once the role is known: an admin may be called "admin". A
	// display name taken from the username is checked like a chosen one.
	if err := checkDisplayName(u.DisplayName, u.Role == unhidra.RoleAdmin); err != nil {
		return nil, err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	if err := s.cfg.Store.CreateUser(ctx, u, hash, opts); err != nil {
		switch {
		case unhidra.ErrorCode(err) == unhidra.ENotFound && opts.InviteCode != "":
			return nil, unhidra.Errorf(unhidra.EPermission, "the invite is not valid, expired or used up")
		case unhidra.ErrorCode(err) == unhidra.EConflict && opts.RequireNoAdmin:
			n, cerr := s.cfg.Store.CountAdmins(ctx)
			if cerr == nil && n > 0 {
				s.clearSetupToken()
				return nil, unhidra.Errorf(unhidra.EConflict, "an admin exists already; the setup token is spent")
			}
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", in.Username)
		case unhidra.ErrorCode(err) == unhidra.EConflict:
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", in.Username)
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	if u.Role == unhidra.RoleAdmin {
		s.clearSetupToken()
		s.log.LogAttrs(ctx, slog.LevelInfo, "admin created with the setup token", slog.String("user_id", u.ID), slog.String("username", u.Username))
	}
	return u, nil
}

// CreateAdmin creates an admin account directly; it is the shell's
// equivalent of registering with the setup token (`unhidra admin
// create-admin`), for operators who have access to the server.
func (s *Service) CreateAdmin(ctx context.Context, username, plain, displayName string) (*unhidra.User, error) {
	if err := ValidateUsername(username); err != nil {
		return nil, err
	}
	if displayName = strings.TrimSpace(displayName); displayName == "" {
		displayName = username
	}
	if err := checkDisplayName(displayName, true); err != nil {
		return nil, err
	}
	if err := s.cfg.Policy.Check(username, plain); err != nil {
		return nil, err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, plain)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	u := &unhidra.User{ID: newID(), Username: username, DisplayName: displayName, Role: unhidra.RoleAdmin, CreatedAt: now, UpdatedAt: now}
	if err := s.cfg.Store.CreateUser(ctx, u, hash, CreateUserOptions{Now: now}); err != nil {
		if unhidra.ErrorCode(err) == unhidra.EConflict {
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", username)
		}
		return nil, fmt.Errorf("create admin: %w", err)
	}
	s.clearSetupToken()
	return u, nil
}

func (s *Service) checkSetupToken(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setupHash != nil && subtle.ConstantTimeCompare(h[:], s.setupHash) == 1
}

func (s *Service) clearSetupToken() {
	s.mu.Lock()
	s.setupHash = nil
	s.mu.Unlock()
}

// Registration is the server's registration mode (unhidra.Registration*).
func (s *Service) Registration() string { return s.cfg.Registration }

// NeedsSetup reports whether the server still waits for its first admin:
// the setup token of Bootstrap is live and no admin exists yet (one made
// meanwhile from the shell, `unhidra admin create-admin`, counts). Anyone
// may ask; the answer never carries the token.
func (s *Service) NeedsSetup(ctx context.Context) (bool, error) {
	s.mu.Lock()
	live := s.setupHash != nil
	s.mu.Unlock()
	if !live {
		return false, nil
	}
	n, err := s.cfg.Store.CountAdmins(ctx)
	if err != nil {
		return false, fmt.Errorf("count admins: %w", err)
	}
	return n == 0, nil
}
