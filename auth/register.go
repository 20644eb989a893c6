package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// setupTokenOverlap is how long a setup token stays usable after another
// node issues a newer one: nodes of a cluster starting together each log a
// token and every one of them works, while a node restarted later replaces
// the older tokens, as a restart of a single node always has.
const setupTokenOverlap = 15 * time.Minute

// Bootstrap prepares the first-admin setup: when no admin exists it returns a
// fresh one-time setup token (and needed = true), which the operator finds in
// the log. Only its SHA-256 hash is stored, in the database, so that any node
// accepts it; registering with it on any node makes that user the admin.
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
	now := s.now().UTC()
	if err := s.cfg.Store.AddSetupToken(ctx, h[:], now, now.Add(-setupTokenOverlap)); err != nil {
		return "", false, fmt.Errorf("store setup token: %w", err)
	}
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
	if err := s.policy().Check(in.Username, in.Password); err != nil {
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
	reg := s.Registration() // once: an admin may change it meanwhile
	switch {
	case in.SetupToken != "":
		hash, err := s.matchSetupToken(ctx, in.SetupToken)
		if err != nil {
			return nil, err
		}
		if hash == nil {
			// Someone tried to claim the server: recorded, the token never.
			s.record(ctx, &audit.Event{Action: audit.ActionAdminCreate, ActorType: audit.ActorAnonymous, Result: audit.ResultFailed,
				Reason: "bad_setup_token", IP: auditIP(audit.ClientIP(ctx)), Metadata: map[string]string{"via": "setup_token"}, Time: s.now()})
			return nil, errBadSetupToken()
		}
		u.Role = unhidra.RoleAdmin
		opts.RequireNoAdmin = true
		opts.SetupTokenHash = hash
	case s.ssoOnly():
		// Under SSO only, accounts come from the identity provider; only
		// the first admin registers with a password (and becomes
		// break-glass below, so that someone can always sign in).
		return nil, errPasswordLoginDisabled()
	case reg == unhidra.RegistrationClosed:
		return nil, unhidra.Errorf(unhidra.EPermission, "registration is closed on this server")
	case reg == unhidra.RegistrationInvite:
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
	action := audit.ActionRegister
	if u.Role == unhidra.RoleAdmin {
		action = audit.ActionAdminCreate
	}
	ev := &audit.Event{Action: action, ActorType: audit.ActorAnonymous, TargetType: "user", TargetID: u.ID,
		IP: auditIP(audit.ClientIP(ctx)), Metadata: map[string]string{"role": u.Role}, Time: s.now()}
	if opts.SetupTokenHash != nil {
		ev.Metadata["via"] = "setup_token"
	} else if opts.InviteCode != "" {
		ev.Metadata["via"] = "invite"
	}
	actx := audit.With(ctx, ev)
	if err := s.cfg.Store.CreateUser(actx, u, hash, opts); err != nil {
		switch {
		case unhidra.ErrorCode(err) == unhidra.ENotFound && opts.InviteCode != "":
			return nil, unhidra.Errorf(unhidra.EPermission, "the invite is not valid, expired or used up")
		case unhidra.ErrorCode(err) == unhidra.EConflict && opts.RequireNoAdmin:
			n, cerr := s.cfg.Store.CountAdmins(ctx)
			if cerr == nil && n > 0 {
				return nil, unhidra.Errorf(unhidra.EConflict, "an admin exists already; the setup token is spent")
			}
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", in.Username)
		case unhidra.ErrorCode(err) == unhidra.EConflict:
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", in.Username)
		case unhidra.ErrorCode(err) == unhidra.ENotFound && opts.SetupTokenHash != nil:
			// Another registration consumed it in the meantime, or a newer
			// node start replaced it.
			if n, cerr := s.cfg.Store.CountAdmins(ctx); cerr == nil && n > 0 {
				return nil, unhidra.Errorf(unhidra.EConflict, "an admin exists already; the setup token is spent")
			}
			return nil, errBadSetupToken()
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	s.recordUntaken(actx)
	if u.Role == unhidra.RoleAdmin {
		s.log.LogAttrs(ctx, slog.LevelInfo, "admin created with the setup token", slog.String("user_id", u.ID), slog.String("username", u.Username))
		if s.ssoOnly() {
			ev := breakGlassEvent(&audit.Event{Action: audit.ActionBreakGlass, ActorType: audit.ActorSystem, TargetType: "user", TargetID: u.ID, Time: s.now()}, true, "first_admin")
			if err := s.cfg.Store.SetBreakGlass(audit.With(ctx, ev), u.ID, true, now); err != nil {
				return nil, fmt.Errorf("mark the first admin break-glass: %w", err)
			}
		}
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
	if err := s.policy().Check(username, plain); err != nil {
		return nil, err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, plain)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	u := &unhidra.User{ID: newID(), Username: username, DisplayName: displayName, Role: unhidra.RoleAdmin, CreatedAt: now, UpdatedAt: now}
	actx := audit.With(ctx, &audit.Event{Action: audit.ActionAdminCreate, ActorType: audit.ActorSystem, TargetType: "user", TargetID: u.ID,
		Metadata: map[string]string{"role": u.Role, "via": "cli"}, Time: now})
	if err := s.cfg.Store.CreateUser(actx, u, hash, CreateUserOptions{Now: now}); err != nil {
		if unhidra.ErrorCode(err) == unhidra.EConflict {
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", username)
		}
		return nil, fmt.Errorf("create admin: %w", err)
	}
	s.recordUntaken(actx)
	return u, nil
}

func errBadSetupToken() error {
	return unhidra.Errorf(unhidra.EPermission, "the setup token is not valid (it is printed in the server log while no admin exists)")
}

// matchSetupToken returns the stored hash that tok hashes to, or nil. Every
// stored hash is compared, in constant time, whichever matches.
func (s *Service) matchSetupToken(ctx context.Context, tok string) ([]byte, error) {
	h := sha256.Sum256([]byte(tok))
	stored, err := s.cfg.Store.SetupTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("setup tokens: %w", err)
	}
	var match []byte
	for _, sh := range stored {
		if subtle.ConstantTimeCompare(h[:], sh) == 1 {
			match = sh
		}
	}
	return match, nil
}

// Registration is the server's registration mode (unhidra.Registration*).
func (s *Service) Registration() string {
	if s.cfg.Live != nil {
		return s.cfg.Live.Registration()
	}
	return s.cfg.Registration
}

// NeedsSetup reports whether the server still waits for its first admin:
// a setup token of Bootstrap (on any node) is live and no admin exists yet
// (one made meanwhile from the shell, `unhidra admin create-admin`,
// counts). Anyone may ask; the answer never carries the token.
func (s *Service) NeedsSetup(ctx context.Context) (bool, error) {
	live, err := s.cfg.Store.SetupTokens(ctx)
	if err != nil {
		return false, fmt.Errorf("setup tokens: %w", err)
	}
	if len(live) == 0 {
		return false, nil
	}
	n, err := s.cfg.Store.CountAdmins(ctx)
	if err != nil {
		return false, fmt.Errorf("count admins: %w", err)
	}
	return n == 0, nil
}
